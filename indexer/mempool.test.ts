// The mempool follower's pace against a node below the index on the same chain (restarted with
// -reindex): it looks again at the poll interval, not at the quick retry meant for an index that
// is about to move.
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

describe('mempool follower', () => {
  it('polls at its interval while the node is below the index on the same chain', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = openIndexDb(join(dir, 'index.db'), coin);
    const writer = new BlockWriter(db, coin, 200);
    db.transaction(() => {
      writer.beginFlush();
      CHAIN.forEach((hex, height) => {
        const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
        writer.applyBlock(verifyBlock(bytes, height, headerInfo(hex, 'sha256d').hash, coin));
      });
      writer.endFlush();
    });
    // The node holds the same chain but 20 blocks less of it.
    const node = await startSimNode({
      coin,
      blocks: CHAIN.slice(0, CHAIN.length - 20),
      user: 'u',
      password: 'p',
    });
    const controller = new AbortController();
    const url = `http://127.0.0.1:${node.port}`;
    const daemon = new CountingDaemon({ url, user: 'u', password: 'p', signal: controller.signal });
    const pollIntervalMs = 1_000;
    const options = { db, daemon, coin, reorgLimit: 200, pollIntervalMs };
    const mempool = startMempool({ ...options, signal: controller.signal });
    try {
      await new Promise((done) => setTimeout(done, 1_700));
      // At 0 and 1,000 ms (one, on a slow start); the 250 ms retry meant for an index about to
      // move would have made 7.
      expect(daemon.batches).toBeGreaterThanOrEqual(1);
      expect(daemon.batches).toBeLessThanOrEqual(2);
    } finally {
      controller.abort();
      await mempool.stopped;
      await node.close();
      db.close();
    }
  });
});
