// Crash safety: SIGKILL the indexer in the middle of a sync at several points; every time the
// index is left on a block boundary, and after a restart it ends equal to a clean sync.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { startSimNode, type SimNode } from '../tools/sim-node.ts';
import {
  caughtUpAt,
  expectWholeBlocks,
  growChain,
  PROJECT_DIR,
  startIndexer,
  stopIndexer,
  tableDigests,
  tempDir,
} from './indexer-support.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const BASE = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
// 200 blocks of 60 txs on top of the chain file: long enough to be killed mid-way.
const CHAIN = growChain(coin, BASE, 200, 60);
const TIP = CHAIN.length - 1;
const dirs: string[] = [];
let node: SimNode;

function env(dir: string): Record<string, string> {
  return {
    DAEMON_URL: node.url,
    COIN: coin.name,
    NET: coin.net,
    DB_DIRECTORY: dir,
    FLUSH_BLOCKS: '7',
    LOG_LEVEL: 'debug',
  };
}

function newDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  node = await startSimNode({ coin, blocks: CHAIN, user: 'rpc', password: 'sim-pass-0123456789' });
});

afterAll(async () => {
  await node.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('indexer killed mid-sync', () => {
  it('resumes from chain_state and ends equal to a clean sync', async () => {
    const cleanDir = newDir();
    const clean = startIndexer(env(cleanDir));
    await clean.waitFor(caughtUpAt(TIP), 120_000);
    expect(await stopIndexer(clean)).toBe(0);
    const expected = tableDigests(join(cleanDir, 'index.db'));

    const dir = newDir();
    const dbPath = join(dir, 'index.db');
    const heightsAtKill: number[] = [];
    // Kill right after a commit, soon after one (a transaction is open across the next fetch),
    // and at a later commit; each run resumes from where the last one stopped.
    const killPoints = [
      { afterHeight: 20, delayMs: 0 },
      { afterHeight: 110, delayMs: 15 },
      { afterHeight: 160, delayMs: 3 },
      { afterHeight: 200, delayMs: 40 },
    ];
    for (const point of killPoints) {
      const run = startIndexer(env(dir));
      const passed = (e: Record<string, unknown>): boolean =>
        e.event === 'flushed' && Number(e.height) >= point.afterHeight;
      await run.waitFor(passed, 120_000);
      // From here every node reply is held for seconds, so on any machine the indexer is still
      // working through the blocks it has already fetched when the kill lands.
      node.setFault('slow');
      if (point.delayMs > 0) await new Promise((done) => setTimeout(done, point.delayMs));
      run.kill('SIGKILL');
      expect((await run.exited).signal).toBe('SIGKILL');
      node.setFault('none');
      heightsAtKill.push(expectWholeBlocks(dbPath));
    }
    // Each run got further than the one before, and none reached the tip.
    expect([...heightsAtKill].sort((a, b) => a - b)).toEqual(heightsAtKill);
    expect(heightsAtKill.every((height) => height < TIP)).toBe(true);

    // SIGTERM mid-sync: the transaction in progress commits, exit code 0.
    const stopped = startIndexer(env(dir));
    await stopped.waitFor((e) => e.event === 'flushed' && Number(e.height) >= 205, 120_000);
    stopped.kill('SIGTERM');
    expect((await stopped.exited).code).toBe(0);
    const stoppedAt = await stopped.waitFor((e) => e.event === 'stopped');
    expect(expectWholeBlocks(dbPath)).toBe(stoppedAt.height);
    expect(Number(stoppedAt.height)).toBeGreaterThanOrEqual(205);

    const last = startIndexer(env(dir));
    await last.waitFor(caughtUpAt(TIP), 120_000);
    expect(await stopIndexer(last)).toBe(0);
    expectWholeBlocks(dbPath);
    expect(tableDigests(dbPath)).toEqual(expected);
  });
});
