// Tests of dispatch: arity, unknown methods, notifications, batches, MAX_SEND, internal errors.
import { describe, expect, it } from 'vitest';
import {
  BATCH_CONCURRENCY,
  checkArity,
  handleMessage,
  type DispatchOptions,
  type Handler,
} from './dispatch.ts';
import { BAD_REQUEST, RpcError } from './errors.ts';
import type { RpcRequest } from './framing.ts';
import { METHODS, methodsForChain, type MethodSpec } from './methods.ts';
import { negotiateVersion, versionInRange } from './version.ts';

interface FakeContext {
  version: string;
  calls: string[];
  /** Handlers of 'slow' and 'fill' running now, the most seen at once, and the rooms seen. */
  running: number;
  mostRunning: number;
  rooms: number[];
}

const SPECS: MethodSpec[] = [
  { name: 'echo', params: ['a', 'b'], required: 1, cost: 1 },
  { name: 'none', params: [], required: 0, cost: 1 },
  { name: 'boom', params: [], required: 0, cost: 1 },
  { name: 'refuse', params: [], required: 0, cost: 1 },
  { name: 'big', params: ['bytes'], required: 1, cost: 1 },
  { name: 'late', params: [], required: 0, since: '1.5', cost: 1 },
  { name: 'gone', params: [], required: 0, until: '1.4.1', cost: 1 },
  { name: 'stateful', params: [], required: 0, stateful: true, cost: 1 },
  { name: 'version', params: ['name', 'v'], required: 0, ignoresExtraParams: true, cost: 1 },
  { name: 'bye', params: [], required: 0, cost: 1 },
  { name: 'nohandler', params: [], required: 0, cost: 1 },
  { name: 'slow', params: [], required: 0, cost: 1 },
  { name: 'fill', params: ['bytes'], required: 1, cost: 1 },
];

const HANDLERS: Record<string, Handler<FakeContext>> = {
  echo: (context, args) => {
    context.calls.push('echo');
    return args;
  },
  none: () => null,
  boom: async () => {
    throw new Error('db password hunter2 leaked');
  },
  refuse: () => {
    throw new RpcError(BAD_REQUEST, 'nope');
  },
  big: (_context, args) => 'x'.repeat(Number(args[0])),
  late: () => 'late',
  gone: () => 'gone',
  stateful: () => 'stateful',
  version: (context, args) => {
    context.version = negotiateVersion(args[1]);
    return ['test 1.0', context.version];
  },
  bye: () => {
    throw new RpcError(BAD_REQUEST, 'go away', { disconnect: true });
  },
  slow: async (context) => {
    context.running += 1;
    context.mostRunning = Math.max(context.mostRunning, context.running);
    await new Promise((resolve) => setTimeout(resolve, 2));
    context.running -= 1;
    return 'slow';
  },
  fill: async (context, args, room) => {
    context.rooms.push(room.bytes());
    await new Promise((resolve) => setTimeout(resolve, 1));
    return 'x'.repeat(Number(args[0]));
  },
};

function setup(overrides: Partial<DispatchOptions<FakeContext>> = {}) {
  const context: FakeContext = { version: '1.4', calls: [], running: 0, mostRunning: 0, rooms: [] };
  const internal: { error: unknown; request: RpcRequest }[] = [];
  const options: DispatchOptions<FakeContext> = {
    methods: new Map(SPECS.map((spec) => [spec.name, spec])),
    handlers: HANDLERS,
    context,
    protocolVersion: () => context.version,
    onInternalError: (error, request) => internal.push({ error, request }),
    ...overrides,
  };
  const send = async (message: unknown) => {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    const outcome = await handleMessage(text, options);
    const json = outcome.reply === null ? null : (JSON.parse(outcome.reply) as unknown);
    return { ...outcome, json };
  };
  return { context, internal, send };
}

function errorOf(code: number, message: string, id: unknown) {
  return { jsonrpc: '2.0', error: { code, message }, id };
}

