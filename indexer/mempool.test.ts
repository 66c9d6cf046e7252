// The mempool follower's pace: against a node below the index on the same chain (restarted with
// -reindex) it looks again at the poll interval; behind the node, at a quick retry while the
// index may be about to move, then at the poll interval once it has stood still a second.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { startSimNode } from '../tools/sim-node.ts';
import { headerInfo, tempDir } from '../test/indexer-support.ts';
import { BlockWriter } from './block-writer.ts';
import { Daemon, type RpcCall } from './daemon.ts';
import { openIndexDb } from './db.ts';
import { startMempool } from './mempool.ts';
import { verifyBlock } from './sync.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const CHAIN = loadChainFile(join(import.meta.dirname, '../data/bitcoincash_regtest_0-103.json'));
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A Daemon that counts its batches (one per refresh while nothing is fetched). */
class CountingDaemon extends Daemon {
  batches = 0;

  override batch(calls: RpcCall[], accept?: (result: unknown) => boolean): Promise<unknown[]> {
    this.batches += 1;
    return super.batch(calls, accept);
  }
}

/** An index holding `indexed` blocks of CHAIN and a node holding `served`; counts batches. */
async function followFor(
  indexed: number,
  served: number,
  ms: number
): Promise<{ batches: number }> {
  const dir = tempDir();
  dirs.push(dir);
  const db = openIndexDb(join(dir, 'index.db'), coin);
  const writer = new BlockWriter(db, coin, 200);
  db.transaction(() => {
    writer.beginFlush();
    CHAIN.slice(0, indexed).forEach((hex, height) => {
      const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
      writer.applyBlock(verifyBlock(bytes, height, headerInfo(hex, 'sha256d').hash, coin));
    });
    writer.endFlush();
  });
  const blocks = CHAIN.slice(0, served);
  const node = await startSimNode({ coin, blocks, user: 'u', password: 'p' });
  const controller = new AbortController();
  const url = `http://127.0.0.1:${node.port}`;
  const daemon = new CountingDaemon({ url, user: 'u', password: 'p', signal: controller.signal });
  const options = { db, daemon, coin, reorgLimit: 200, pollIntervalMs: 1_000 };
  const mempool = startMempool({ ...options, signal: controller.signal });
  try {
    await new Promise((done) => setTimeout(done, ms));
    return { batches: daemon.batches };
  } finally {
    controller.abort();
    await mempool.stopped;
    await node.close();
    db.close();
  }
}

describe('mempool follower', () => {
  it('polls at its interval while the node is below the index on the same chain', async () => {
    // The node holds the same chain but 20 blocks less of it.
    const { batches } = await followFor(CHAIN.length, CHAIN.length - 20, 1_700);
    // At 0 and 1,000 ms (one, on a slow start); the 250 ms retry meant for an index about to
    // move would have made 7.
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThanOrEqual(2);
  });

  it('retries quickly while the index may move, then at the interval once it stands', async () => {
    // The node is 20 blocks ahead and nothing syncs them (as while sync waits below a block it
    // refuses): 250 ms retries for the first second (0, 250, 500, 750, 1,000), then one a
    // second (2,000, 3,000): 7, where the quick retry alone would have made 15 in 3.7 s.
    const { batches } = await followFor(CHAIN.length - 20, CHAIN.length, 3_700);
    expect(batches).toBeGreaterThanOrEqual(4);
    expect(batches).toBeLessThanOrEqual(9);
  });
});
