// End to end under wrangler dev: the per-IP cost budget of issue 5. A client spamming a long
// history is slowed as the model says and cut off at the hard limit; sessions of one /24 share a
// budget that reconnecting does not reset and that decays as predicted; malformed JSON costs
// more; POST /rpc draws on the same budget. Expected costs are computed here from issue 5's
// model (history 0.2 + n/1000, bytes / BANDWIDTH_UNIT_COST, 100 per error, 1,000 more for
// unparsable JSON) and the frames' sizes as the client saw them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminFetch,
  errorOf,
  LimitsClient,
  startLimitsStack,
  UpgradeRefused,
  type LimitsStack,
} from './limits-stack.ts';

const SOFT = 100;
const HARD = 400;
const SLEEP_MS = 2000;
const BANDWIDTH_UNIT = 5000;
// A full hard-limit budget drains in 100 s: 4 units per second without subscriptions.
const DECAY_SECONDS = 100;
const DECAY_PER_SEC = HARD / DECAY_SECONDS;
const HISTORY = 2000;
const HISTORY_METHOD = 'blockchain.scripthash.get_history';

let stack: LimitsStack;

beforeAll(async () => {
  stack = await startLimitsStack(
    {
      EXEMPT_PRIVATE: 'false',
      COST_SOFT_LIMIT: String(SOFT),
      COST_HARD_LIMIT: String(HARD),
      REQUEST_SLEEP: String(SLEEP_MS),
      COST_DECAY_SECONDS: String(DECAY_SECONDS),
      BANDWIDTH_UNIT_COST: String(BANDWIDTH_UNIT),
    },
    HISTORY
  );
}, 150_000);

afterAll(async () => {
  await stack?.stop();
});

/** The client's own running model of its group's cost. */
class CostModel {
  cost = 0;
  atMs = performance.now();

  now(): number {
    const elapsedSec = (performance.now() - this.atMs) / 1000;
    return Math.max(0, this.cost - elapsedSec * DECAY_PER_SEC);
  }

  add(units: number): void {
    this.cost = this.now() + units;
    this.atMs = performance.now();
  }

  expectedSleepMs(costBefore: number): number {
    return SLEEP_MS * Math.min(1, Math.max(0, (costBefore - SOFT) / (HARD - SOFT)));
  }
}

function percentile(values: readonly number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
}

async function groupCost(ip: string): Promise<number> {
  const { json } = await adminFetch(stack, 'GET', `/admin/limits/groups?ip=${ip}`);
  return Number(json.cost);
}