describe('single requests', () => {
  it('returns the result under the same id', async () => {
    const { send } = setup();
    const echoed = await send({ jsonrpc: '2.0', id: 'x', method: 'echo', params: [1, 'b'] });
    expect(echoed.json).toEqual({
      jsonrpc: '2.0',
      result: [1, 'b'],
      id: 'x',
    });
    expect((await send({ id: null, method: 'none', params: [] })).json).toEqual({
      jsonrpc: '2.0',
      result: null,
      id: null,
    });
  });

  it('answers arity mistakes with aiorpcx wording', async () => {
    const { send } = setup();
    expect((await send({ id: 1, method: 'echo', params: [] })).json).toEqual(
      errorOf(-32602, '0 arguments passed to method "echo" but it requires 1', 1)
    );
    expect((await send({ id: 2, method: 'echo', params: [1, 2, 3] })).json).toEqual(
      errorOf(-32602, '3 arguments passed to method echo taking at most 2', 2)
    );
    expect((await send({ id: 3, method: 'none', params: [1] })).json).toEqual(
      errorOf(-32602, '1 argument passed to method none taking at most 0', 3)
    );
  });

  it('maps named parameters and names the missing or unknown ones', async () => {
    const { send } = setup();
    expect((await send({ id: 1, method: 'echo', params: { b: 2, a: 1 } })).json).toMatchObject({
      result: [1, 2],
    });
    expect((await send({ id: 1, method: 'echo', params: { a: 1 } })).json).toMatchObject({
      result: [1],
    });
    expect((await send({ id: 2, method: 'echo', params: { b: 2 } })).json).toEqual(
      errorOf(-32602, 'method "echo" requires parameter "a"', 2)
    );
    expect((await send({ id: 3, method: 'echo', params: { a: 1, z: 0, y: 0 } })).json).toEqual(
      errorOf(-32602, 'method "echo" does not take parameters "y", "z"', 3)
    );
  });

  it('refuses unknown methods, methods without handler, methods of other versions', async () => {
    const { send, context } = setup();
    for (const method of ['nosuch', 'nohandler', 'late', 'constructor', '__proto__']) {
      expect((await send({ id: 1, method, params: [] })).json).toEqual(
        errorOf(-32601, `unknown method "${method}"`, 1)
      );
    }
    expect((await send({ id: 1, method: 'gone' })).json).toMatchObject({ result: 'gone' });
    context.version = '1.4.2';
    expect((await send({ id: 1, method: 'gone' })).json).toEqual(
      errorOf(-32601, 'unknown method "gone"', 1)
    );
  });

  it('turns unexpected exceptions into -32603 without detail and reports them', async () => {
    const { send, internal } = setup();
    const { reply, json } = await send({ id: 4, method: 'boom' });
    expect(json).toEqual(errorOf(-32603, 'internal server error', 4));
    expect(reply).not.toContain('hunter2');
    expect(internal).toHaveLength(1);
    expect(String(internal[0]?.error)).toContain('hunter2');
    expect(internal[0]?.request.method).toBe('boom');
  });

  it('passes RpcErrors through, and asks to disconnect when the error says so', async () => {
    const { send } = setup();
    const refused = await send({ id: 5, method: 'refuse' });
    expect(refused.json).toEqual(errorOf(1, 'nope', 5));
    expect(refused.disconnect).toBe(false);
    const bye = await send({ id: 6, method: 'bye' });
    expect(bye.json).toEqual(errorOf(1, 'go away', 6));
    expect(bye.disconnect).toBe(true);
  });

  it('lets the host refuse a method before it runs', async () => {
    const { send } = setup({
      admit: (spec) => {
        return spec.stateful === true ? new RpcError(BAD_REQUEST, 'needs a session') : null;
      },
    });
    expect((await send({ id: 1, method: 'stateful' })).json).toEqual(
      errorOf(1, 'needs a session', 1)
    );
    expect((await send({ id: 1, method: 'none' })).json).toMatchObject({ result: null });
  });

  it('neither answers nor runs notifications', async () => {
    const { send, context } = setup();
    const outcome = await send({ jsonrpc: '2.0', method: 'echo', params: [1] });
    expect(outcome.reply).toBeNull();
    expect(context.calls).toEqual([]);
  });

  it('replaces a reply over MAX_SEND with "response too large"', async () => {
    const { send } = setup({ maxSendBytes: 200 });
    expect((await send({ id: 1, method: 'big', params: [100] })).json).toMatchObject({
      result: 'x'.repeat(100),
    });
    expect((await send({ id: 1, method: 'big', params: [200] })).json).toEqual(
      errorOf(-32600, 'response too large (over 200 bytes', 1)
    );
  });

  it('answers whole-message errors with id null and keeps going', async () => {
    const { send } = setup();
    expect((await send('{"id":1')).json).toEqual(errorOf(-32700, 'invalid JSON', null));
    expect((await send('[]')).json).toEqual(errorOf(-32600, 'batch is empty', null));
    expect((await send({ id: 1, method: 'none' })).json).toMatchObject({ result: null });
  });

  it('lets server.version change the version later requests see', async () => {
    const refused = await setup().send([
      { id: 1, method: 'version', params: ['c', '1.7', 'extra'] },
      { id: 2, method: 'late' },
    ]);
    expect(refused.json).toEqual([
      errorOf(1, 'unsupported protocol version: 1.7', 1),
      errorOf(-32601, 'unknown method "late"', 2),
    ]);
    expect(refused.disconnect).toBe(true);
    // 'late' exists from 1.5 on: after negotiating 1.5 the rest of the batch sees it.
    const accepted = await setup().send([
      { id: 1, method: 'version', params: ['c', '1.5'] },
      { id: 2, method: 'late' },
    ]);
    expect(accepted.json).toEqual([
      { jsonrpc: '2.0', result: ['test 1.0', '1.5'], id: 1 },
      { jsonrpc: '2.0', result: 'late', id: 2 },
    ]);
  });

  it('tells the host of every request first, known or not, but not of notifications', async () => {
    const seen: string[] = [];
    const { send } = setup({ onRequest: (request) => seen.push(request.method) });
    await send([
      { id: 1, method: 'none' },
      { id: 2, method: 'nosuch' },
      { method: 'none' },
      { id: 3, method: 'echo', params: [] },
    ]);
    expect(seen).toEqual(['none', 'nosuch', 'echo']);
  });
});

