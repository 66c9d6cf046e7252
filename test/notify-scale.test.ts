// End to end at scale: 1,000 WebSocket sessions with 10 script-hash subscriptions each; one block
// touching 100 of those hashes notifies exactly their subscribers, once per hash, with the status
// computed here from the coinbase (node:crypto), and nobody else.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import {
  freshScripts,
  indexerEnv,
  mineToScripts,
  openSubscribers,
  walletScriptHash,
  type WalletSocket,
} from '../tools/bench-notify.ts';
import { startStack, type Stack } from '../tools/stack.ts';

const COIN = getCoin('Radiant', 'mainnet');
const SESSIONS = 1_000;
const SUBS_PER_SESSION = 10;
// 90 sessions with one touched hash, 5 with two: 100 touched subscriptions.
const SINGLY_TOUCHED = 90;
const DOUBLY_TOUCHED = 5;
const DELIVERY_TIMEOUT_MS = 30_000;
const QUIET_MS = 2_000;
const SCRIPTHASH = 'blockchain.scripthash.subscribe';

function sha256(data: Buffer | string): Buffer {
  return createHash('sha256').update(data).digest();
}

describe('push notifications at scale', () => {
  let stack: Stack;
  let wallets: WalletSocket[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    stack = await startStack({
      chainFile: 'data/radiant_mainnet_0-1.json',
      coin: COIN.name,
      net: COIN.net,
      notify: 'stack',
      indexerEnv: indexerEnv(100),
      onLog: (line) => logs.push(line),
    }).catch((error: unknown) => {
      console.error(logs.slice(-60).join('\n'));
      throw error;
    });
  }, 180_000);

  afterAll(async () => {
    for (const wallet of wallets) wallet?.close();
    await stack?.stop();
  });

  it('notifies exactly the affected sessions, once per touched hash', async () => {
    const scripts = Array.from({ length: SESSIONS }, () => freshScripts(SUBS_PER_SESSION));
    const hashes = scripts.map((list) => list.map(walletScriptHash));
    wallets = await openSubscribers(stack.wsUrl, hashes).catch((error: unknown) => {
      const errors = logs.filter((line) => /"level":"error"|ERROR/.test(line));
      console.error(errors.slice(-10).join('\n'));
      throw error;
    });
    expect(wallets.filter((wallet) => wallet !== undefined)).toHaveLength(SESSIONS);

    // Sessions 0..89 get their first script paid, 90..94 their first two.
    const expected = new Map<number, string[]>();
    const paid: Uint8Array[] = [];
    for (let session = 0; session < SINGLY_TOUCHED + DOUBLY_TOUCHED; session++) {
      const count = session < SINGLY_TOUCHED ? 1 : 2;
      paid.push(...(scripts[session]?.slice(0, count) ?? []));
      expected.set(session, hashes[session]?.slice(0, count) ?? []);
    }
    expect(paid).toHaveLength(100);
    const block = mineToScripts(stack.simNode, COIN, paid);
    // One coinbase pays them all: each status is SHA-256 of "<txid>:<height>:" (protocol docs).
    const txid = sha256(sha256(Buffer.from(block.coinbase))).reverse().toString('hex');
    const status = sha256(`${txid}:${block.height}:`).toString('hex');

    const startedMs = Date.now();
    await Promise.all(
      [...expected].map(([session, list]) => {
        return wallets[session]?.waitForCount(list.length, DELIVERY_TIMEOUT_MS);
      })
    );
    const deliveredMs = Date.now() - startedMs;
    await new Promise((done) => setTimeout(done, QUIET_MS));

    wallets.forEach((wallet, session) => {
      const got = wallet.notifications.map((n) => [n.method, n.params]);
      const want = (expected.get(session) ?? []).map((hash) => [SCRIPTHASH, [hash, status]]);
      const byHash = (a: unknown[], b: unknown[]): number => {
        return JSON.stringify(a).localeCompare(JSON.stringify(b));
      };
      expect(got.sort(byHash), `session ${session}`).toEqual(want.sort(byHash));
    });
    console.log(`100 notifications to 95 of ${SESSIONS} sessions, ${deliveredMs} ms after mining`);
  }, 600_000);
});