describe('a client spamming get_history on a long history', () => {
  it('is slowed as the model says past the soft limit and cut off at the hard limit', async () => {
    const spammer = await LimitsClient.open(stack.wsUrl, '203.0.113.10');
    const model = new CostModel();
    const rows: { expectedMs: number; ms: number }[] = [];
    const unthrottledMs: number[] = [];
    let cutOff = false;
    for (let request = 0; request < 40 && !cutOff; request++) {
      const params = [stack.index.bigScriptHash];
      const text = JSON.stringify({ id: request, method: HISTORY_METHOD, params });
      model.add(Buffer.byteLength(text) / BANDWIDTH_UNIT);
      const costBefore = model.now();
      const exchange = await spammer.exchange(text);
      expect(exchange).not.toBeNull();
      if (exchange === null) break;
      const error = errorOf(exchange);
      if (error !== undefined) {
        expect(error).toEqual({ code: -101, message: 'excessive resource usage' });
        expect(costBefore).toBeGreaterThanOrEqual(HARD - 15);
        cutOff = true;
        break;
      }
      expect(Array.isArray((exchange.reply as { result?: unknown }).result)).toBe(true);
      model.add(0.2 + HISTORY / 1000 + exchange.bytesOut / BANDWIDTH_UNIT);
      const expectedMs = model.expectedSleepMs(costBefore);
      if (expectedMs === 0) unthrottledMs.push(exchange.ms);
      else rows.push({ expectedMs, ms: exchange.ms });
    }
    expect(cutOff).toBe(true);
    expect(await spammer.closed).toMatchObject({ code: 1008 });
    // The delay followed REQUEST_SLEEP x (cost - soft) / (hard - soft) request by request.
    // The time a request takes without throttling, on this (shared, noisy) machine.
    const baselineMs = percentile(unthrottledMs, 0.5);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const row of rows) {
      const offMs = Math.abs(row.ms - baselineMs - row.expectedMs);
      const note = JSON.stringify({ ...row, baselineMs });
      expect(offMs, note).toBeLessThan(120 + row.expectedMs * 0.1);
    }
    expect(rows.at(-1)?.expectedMs ?? 0).toBeGreaterThan(rows[0]?.expectedMs ?? 0);
    const ofGroup = (event: Record<string, unknown>) => event.group === '203.0.113.0/24';
    const cutLines = stack.events('limits_session_cut_off').filter(ofGroup);
    expect(cutLines).toHaveLength(1);
    expect(Number(cutLines[0]?.cost)).toBeGreaterThanOrEqual(HARD);
    const throttled = stack.events('limits_group_throttled').filter(ofGroup);
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    expect(throttled[0]).toMatchObject({ sessions: 1 });
  }, 90_000);

  it('leaves a client in another /24 as fast as before', async () => {
    const victim = await LimitsClient.open(stack.wsUrl, '198.51.100.20');
    const samples: { phase: 'baseline' | 'during'; ms: number }[] = [];
    let phase: 'baseline' | 'during' = 'baseline';
    let measuring = true;
    const measuring$ = (async () => {
      for (let i = 0; i < 400 && measuring; i++) {
        const exchange = await victim.call(HISTORY_METHOD, [stack.index.smallScriptHash]);
        expect(errorOf(exchange)).toBeUndefined();
        samples.push({ phase, ms: exchange?.ms ?? Number.POSITIVE_INFINITY });
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    phase = 'during';
    const spammer = await LimitsClient.open(stack.wsUrl, '203.0.114.10');
    let cut = false;
    for (let i = 0; i < 60 && !cut; i++) {
      const exchange = await spammer.call(HISTORY_METHOD, [stack.index.bigScriptHash]);
      cut = exchange === null || errorOf(exchange)?.code === -101;
    }
    measuring = false;
    await measuring$;
    victim.close();
    expect(cut).toBe(true);
    const of = (wanted: string) => samples.filter((s) => s.phase === wanted).map((s) => s.ms);
    const [before, during] = [of('baseline'), of('during')];
    expect(during.length).toBeGreaterThan(40);
    // bench:abuse reports the p99 against 120% of the baseline; on a shared 2-core machine
    // a run of this length gives a stable p90 only, so the test holds the p90 to 120% + 10 ms.
    const [p90Before, p90During] = [percentile(before, 0.9), percentile(during, 0.9)];
    const note = `p90 before ${p90Before.toFixed(1)} ms, during ${p90During.toFixed(1)} ms`;
    expect(p90During, note).toBeLessThan(p90Before * 1.2 + 10);
  }, 90_000);
});

describe('one budget per /24', () => {
  it('is shared by five sessions, survives reconnecting, and decays as predicted', async () => {
    const clients = await Promise.all(
      [1, 2, 3, 4, 5].map((host) => LimitsClient.open(stack.wsUrl, `192.0.2.${host}`))
    );
    const spent = new Array<number>(clients.length).fill(0);
    const group = new CostModel();
    let cutAt = -1;
    for (let round = 0; round < 30 && cutAt < 0; round++) {
      for (const [index, client] of clients.entries()) {
        const exchange = await client.call(HISTORY_METHOD, [stack.index.bigScriptHash]);
        if (exchange === null || errorOf(exchange)?.code === -101) {
          cutAt = index;
          break;
        }
        const bandwidth = (exchange.bytesIn + exchange.bytesOut) / BANDWIDTH_UNIT;
        const cost = 0.2 + HISTORY / 1000 + bandwidth;
        spent[index] = (spent[index] ?? 0) + cost;
        group.add(cost);
      }
    }
    expect(cutAt).toBeGreaterThanOrEqual(0);
    // No session came near the hard limit alone; together (less decay) they reached it.
    expect(Math.max(...spent)).toBeLessThan(HARD / 2);
    expect(group.now()).toBeGreaterThan(HARD - 5);
    // Above the soft limit each request looks at the group first, so the group stops within
    // about one request (0.2 + 2 + ~36 units) of the hard limit, not one per session.
    expect(group.now()).toBeLessThan(HARD + 45);
    for (const client of clients) client.terminate();

    // Reconnecting from any address of the /24 meets the same spent budget.
    const refused = await LimitsClient.open(stack.wsUrl, '192.0.2.200').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UpgradeRefused);
    const retryAfterSec = Number((refused as UpgradeRefused).retryAfter);
    expect((refused as UpgradeRefused).status).toBe(429);

    // The group decays at HARD / DECAY_SECONDS per second, whether its sessions are open or not.
    // Each read happens somewhere inside its request, so the time between the two reads lies
    // between the gap separating the requests and the span from the first's start to the
    // second's end: the decay must lie within that range, however slow each request was.
    const firstStarted = performance.now();
    const first = await groupCost('192.0.2.9');
    const t0 = performance.now();
    expect(first).toBeGreaterThanOrEqual(HARD - 20);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const secondStarted = performance.now();
    const second = await groupCost('192.0.2.9');
    const elapsedSec = (performance.now() - t0) / 1000;
    const shortestSec = (secondStarted - t0) / 1000;
    const longestSec = (performance.now() - firstStarted) / 1000;
    // 0.5: the rounding of toBeCloseTo(…, 0) this replaces, for costs shown rounded.
    expect(first - second).toBeGreaterThanOrEqual(shortestSec * DECAY_PER_SEC - 0.5);
    expect(first - second).toBeLessThanOrEqual(longestSec * DECAY_PER_SEC + 0.5);
    // Once below the hard limit (Retry-After said when), the group may connect again.
    const predictedSec = Math.max(0, (first - HARD) / DECAY_PER_SEC);
    expect(retryAfterSec).toBeGreaterThanOrEqual(Math.floor(predictedSec));
    const waitMs = Math.max(0, predictedSec - elapsedSec) * 1000 + 600;
    expect(waitMs).toBeLessThan(30_000);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    const back = await LimitsClient.open(stack.wsUrl, '192.0.2.201');
    expect(errorOf(await back.call('server.ping'))).toBeUndefined();
    back.close();
  }, 90_000);
});

describe('sessions of one /24 that fire together', () => {
  it('run about a session\'s share at once and stop near the hard limit', async () => {
    // Twenty sessions opened one after another, then each sends ten history requests at once
    // (about 38 units each). Each session used to run all ten at the group's cost as it last saw
    // it (nothing): 200 answers, some 7,600 units, 19 x HARD, before any settle came back. Now
    // the n-th session runs INITIAL_CONCURRENT / n of them at once (10, 5, 3, 2, 2, 1, ...); the
    // sessions past the tenth know the group is crowded and run each request in one of its
    // Limiter's slots; and every request waits for the group's figures once a session's own
    // spending, times the sessions, passes the soft limit.
    const SESSIONS = 20;
    const clients: LimitsClient[] = [];
    for (let host = 1; host <= SESSIONS; host++) {
      clients.push(await LimitsClient.open(stack.wsUrl, `198.18.60.${host}`));
    }
    const request = (id: number): string => {
      return JSON.stringify({ id, method: HISTORY_METHOD, params: [stack.index.bigScriptHash] });
    };
    const replies = await Promise.all(
      clients.map(async (client) => {
        for (let id = 1; id <= 10; id++) client.socket.send(request(id));
        const frames: unknown[] = [];
        for (let i = 0; i < 10; i++) {
          const frame = await client.next(60_000);
          if (frame === null) break;
          frames.push(JSON.parse(frame));
        }
        return frames as { result?: unknown; error?: { code: number } }[];
      })
    );
    const all = replies.flat();
    const answered = all.filter((reply) => reply.result !== undefined).length;
    const refused = all.filter((reply) => reply.error?.code === -101).length;
    expect(answered + refused).toBe(all.length);
    expect(answered).toBeGreaterThanOrEqual(HARD / 40);
    expect(answered).toBeLessThanOrEqual(50);
    let cost = await groupCost('198.18.60.99');
    for (let attempt = 0; attempt < 20 && cost < HARD; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      cost = await groupCost('198.18.60.99');
    }
    expect(cost).toBeGreaterThanOrEqual(HARD - 10);
    // Measured here: 37 answered, 1,414 units (3.5 x HARD); 47 and 1,797 with the share alone.
    expect(cost).toBeLessThan(5 * HARD);
    for (const client of clients) client.terminate();
  }, 120_000);
});

describe('malformed JSON', () => {
  it('reaches the hard limit sooner than other error replies', async () => {
    const countUntilCut = async (ip: string, text: string): Promise<number> => {
      const client = await LimitsClient.open(stack.wsUrl, ip);
      for (let sent = 1; sent <= 50; sent++) {
        const exchange = await client.exchange(text);
        if (exchange === null || errorOf(exchange)?.code === -101) return sent;
      }
      return Number.POSITIVE_INFINITY;
    };
    const garbage = await countUntilCut('100.64.7.1', '{"id": 1, "method": ');
    const unknownMethod = '{"id":1,"method":"no.such.method","params":[]}';
    const unknown = await countUntilCut('100.64.8.1', unknownMethod);
    // 1,100 per unparsable message: the first one already passes HARD = 400.
    expect(garbage).toBe(2);
    // 100 (and a few bytes) per error reply: four reach 400, less what decayed meanwhile at
    // 4 units/s, so the fifth or the sixth request is refused.
    expect(unknown).toBeGreaterThanOrEqual(5);
    expect(unknown).toBeLessThanOrEqual(6);
  }, 60_000);
});

describe('POST /rpc', () => {
  it('draws on the same budget and answers -101 with HTTP 429 at the hard limit', async () => {
    const big = stack.index.bigScriptHash;
    const post = (ip: string) =>
      fetch(`${stack.httpUrl}/rpc`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': ip },
        body: JSON.stringify({ id: 1, method: HISTORY_METHOD, params: [big] }),
      });
    let refusedAfter = -1;
    for (let request = 1; request <= 40; request++) {
      const response = await post('203.0.120.5');
      const text = await response.text();
      expect(text.startsWith('{'), `HTTP ${response.status}: ${text.slice(0, 300)}`).toBe(true);
      const body = JSON.parse(text) as { error?: { code: number } };
      if (response.status === 429) {
        expect(body.error?.code).toBe(-101);
        refusedAfter = request;
        break;
      }
      expect(response.status).toBe(200);
      // The charge is settled after the answer: give it a moment before the next request.
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    // Each answer costs about 1 + 38 units: the group passes 400 after about 11.
    expect(refusedAfter).toBeGreaterThan(5);
    expect(refusedAfter).toBeLessThan(20);
    const ws = await LimitsClient.open(stack.wsUrl, '203.0.120.99').catch((e: unknown) => e);
    expect(ws).toBeInstanceOf(UpgradeRefused);
  }, 90_000);

  it('charges each request the method table cost, not one unit a reply', async () => {
    // 200 server.ping (0.1 each in the method table, LIMITS.md) and the bytes both ways.
    const body = JSON.stringify(
      Array.from({ length: 200 }, (_, id) => ({ id, method: 'server.ping', params: [] }))
    );
    const startedMs = performance.now();
    const response = await fetch(`${stack.httpUrl}/rpc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': '198.18.40.1' },
      body,
    });
    const reply = await response.text();
    expect(response.status).toBe(200);
    const expected = 200 * 0.1 + (Buffer.byteLength(body) + Buffer.byteLength(reply)) / 5000;
    // The charge is settled after the answer; it decays meanwhile.
    let cost = 0;
    for (let tries = 0; tries < 50 && cost === 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      cost = await groupCost('198.18.40.1');
    }
    const decayedAtMost = ((performance.now() - startedMs) / 1000) * DECAY_PER_SEC;
    expect(cost).toBeLessThanOrEqual(expected + 0.01);
    expect(cost).toBeGreaterThanOrEqual(expected - decayedAtMost - 0.01);
  }, 60_000);

  it('refuses the first POST of a group cut off elsewhere, Retry-After by its decay', async () => {
    // An unparsable message costs 1,100 units (over HARD alone): this /24 is cut off over a
    // WebSocket, so this isolate's POST path has never seen it.
    const client = await LimitsClient.open(stack.wsUrl, '100.64.9.1');
    expect(errorOf(await client.exchange('{"id": 1, "method": '))?.code).not.toBe(-101);
    const cut = await client.exchange('{"id": 2, "method": ');
    expect(cut === null || errorOf(cut)?.code === -101).toBe(true);
    client.terminate();
    const cost = await groupCost('100.64.9.7');
    expect(cost).toBeGreaterThan(HARD);

    const response = await fetch(`${stack.httpUrl}/rpc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': '100.64.9.2' },
      body: JSON.stringify({ id: 1, method: 'server.ping', params: [] }),
    });
    expect(response.status).toBe(429);
    expect(((await response.json()) as { error?: { code: number } }).error?.code).toBe(-101);
    // Seconds until the cost decays to HARD, as the WebSocket upgrade says (not REQUEST_SLEEP's).
    const expectedSec = (cost - HARD) / DECAY_PER_SEC;
    const retryAfterSec = Number(response.headers.get('Retry-After'));
    expect(retryAfterSec).toBeGreaterThanOrEqual(Math.floor(expectedSec) - 2);
    expect(retryAfterSec).toBeLessThanOrEqual(Math.ceil(expectedSec) + 1);
  }, 60_000);
});
