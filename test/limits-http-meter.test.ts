// Tests of POST /rpc's metering in one isolate (worker/limits/http-meter.ts): one gate per IP
// group however many POSTs carry its requests, REQUEST_TIMEOUT for the wait, and the method
// table's cost (base plus size part) for each answered request.
import { describe, expect, it } from 'vitest';
import { handleMessage, type DispatchOptions, type Handler } from '../core/protocol/dispatch.ts';
import type { MethodSpec } from '../core/protocol/methods.ts';
import type { Budget } from '../worker/limits/budget.ts';
import { HttpRequestMeter, type GroupView } from '../worker/limits/http-meter.ts';

// Small numbers for the tests: soft 100, hard 200, 3 at once below the soft limit.
function budget(requestTimeoutMs = 10_000, initialConcurrent = 3): Budget {
  return {
    softLimit: 100,
    hardLimit: 200,
    bandwidthUnitBytes: 5000,
    decaySeconds: 10_000,
    initialConcurrent,
    requestSleepMs: 40,
    requestTimeoutMs,
    sessionTimeoutMs: 600_000,
    maxSessionsPerGroup: 10,
    maxSubsPerSession: 100,
  };
}

/** A group whose cost is `start` plus what its meters spend (no Limiter, no decay). */
function groupAt(
  start: number,
  requestTimeoutMs?: number,
  initialConcurrent?: number
): GroupView & { spent: number } {
  const view = {
    budget: budget(requestTimeoutMs, initialConcurrent),
    spent: 0,
    cost: () => start + view.spent,
    spend: (units: number) => {
      view.spent += units;
    },
  };
  return view;
}

const SPECS: MethodSpec[] = [
  { name: 'slow', params: [], required: 0, cost: 0.5 },
  { name: 'blockchain.scripthash.get_history', params: ['h'], required: 1, cost: 0.2 },
];

function setup(handlers: Record<string, Handler<null>>): DispatchOptions<null> {
  return {
    methods: new Map(SPECS.map((spec) => [spec.name, spec])),
    handlers,
    context: null,
    protocolVersion: () => '1.4',
    onInternalError: () => {},
  };
}

function batchText(method: string, count: number, params: unknown[] = []): string {
  return JSON.stringify(Array.from({ length: count }, (_, id) => ({ id, method, params })));
}

