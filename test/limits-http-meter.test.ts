// Tests of POST /rpc's metering in one isolate (worker/limits/http-meter.ts): one gate per IP
// group however many POSTs carry its requests, REQUEST_TIMEOUT for the wait, and the method
// table's cost (base plus size part) for each answered request.
import { describe, expect, it } from 'vitest';
import { handleMessage, type DispatchOptions, type Handler } from '../core/protocol/dispatch.ts';
import type { MethodSpec } from '../core/protocol/methods.ts';
import { HttpRequestMeter } from '../worker/limits/http-meter.ts';

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
      const meter = new HttpRequestMeter(group, 3, 10_000);
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

  it('answers -102 to a request that waits longer than REQUEST_TIMEOUT', async () => {
    const blocker = new HttpRequestMeter('192.0.2.0/24', 1, 10_000);
    const waiter = new HttpRequestMeter('192.0.2.0/24', 1, 50);
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

  it('counts each answer at its base cost plus its size part, a failure at its base', async () => {
    const meter = new HttpRequestMeter('100.64.0.0/24', 10, 10_000);
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
    // LIMITS.md: history 0.2 + n/1000, so three answers of 2,500 entries and one failure at 0.2.
    expect(meter.methodsCost).toBeCloseTo(3 * (0.2 + 2.5) + 0.2, 9);
  });
});
