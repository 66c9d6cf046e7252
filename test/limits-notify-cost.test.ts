// End to end under wrangler dev: the notifications a session receives cost its group bytes out,
// as its replies do (DESIGN §6), so a client that subscribes and only listens still pays for
// what it is sent. Expected costs are worked out here from the frames the client received.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminFetch, LimitsClient, startLimitsStack, type LimitsStack } from './limits-stack.ts';

// Ten bytes per unit, so a notification frame (~140 bytes) costs ~14 units; limits far away and
// a decay of 0.2 units per second, so neither throttling nor decay blurs the figures.
const BYTES_PER_UNIT = 10;
const DECAY_PER_SEC = 200_000 / 1_000_000;
const NOTIFY_SECRET = randomBytes(24).toString('hex');
const IP = '203.0.113.77';
const NOTICES = 8;
// A settle reaches the Limiter within a second of a charge (docs/LIMITS.md).
const SETTLE_WAIT_MS = 2_000;
// workerd evicts an idle Durable Object whose WebSockets hibernate after about 10 s.
const HIBERNATE_MS = 13_000;

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
const randomHex = (): string => randomBytes(32).toString('hex');

describe('notifications pushed to a session', () => {
  let stack: LimitsStack;

  beforeAll(async () => {
    stack = await startLimitsStack({
      EXEMPT_PRIVATE: 'false',
      NOTIFY_SECRET,
      BANDWIDTH_UNIT_COST: String(BYTES_PER_UNIT),
      COST_SOFT_LIMIT: '100000',
      COST_HARD_LIMIT: '200000',
      COST_DECAY_SECONDS: '1000000',
    });
  }, 150_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const groupCost = async (): Promise<number> => {
    const { json } = await adminFetch(stack, 'GET', `/admin/limits/groups?ip=${IP}`);
    return Number(json.cost);
  };

  // One notice from "the indexer": the script hash has a new status (any 32 bytes will do).
  const postNotice = async (seq: number, scriptHash: string): Promise<void> => {
    const notice = {
      seq,
      height: stack.index.tipHeight,
      tip_hash: randomHex(),
      header_hex: null,
      hashxes: [scriptHash],
      statuses: [randomHex()],
      commit_ms: Date.now(),
    };
    const response = await fetch(`${stack.httpUrl}/internal/notify`, {
      method: 'POST',
      body: JSON.stringify([notice]),
      headers: { Authorization: `Bearer ${NOTIFY_SECRET}` },
    });
    expect(response.status).toBe(200);
  };

  let nextSeq = 1;

  // Posts `count` notices, each answered by one notification frame; the frames' bytes.
  const notifyAndReceive = async (client: LimitsClient, scriptHash: string, count: number) => {
    let receivedBytes = 0;
    for (let i = 0; i < count; i++) {
      await postNotice(nextSeq++, scriptHash);
      const frame = await client.next(20_000);
      if (frame === null) throw new Error('the session closed');
      const message = JSON.parse(frame) as { method?: string; params?: unknown[] };
      expect(message.method).toBe('blockchain.scripthash.subscribe');
      expect(message.params?.[0]).toBe(scriptHash);
      receivedBytes += Buffer.byteLength(frame);
    }
    return receivedBytes;
  };

  // The group's cost rose by the frames' bytes / BANDWIDTH_UNIT_COST, less the decay meanwhile.
  const expectCharged = (rise: number, receivedBytes: number, elapsedMs: number): void => {
    const expected = receivedBytes / BYTES_PER_UNIT;
    const decay = (elapsedMs / 1000) * DECAY_PER_SEC;
    expect(rise).toBeGreaterThanOrEqual(expected - decay - 0.01);
    expect(rise).toBeLessThanOrEqual(expected + 0.01);
  };

  const subscribedClient = async (scriptHash: string): Promise<LimitsClient> => {
    const client = await LimitsClient.open(stack.wsUrl, IP);
    const version = await client.call('server.version', ['notify-cost', '1.4']);
    expect(version?.reply).toHaveProperty('result');
    const subscribed = await client.call('blockchain.scripthash.subscribe', [scriptHash]);
    expect(subscribed?.reply).toHaveProperty('result');
    return client;
  };

  it('charges each notification frame as bytes out to the group', async () => {
    const scriptHash = stack.index.smallScriptHash;
    const client = await subscribedClient(scriptHash);
    try {
      await sleep(SETTLE_WAIT_MS);
      const before = await groupCost();
      const startedMs = Date.now();
      const receivedBytes = await notifyAndReceive(client, scriptHash, NOTICES);
      expect(receivedBytes / BYTES_PER_UNIT).toBeGreaterThan(NOTICES * 10);
      await sleep(SETTLE_WAIT_MS);
      // The client sent nothing meanwhile: the whole rise is the frames it was sent.
      expectCharged((await groupCost()) - before, receivedBytes, Date.now() - startedMs);
    } finally {
      client.close();
    }
  }, 120_000);

  it('charges a session that a notification woke from hibernation', async () => {
    const scriptHash = stack.index.bigScriptHash;
    const client = await subscribedClient(scriptHash);
    try {
      await sleep(HIBERNATE_MS);
      const before = await groupCost();
      const startedMs = Date.now();
      const receivedBytes = await notifyAndReceive(client, scriptHash, 2);
      await sleep(SETTLE_WAIT_MS);
      expectCharged((await groupCost()) - before, receivedBytes, Date.now() - startedMs);
      expect(stack.events('limits_notification_charge_failed')).toEqual([]);
    } finally {
      client.close();
    }
  }, 120_000);
});
