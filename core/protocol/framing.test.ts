// Tests of message parsing and reply encoding against JSON-RPC 2.0 and aiorpcx's error texts.
import { describe, expect, it } from 'vitest';
import { RpcError } from './errors.ts';
import {
  encodeBatch,
  encodeError,
  encodeNotification,
  encodeResult,
  exceedsBytes,
  MAX_BATCH_ITEMS,
  parseMessage,
  responseTooLarge,
  utf8ByteLength,
  type ParsedItem,
  type ParsedMessage,
} from './framing.ts';
import { encodeJson } from './json.ts';

function single(message: ParsedMessage): ParsedItem {
  if (message.kind !== 'single') throw new Error(`expected a single request, got ${message.kind}`);
  return message.item;
}

function failure(item: ParsedItem): { id: unknown; code: number; message: string } {
  if (item.ok) throw new Error('expected a refused request');
  return { id: item.id, code: item.error.code, message: item.error.message };
}

describe('parseMessage', () => {
  it('accepts JSON-RPC 2.0, 1.0 and versionless requests, with a trailing newline or not', () => {
    for (const text of [
      '{"jsonrpc":"2.0","id":7,"method":"server.ping","params":[]}',
      '{"jsonrpc":"1.0","id":7,"method":"server.ping","params":[]}\n',
      '{"id":7,"method":"server.ping"}\n',
    ]) {
      const item = single(parseMessage(text));
      expect(item).toEqual({
        ok: true,
        request: { id: 7, isNotification: false, method: 'server.ping', params: [] },
      });
    }
  });

  it('keeps the JSON type of ids and marks a request without id as a notification', () => {
    const ids: unknown[] = [0, -3, 1.5, 'abc', '', null];
    for (const id of ids) {
      const item = single(parseMessage(JSON.stringify({ id, method: 'm', params: [] })));
      expect(item.ok && item.request.id).toBe(id);
      expect(item.ok && item.request.isNotification).toBe(false);
    }
    const notification = single(parseMessage('{"jsonrpc":"2.0","method":"m","params":[1]}'));
    expect(notification).toEqual({
      ok: true,
      request: { id: null, isNotification: true, method: 'm', params: [1] },
    });
  });

  it('passes named parameters through and reads null or absent params as none', () => {
    const named = single(parseMessage('{"id":1,"method":"m","params":{"height":5}}'));
    expect(named.ok && named.request.params).toEqual({ height: 5 });
    const nulled = single(parseMessage('{"id":1,"method":"m","params":null}'));
    expect(nulled.ok && nulled.request.params).toEqual([]);
  });

  it('refuses malformed messages as a whole', () => {
    const cases: [string, number, string][] = [
      ['{"id":1,', -32700, 'invalid JSON'],
      ['{"id":1}\n{"id":2}', -32700, 'invalid JSON'],
      ['', -32700, 'invalid JSON'],
      ['[]', -32600, 'batch is empty'],
    ];
    for (const [text, code, message] of cases) {
      const parsed = parseMessage(text);
      expect(parsed.kind).toBe('invalid');
      if (parsed.kind !== 'invalid') continue;
      expect([parsed.error.code, parsed.error.message]).toEqual([code, message]);
    }
  });

  it('refuses batches over the cap and messages over MAX_RECV', () => {
    const request = '{"id":1,"method":"server.ping"}';
    const big = parseMessage(`[${Array(MAX_BATCH_ITEMS + 1).fill(request).join(',')}]`);
    expect(big.kind === 'invalid' && big.error.code).toBe(-32600);
    expect(big.kind === 'invalid' && big.error.message).toBe(
      'batch of 1,001 requests is too large (at most 1,000)'
    );
    const fits = parseMessage(`[${Array(MAX_BATCH_ITEMS).fill(request).join(',')}]`);
    expect(fits.kind).toBe('batch');
    const padded = `{"id":1,"method":"m","params":["${'a'.repeat(100)}"]}`;
    const over = parseMessage(padded, 100);
    expect(over.kind === 'invalid' && [over.error.code, over.error.message]).toEqual([
      -32600,
      'request too large (over 100 bytes)',
    ]);
    expect(parseMessage(padded, padded.length).kind).toBe('single');
  });

  it('answers non-objects, bad ids, bad versions, methods and params per item', () => {
    const cases: [unknown, { id: unknown; code: number; message: string }][] = [
      [5, { id: null, code: -32600, message: 'request object must be a dictionary' }],
      [['x'], { id: null, code: -32600, message: 'request object must be a dictionary' }],
      [{ id: true, method: 'm' }, { id: null, code: -32600, message: 'invalid "id": true' }],
      [{ id: [1], method: 'm' }, { id: null, code: -32600, message: 'invalid "id": [1]' }],
      [{ id: { a: 1 }, method: 'm' }, { id: null, code: -32600, message: 'invalid "id": {"a":1}' }],
      [
        { jsonrpc: '3.0', id: 4, method: 'm' },
        { id: 4, code: -32600, message: 'unsupported "jsonrpc" version: 3.0' },
      ],
      [{ id: 'q', params: [] }, { id: 'q', code: -32600, message: 'request has no "method"' }],
      [{ id: 2, method: 7 }, { id: 2, code: -32601, message: 'method must be a string' }],
      [
        { id: 3, method: 'm', params: 'abc' },
        { id: 3, code: -32602, message: 'invalid request arguments: abc' },
      ],
    ];
    for (const [payload, expected] of cases) {
      const parsed = parseMessage(JSON.stringify(payload));
      const item = parsed.kind === 'batch' ? parsed.items[0] : single(parsed);
      if (item === undefined) throw new Error('no item');
      expect(failure(item)).toEqual(expected);
    }
  });

  it('parses each batch member on its own', () => {
    const parsed = parseMessage('[{"id":1,"method":"a"},7,{"method":"b"}]');
    if (parsed.kind !== 'batch') throw new Error('expected a batch');
    expect(parsed.items.map((item) => item.ok)).toEqual([true, false, true]);
    expect(parsed.items[2]?.ok && parsed.items[2].request.isNotification).toBe(true);
  });
});