describe('batches', () => {
  it('answers members in request order with per-item errors, skipping notifications', async () => {
    const { send } = setup();
    const outcome = await send([
      { id: 'a', method: 'echo', params: [1] },
      { method: 'echo', params: [2] },
      7,
      { id: 'b', method: 'nosuch' },
      { id: 'c', method: 'boom' },
      { id: 'd', method: 'none' },
    ]);
    expect(outcome.json).toEqual([
      { jsonrpc: '2.0', result: [1], id: 'a' },
      errorOf(-32600, 'request object must be a dictionary', null),
      errorOf(-32601, 'unknown method "nosuch"', 'b'),
      errorOf(-32603, 'internal server error', 'c'),
      { jsonrpc: '2.0', result: null, id: 'd' },
    ]);
    expect(outcome.reply?.endsWith('\n')).toBe(false);
  });

  it('sends nothing for a batch of notifications', async () => {
    const { send } = setup();
    expect((await send([{ method: 'none' }, { method: 'echo', params: [1] }])).reply).toBeNull();
  });

  it('keeps the whole batch frame under MAX_SEND', async () => {
    const { send } = setup({ maxSendBytes: 300 });
    const outcome = await send([
      { id: 1, method: 'big', params: [100] },
      { id: 2, method: 'big', params: [150] },
      { id: 3, method: 'none' },
    ]);
    expect(outcome.json).toEqual([
      { jsonrpc: '2.0', result: 'x'.repeat(100), id: 1 },
      errorOf(-32600, 'response too large (over 300 bytes', 2),
      { jsonrpc: '2.0', result: null, id: 3 },
    ]);
    expect(outcome.reply?.length).toBeLessThanOrEqual(300);
  });

  it('runs at most BATCH_CONCURRENCY items at once, and answers all in order', async () => {
    const { context, send } = setup();
    const batch = Array.from({ length: 35 }, (_, id) => ({ id, method: 'slow' }));
    const outcome = await send(batch);
    expect(context.mostRunning).toBe(BATCH_CONCURRENCY);
    expect(outcome.json).toEqual(batch.map(({ id }) => ({ jsonrpc: '2.0', result: 'slow', id })));
  });

  it('does not run items reached once the frame is full, and tells each the room', async () => {
    const { context, send } = setup({ maxSendBytes: 1000 });
    const batch = Array.from({ length: 40 }, (_, id) => ({ id, method: 'fill', params: [300] }));
    const outcome = await send(batch);
    // The first BATCH_CONCURRENCY start together, the frame still empty (its "[" taken). Each
    // one that finishes frees a runner: the next item sees the room its reply (and comma) left.
    // The third reply does not fit and is replaced by an error as it finishes, so the room
    // shrinks by the error's size from then on, until no reply fits; the 26 items after that
    // never run.
    const replyBytes = JSON.stringify({ jsonrpc: '2.0', result: 'x'.repeat(300), id: 0 }).length;
    const together = Array.from({ length: BATCH_CONCURRENCY }, () => 999);
    const step = replyBytes + 1;
    const full = errorOf(-32600, 'response too large (over 1,000 bytes', null);
    const errorStep = JSON.stringify({ ...full, id: 2 }).length + 1;
    const afterTwo = 999 - 2 * step;
    expect(context.rooms).toEqual([
      ...together,
      999 - step,
      afterTwo,
      afterTwo - errorStep,
      afterTwo - 2 * errorStep,
    ]);
    expect(afterTwo - 3 * errorStep).toBeLessThan(32);
    // Forty error replies alone cannot fit in 1,000 bytes: the batch gets one error instead.
    expect(outcome.json).toEqual(full);
  });

  it('keeps the replies that fit and replaces the others, the frame under MAX_SEND', async () => {
    const { send } = setup({ maxSendBytes: 1000 });
    const batch = Array.from({ length: 5 }, (_, id) => ({ id, method: 'fill', params: [300] }));
    const outcome = await send(batch);
    const full = errorOf(-32600, 'response too large (over 1,000 bytes', null);
    // Two 337-byte replies fit; the other three finish after them and are replaced.
    const expected = batch.map(({ id }) => {
      return id < 2 ? { jsonrpc: '2.0', result: 'x'.repeat(300), id } : { ...full, id };
    });
    expect(outcome.json).toEqual(expected);
    expect(outcome.reply?.length).toBeLessThanOrEqual(1000);
  });

  it('shows each running item the room the others claimed, and gives it back', async () => {
    const seen: { claimed: boolean; roomAfter: number }[] = [];
    const claiming: Handler<FakeContext> = async (_context, args, room) => {
      const claimed = room.claim(Number(args[0]));
      seen.push({ claimed, roomAfter: room.bytes() });
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (!claimed) throw new RpcError(-32600, 'no room');
      return 'x'.repeat(Number(args[1]));
    };
    const { send } = setup({
      maxSendBytes: 1000,
      methods: new Map([
        ...SPECS.map((spec): [string, MethodSpec] => [spec.name, spec]),
        ['claiming', { name: 'claiming', params: ['a', 'b'], required: 2, cost: 1 }],
      ]),
      handlers: { ...HANDLERS, claiming },
    });
    const outcome = await send([
      { id: 1, method: 'claiming', params: [700, 100] },
      { id: 2, method: 'claiming', params: [400, 100] },
      { id: 3, method: 'claiming', params: [250, 100] },
    ]);
    // 999 bytes after the "[": the first claims 700; the second's 400 does not fit in the 299
    // left beside it; the third's 250 does. All three run at once, and an item's own claim is
    // part of its room, not taken from it.
    expect(seen).toEqual([
      { claimed: true, roomAfter: 999 },
      { claimed: false, roomAfter: 299 },
      { claimed: true, roomAfter: 299 },
    ]);
    const replies = outcome.json as { result?: string; error?: { message: string } }[];
    expect(replies.map((reply) => reply.result?.length ?? reply.error?.message)).toEqual([
      100,
      'no room',
      100,
    ]);
    // Claims end with their items: a later request has the whole frame again.
    const after = await send([{ id: 4, method: 'claiming', params: [999, 10] }]);
    expect((after.json as { result?: string }[])[0]?.result).toBe('x'.repeat(10));
  });

  it('answers id null when a single error echoing its id would pass MAX_SEND', async () => {
    const { send } = setup({ maxSendBytes: 1000, maxRecvBytes: 5000 });
    const outcome = await send({ id: 'i'.repeat(2000), method: 'fill', params: [2000] });
    expect(outcome.json).toEqual(errorOf(-32600, 'response too large (over 1,000 bytes', null));
  });

  it('answers one error when error replies echoing long ids would pass MAX_SEND', async () => {
    const { send } = setup({ maxSendBytes: 2000 });
    const longId = 'i'.repeat(1500);
    const outcome = await send([
      { id: 1, method: 'fill', params: [1000] },
      { id: longId, method: 'fill', params: [1000] },
    ]);
    // The second reply cannot fit; its error, which repeats the 1,500-character id, cannot
    // either.
    expect(outcome.json).toEqual(errorOf(-32600, 'response too large (over 2,000 bytes', null));
  });

  it('tells onDispatchError of errors no handler threw, and sends what it returns', async () => {
    const told: number[] = [];
    const stop = new RpcError(-101, 'excessive resource usage', { disconnect: true });
    const { send } = setup({
      onDispatchError: (error) => {
        told.push(error.code);
        return told.length >= 3 ? stop : error;
      },
    });
    const outcome = await send([
      { id: 1, method: 'nosuch' },
      { id: 2, method: 'echo' },
      { id: 3, method: 'none', params: [1, 2, 3] },
      { id: 4 },
      { id: 5, method: 'bye' },
    ]);
    // Unknown method, too few arguments, too many, an item without a method: told in turn
    // (items start in order; none of these waits). The handler's own error (bye) is not told.
    expect(told).toEqual([-32601, -32602, -32602, -32600]);
    expect(outcome.json).toEqual([
      errorOf(-32601, 'unknown method "nosuch"', 1),
      errorOf(-32602, '0 arguments passed to method "echo" but it requires 1', 2),
      errorOf(-101, 'excessive resource usage', 3),
      errorOf(-101, 'excessive resource usage', 4),
      errorOf(1, 'go away', 5),
    ]);
    expect(outcome.disconnect).toBe(true);
  });
});