describe('POST /rpc metering', () => {
  it('runs a group at most its concurrency at once across POSTs, other groups apart', async () => {
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    const slowFor = (group: string): Handler<null> => async () => {
      running.set(group, (running.get(group) ?? 0) + 1);
      most.set(group, Math.max(most.get(group) ?? 0, running.get(group) ?? 0));
      await new Promise((resolve) => setTimeout(resolve, 3));
      running.set(group, (running.get(group) ?? 0) - 1);
      return 'ok';
    };
    const post = (group: string) => {
      const meter = new HttpRequestMeter(group, groupAt(0));
      return handleMessage(batchText('slow', 12), meter.options(setup({ slow: slowFor(group) })));
    };
    // Five POSTs of 12 items from one group (dispatch alone would run 5 x 10 at once), one other.
    const outcomes = await Promise.all([1, 2, 3, 4, 5].map(() => post('198.51.100.0/24')));
    await post('203.0.113.0/24');
    expect(most.get('198.51.100.0/24')).toBe(3);
    expect(most.get('203.0.113.0/24')).toBe(3);
    for (const outcome of outcomes) {
      const replies = JSON.parse(outcome.reply ?? '[]') as { result?: unknown }[];
      expect(replies.map((reply) => reply.result)).toEqual(Array(12).fill('ok'));
    }
  });

  it('answers -101 to every request once the group reaches the hard limit mid-POST', async () => {
    const meter = new HttpRequestMeter('198.18.0.0/24', groupAt(0, 10_000, 1));
    // One request at a time, each costing 60.5: the fourth starts at 181.5 of hard 200 and
    // runs; from the fifth (242) on, every request is refused without running.
    let ran = 0;
    const options = setup({
      slow: () => {
        ran += 1;
        return 'ok';
      },
    });
    const spec: MethodSpec = { name: 'slow', params: [], required: 0, cost: 60.5 };
    const priced = { ...options, methods: new Map([['slow', spec]]) };
    const outcome = await handleMessage(batchText('slow', 12), meter.options(priced));
    const replies = JSON.parse(outcome.reply ?? '[]') as { result?: unknown; error?: unknown }[];
    const cutOff = { code: -101, message: 'excessive resource usage' };
    expect(replies.slice(0, 4).map((reply) => reply.result)).toEqual(Array(4).fill('ok'));
    for (const reply of replies.slice(4)) expect(reply.error).toEqual(cutOff);
    expect(ran).toBe(4);
  });

  it('stops a POST of failing requests at the hard limit as it runs', async () => {
    // Each failure costs 0.5 + 100: from cost 0 the second failure takes the group to 201 of
    // hard 200, so the third and later requests get -101 without running.
    let ran = 0;
    const options = setup({
      slow: () => {
        ran += 1;
        throw new Error('fails after reading a lot');
      },
    });
    const meter = new HttpRequestMeter('198.18.1.0/24', groupAt(0, 10_000, 1));
    const outcome = await handleMessage(batchText('slow', 10), meter.options(options));
    const replies = JSON.parse(outcome.reply ?? '[]') as { error?: { code: number } }[];
    expect(replies.map((reply) => reply.error?.code)).toEqual([
      -32603,
      -32603,
      ...Array(8).fill(-101),
    ]);
    expect(ran).toBe(2);
  });

  it('stops a POST of unknown methods and bad items at the hard limit as it runs', async () => {
    // No handler runs for these, yet each error reply costs 100 as it is made: the second takes
    // the group to 200 of hard 200, so the rest get -101 and add nothing (a 1,000-item batch of
    // them once cost 100,000 units, locking its /24 out for a day).
    const group = groupAt(0);
    const meter = new HttpRequestMeter('198.18.9.0/24', group);
    const items = Array.from({ length: 1000 }, (_, id) => {
      return id % 2 === 0 ? { id, method: 'no.such' } : { id, params: [] };
    });
    const outcome = await handleMessage(JSON.stringify(items), meter.options(setup({})));
    const replies = JSON.parse(outcome.reply ?? '[]') as { error?: { code: number } }[];
    expect(replies.map((reply) => reply.error?.code)).toEqual([
      -32601,
      -32600,
      ...Array(998).fill(-101),
    ]);
    expect(group.spent).toBe(200);
    expect(meter.errorsCharged).toBe(2);
  });

  it('answers -102 to a request that waits longer than REQUEST_TIMEOUT', async () => {
    // Cost 180 of soft 100 / hard 200: ceil(0.2 x 3) = one request at a time.
    const blocker = new HttpRequestMeter('192.0.2.0/24', groupAt(180));
    const waiter = new HttpRequestMeter('192.0.2.0/24', groupAt(180, 50));
    let finish = (): void => {};
    const held = new Promise<void>((resolve) => (finish = resolve));
    const slow: Handler<null> = async () => {
      await held;
      return 'done';
    };
    const first = handleMessage(batchText('slow', 1), blocker.options(setup({ slow })));
    const second = await handleMessage(batchText('slow', 1), waiter.options(setup({ slow })));
    finish();
    expect(JSON.parse(second.reply ?? '[]')).toEqual([
      { jsonrpc: '2.0', error: { code: -102, message: 'server busy - request timed out' }, id: 0 },
    ]);
    expect(JSON.parse((await first).reply ?? '[]')).toEqual([
      { jsonrpc: '2.0', result: 'done', id: 0 },
    ]);
  });

  it('answers -102 to a request whose handler runs longer than REQUEST_TIMEOUT', async () => {
    // Below the soft limit nothing waits: the handler itself is slow (an index that stalls).
    const group = groupAt(0, 50);
    const meter = new HttpRequestMeter('192.0.3.0/24', group);
    let finish = (): void => {};
    const held = new Promise<void>((resolve) => (finish = resolve));
    const stalled: Handler<null> = async () => {
      await held;
      return 'too late';
    };
    const started = performance.now();
    const options = meter.options(setup({ slow: stalled }));
    const outcome = await handleMessage(batchText('slow', 1), options);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(JSON.parse(outcome.reply ?? '[]')).toEqual([
      { jsonrpc: '2.0', error: { code: -102, message: 'server busy - request timed out' }, id: 0 },
    ]);
    // Its base cost only: -102 is the server's queue giving up, not the client's error.
    expect(group.spent).toBeCloseTo(0.5, 9);
    expect(meter.errorsCharged).toBe(0);
    finish();
  });

  it('counts each answer at base plus size, a failure at base plus an error reply', async () => {
    const group = groupAt(0);
    const meter = new HttpRequestMeter('100.64.0.0/24', group);
    const history = Array.from({ length: 2500 }, () => ({ tx_hash: '00'.repeat(32), height: 1 }));
    let calls = 0;
    const options = setup({
      'blockchain.scripthash.get_history': () => {
        calls += 1;
        if (calls === 4) throw new Error('index down');
        return history;
      },
    });
    const batch = batchText('blockchain.scripthash.get_history', 4, ['x']);
    await handleMessage(batch, meter.options(options));
    // LIMITS.md: history 0.2 + n/1000, so three answers of 2,500 entries; the failure costs its
    // base and an error reply's 100, counted as it happens.
    expect(meter.methodsCost).toBeCloseTo(3 * (0.2 + 2.5) + 0.2 + 100, 9);
    expect(meter.errorsCharged).toBe(1);
    expect(group.spent).toBeCloseTo(meter.methodsCost, 9);
  });
});
