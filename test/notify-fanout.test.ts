// End to end: a session woken by every hub shard at once for the same block, and notices that
// leave the tip unchanged. Statuses are computed here from the coinbases (node:crypto, protocol
// docs: SHA-256 of "<txid>:<height>:" per history entry); headers come from the node's blocks.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freshScripts,
  mineToScripts,
  walletScriptHash,
  type WalletSocket,
} from '../tools/bench-notify.ts';
import type { Stack } from '../tools/stack.ts';
import { DEFAULT_HUB_SHARDS, shardOf } from '../worker/notify-wire.ts';
import {
  HEADERS_SUBSCRIBE as HEADERS,
  NOTIFY_COIN,
  NOTIFY_TIMEOUT_MS,
  QUIET_MS,
  SCRIPTHASH_SUBSCRIBE as SCRIPTHASH,
  startNotifyStack,
  type NotifyStack,
} from './support/notify-stack.ts';

const COIN = NOTIFY_COIN;
const BLOCKS = 3;

function sha256(data: Buffer | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Display txid of a serialized tx: SHA-256d, reversed (Radiant v1 txs, DESIGN §3). */
function txidOf(raw: Uint8Array): string {
  return sha256(sha256(Buffer.from(raw))).reverse().toString('hex');
}

/** One fresh script per hub shard: the session's subscriptions then live on every hub. */
function scriptPerShard(): Uint8Array[] {
  const byShard = new Map<number, Uint8Array>();
  for (let round = 0; round < 100 && byShard.size < DEFAULT_HUB_SHARDS; round++) {
    for (const script of freshScripts(DEFAULT_HUB_SHARDS)) {
      byShard.set(shardOf(walletScriptHash(script), DEFAULT_HUB_SHARDS), script);
    }
  }
  if (byShard.size < DEFAULT_HUB_SHARDS) throw new Error('no script for some hub shard');
  return [...byShard.values()];
}

const byHash = (a: unknown[], b: unknown[]): number => String(a[0]).localeCompare(String(b[0]));
const quiet = (): Promise<void> => new Promise((done) => setTimeout(done, QUIET_MS));

describe('notification fan-out over every hub', () => {
  let run: NotifyStack;
  let stack: Stack;
  let logs: string[] = [];

  const wallet = (): Promise<WalletSocket> => run.wallet('notify-fanout');

  beforeAll(async () => {
    run = await startNotifyStack({ HUB_SHARDS: String(DEFAULT_HUB_SHARDS) });
    ({ stack, logs } = run);
  }, 180_000);

  afterAll(async () => {
    await run?.stop();
  });

  it('announces each tip once while all hubs wake the session together', async () => {
    const scripts = scriptPerShard();
    const hashes = scripts.map(walletScriptHash);
    const both = await wallet();
    await both.call(HEADERS, []);
    const replies = await both.batch(hashes.map((hash) => [SCRIPTHASH, [hash]]));
    expect(replies).toEqual(hashes.map(() => null));
    // Every script's history: one coinbase output per block, so the same (txid, height) list.
    const history: string[] = [];
    for (let block = 1; block <= BLOCKS; block++) {
      const mined = mineToScripts(stack.simNode, COIN, scripts);
      history.push(`${txidOf(mined.coinbase)}:${mined.height}:`);
      const perBlock = hashes.length + 1;
      await both.waitForCount(perBlock * block, NOTIFY_TIMEOUT_MS);
      await quiet();
      const fresh = both.notifications.slice(perBlock * (block - 1));
      const header = stack.simNode.blockHex(mined.height).slice(0, 160);
      const tips = fresh.filter((item) => item.method === HEADERS).map((item) => item.params);
      expect(tips, `block ${block}`).toEqual([[{ hex: header, height: mined.height }]]);
      const status = sha256(history.join('')).toString('hex');
      const statuses = fresh.filter((item) => item.method === SCRIPTHASH).map((i) => i.params);
      expect(statuses.sort(byHash)).toEqual(hashes.map((hash) => [hash, status]).sort(byHash));
    }
    both.close();
  }, 120_000);

  it('wakes no headers subscriber for a notice that leaves the tip as it was', async () => {
    const watcher = await wallet();
    const told = (await watcher.call(HEADERS, [])) as { hex: string; height: number };
    // Registered once the hub answered: the session then logs nothing more for this message.
    await quiet();
    const db = new Database(join(stack.dbDirectory, 'index.db'), { readonly: true });
    let seq: number;
    try {
      const row = db.prepare('SELECT last_change_seq AS seq FROM chain_state WHERE id = 0').get();
      seq = (row as { seq: number }).seq + 1;
    } finally {
      db.close();
    }
    // What a mempool change looks like: a new seq, the same tip, no script hash of this session.
    const notice = {
      seq,
      height: told.height,
      tip_hash: stack.simNode.tipHash(),
      header_hex: told.hex,
      hashxes: [],
    };
    const linesBefore = logs.length;
    const response = await fetch(`${stack.httpUrl}/internal/notify`, {
      method: 'POST',
      body: JSON.stringify([notice]),
      headers: { Authorization: `Bearer ${stack.notifySecret ?? ''}` },
    });
    expect(response.status).toBe(200);
    await quiet();
    expect(watcher.notifications).toEqual([]);
    const delivered = logs.slice(linesBefore).filter((line) => line.includes('"hub_delivered"'));
    expect(delivered.length).toBe(DEFAULT_HUB_SHARDS);
    expect(delivered.every((line) => line.includes('"woken":0'))).toBe(true);
    const wakes = logs.slice(linesBefore).filter((line) => line.includes('"notify_wake"'));
    expect(wakes).toEqual([]);
  }, 60_000);
});