describe('ids beyond what a double holds', () => {
  it('echoes a number id exactly as written, alone or in a batch, wherever it is', async () => {
    const { send } = setup();
    const alone = await send('{"id": 12345678901234567891, "method": "echo", "params": [1]}');
    expect(alone.reply).toBe('{"jsonrpc":"2.0","result":[1],"id":12345678901234567891}');
    // "id" keys inside params, strings holding brackets and quotes, an escaped key, duplicates
    // (the last counts, as in JSON.parse), a member that is not an object, a notification.
    const batch = [
      '{"method":"echo","params":[{"id":1},"]}\\\"{"],"id":18446744073709551615}',
      '{"id":1,"method":"echo","params":[2]}',
      '7',
      '{"method":"echo","params":[3]}',
      '{"id":5,"params":{"a":[[{"id":[]}]]},"\u0069d":-9007199254740993,"method":"nosuch"}',
      '{"id":1.5,"method":"none"}',
      '{"id":1e400,"method":"none"}',
    ];
    const outcome = await send(`[ ${batch.join(' , ')} ]`);
    expect(outcome.reply).toBe(
      '[' +
        [
          '{"jsonrpc":"2.0","result":[{"id":1},"]}\\\"{"],"id":18446744073709551615}',
          '{"jsonrpc":"2.0","result":[2],"id":1}',
          '{"jsonrpc":"2.0","error":{"code":-32600,' +
            '"message":"request object must be a dictionary"},"id":null}',
          '{"jsonrpc":"2.0","error":{"code":-32601,"message":"unknown method \\"nosuch\\""},' +
            '"id":-9007199254740993}',
          '{"jsonrpc":"2.0","result":null,"id":1.5}',
          '{"jsonrpc":"2.0","result":null,"id":1e400}',
        ].join(',') +
        ']'
    );
  });
});