describe('reply encoding', () => {
  it('writes one JSON value per frame with no trailing newline', () => {
    const reply = encodeResult(5, { a: [1, 'x'] });
    expect(reply).toBe('{"jsonrpc":"2.0","result":{"a":[1,"x"]},"id":5}');
    expect(encodeResult('s', null)).toBe('{"jsonrpc":"2.0","result":null,"id":"s"}');
    expect(encodeResult(null, true)).toBe('{"jsonrpc":"2.0","result":true,"id":null}');
    const error = encodeError(9, new RpcError(1, 'bad "x"\n'));
    expect(JSON.parse(error)).toEqual({
      jsonrpc: '2.0',
      error: { code: 1, message: 'bad "x"\n' },
      id: 9,
    });
    expect(error.endsWith('\n')).toBe(false);
  });

  it('writes balances past 2^53 exactly', () => {
    const photons = 2n ** 64n + 1n;
    expect(encodeResult(1, { confirmed: photons })).toBe(
      '{"jsonrpc":"2.0","result":{"confirmed":18446744073709551617},"id":1}'
    );
  });

  it('frames notifications and batches', () => {
    expect(encodeNotification('blockchain.headers.subscribe', [{ height: 1 }])).toBe(
      '{"jsonrpc":"2.0","method":"blockchain.headers.subscribe","params":[{"height":1}]}'
    );
    expect(encodeBatch(['{"a":1}', '{"b":2}'])).toBe('[{"a":1},{"b":2}]');
  });

  it('words the oversized-reply error as aiorpcx does', () => {
    const error = responseTooLarge(8_100_000);
    expect(error.code).toBe(-32600);
    expect(error.message).toBe('response too large (over 8,100,000 bytes');
  });
});

describe('byte lengths', () => {
  it('matches TextEncoder on mixed text, including astral characters and lone surrogates', () => {
    const encoder = new TextEncoder();
    const texts = ['', 'abc', 'é', '€', '😀', 'a😀b€é', '\ud800', 'x\udc00y', encodeJson('日本')];
    for (const text of texts) {
      expect(utf8ByteLength(text)).toBe(encoder.encode(text).length);
    }
  });

  it('decides the limit exactly at the boundary', () => {
    expect(exceedsBytes('€€', 6)).toBe(false);
    expect(exceedsBytes('€€', 5)).toBe(true);
    expect(exceedsBytes('a'.repeat(10), 10)).toBe(false);
    expect(exceedsBytes('a'.repeat(11), 10)).toBe(true);
  });
});