describe('checkArity with the real method table', () => {
  it('tolerates extra server.version arguments and enforces the rest', () => {
    const version = METHODS.get('server.version');
    const header = METHODS.get('blockchain.block.header');
    if (version === undefined || header === undefined) throw new Error('table lacks methods');
    expect(checkArity(version, ['wallet', '1.4', 'future'])).toEqual(['wallet', '1.4']);
    expect(checkArity(header, [5])).toEqual([5]);
    expect(() => checkArity(header, [])).toThrow(
      '0 arguments passed to method "blockchain.block.header" but it requires 1'
    );
  });

  it('marks the subscription methods stateful and nothing else', () => {
    const specs = [...METHODS.values()];
    const stateful = specs.filter((spec) => spec.stateful === true).map((spec) => spec.name);
    expect(stateful.sort()).toEqual([
      'blockchain.headers.subscribe',
      'blockchain.scripthash.subscribe',
      'blockchain.scripthash.unsubscribe',
    ]);
  });

  it('offers Radiant-only methods on Radiant and version-bound ones in their versions', () => {
    expect(methodsForChain(true).has('blockchain.ref.get')).toBe(true);
    expect(methodsForChain(false).has('blockchain.ref.get')).toBe(false);
    expect(methodsForChain(false).has('blockchain.transaction.broadcast')).toBe(true);
    // protocol-changes.rst, version 1.6: relayfee removed, mempool.get_info added.
    const relayfee = METHODS.get('blockchain.relayfee');
    const info = METHODS.get('mempool.get_info');
    if (relayfee === undefined || info === undefined) throw new Error('table lacks methods');
    expect(versionInRange('1.5', relayfee.since, relayfee.until)).toBe(true);
    expect(versionInRange('1.6', relayfee.since, relayfee.until)).toBe(false);
    expect(versionInRange('1.4.2', info.since, info.until)).toBe(false);
    expect(versionInRange('1.6', info.since, info.until)).toBe(true);
  });
});
