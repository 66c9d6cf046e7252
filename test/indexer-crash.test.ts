// Crash safety: the indexer's writing path (sync + mempool, test/support/indexer-child.ts) is
// SIGKILLed at 50 seeded random points, 30 while it syncs a chain (then follows the mempool) and
// 20 while it follows reorgs back and forth between two branches. After every kill the index ends
// on a block boundary with every status equal to an independent recomputation over what it holds;
// after the last kill of each phase a restart (the real indexer, indexer/main.ts, at the end)
// converges to the tables of a clean sync of the node's chain and mempool.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import type { SimNode } from '../tools/sim-node.ts';
import {
  caughtUpAt,
  expectWholeBlocks,
  growChain,
  headerInfo,
  indexerEnv,
  PROJECT_DIR,
  startIndexer,
  startTestNode,
  stopIndexer,
  tempDirs,
} from './indexer-support.ts';
import {
  captureLog,
  chainDigests,
  cleanSyncDigests,
  indexStatuses,
  keyHash,
  p2pkhScript,
  txHex,
  txidOfHex,
  waitSettled,
} from './mempool-support.ts';
import { ledgerStatuses } from './support/independent-ledger.ts';
import { readReferenceChain } from './support/reference-chain.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const BASE = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
const CHAIN_A = growChain(coin, BASE, 120, 30, 'crash-a');
// Short reorgs (7 blocks each way): unwinding rehashes each touched status from its history and
// takes most of a second here, a kill must be able to land after it as well. Both branches have
// the same length (a shorter winner is test/indexer-reorg.test.ts's case).
const FORK = CHAIN_A.length - 8;
const CHAIN_B = growChain(coin, CHAIN_A.slice(0, FORK + 1), 7, 30, 'crash-b', 7);
const SEED = 0x5eed_2026;
// The writing path alone (sync + mempool): the full indexer takes seconds to start on this
// machine, 50 of those would not fit the time budget. The converging runs use the real one.
const CHILD = 'test/support/indexer-child.ts';
const SYNC_KILLS = 30;
const REORG_KILLS = 20;
const dirs = tempDirs('indexer-crash-');
type LogEvent = Record<string, unknown>;
const STARTED = (e: LogEvent): boolean => e.event === 'starting';
// A restart on the branch the node is on again has no reorg to do: it only catches up.
const UNWOUND_OR_CAUGHT_UP = (e: LogEvent): boolean =>
  e.event === 'reorg' || e.event === 'caught_up';
// The unwind's transaction committed ('reorg' is logged after it); the new branch is not applied.
const UNWOUND = (e: LogEvent): boolean => e.event === 'reorg';
const logs = captureLog('warn');

const blockByHash = new Map<string, string>();
for (const hex of [...CHAIN_A, ...CHAIN_B]) blockByHash.set(headerInfo(hex, 'sha256d').hash, hex);

afterAll(() => {
  logs.restore();
  dirs.removeAll();
});

/** mulberry32: a small seeded generator, so a failing kill schedule can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A parent/child pair and an independent tx spending the coinbases of the last two blocks. */
function mempoolTxs(chain: string[]): string[] {
  const tipHeight = chain.length - 1;
  const fresh = [...readReferenceChain(chain, 'sha256d').unspent.values()]
    .flat()
    .filter((out) => out.height >= tipHeight - 1 && out.value > 3_000n);
  const [a, b] = fresh;
  if (a === undefined || b === undefined) throw new Error('no fresh outputs to spend');
  const parent = txHex([a], [{ value: a.value - 200n, script: p2pkhScript(keyHash('p')) }]);
  const child = txHex(
    [{ txid: txidOfHex(parent), vout: 0 }],
    [{ value: a.value - 400n, script: p2pkhScript(keyHash('c')) }]
  );
  const single = txHex([b], [{ value: b.value - 300n, script: p2pkhScript(keyHash('s')) }]);
  return [parent, child, single];
}

/**
 * What must hold after any kill: whole blocks, and every status equal to the independent
 * ledger over the blocks the index holds plus its own mempool rows.
 */
function expectConsistent(dbPath: string): number {
  const height = expectWholeBlocks(dbPath);
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  let blocks: string[];
  let mempool: string[];
  try {
    const hashes = db.prepare('SELECT hash FROM headers ORDER BY height').all() as {
      hash: Buffer;
    }[];
    blocks = hashes.map((row) => {
      const hex = blockByHash.get(Buffer.from(row.hash).reverse().toString('hex'));
      if (hex === undefined) throw new Error('the index holds a block the test never made');
      return hex;
    });
    const rows = db.prepare('SELECT raw FROM mempool_txs').all() as { raw: Buffer }[];
    mempool = rows.map((row) => row.raw.toString('hex'));
  } finally {
    db.close();
  }
  expect(indexStatuses(dbPath)).toEqual(ledgerStatuses(blocks, mempool, false));
  return height;
}

function indexTipHash(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT tip_hash FROM chain_state').get() as { tip_hash: Buffer };
    return Buffer.from(row.tip_hash).reverse().toString('hex');
  } finally {
    db.close();
  }
}

describe('indexer killed at random points', () => {
  it('converges to a clean sync after 30 kills during sync and 20 during reorgs', async () => {
    const random = seededRandom(SEED);
    const node = await startTestNode(coin, CHAIN_A, { slowDelayMs: 16 });
    try {
      for (const tx of mempoolTxs(CHAIN_A)) node.addMempoolTx(tx);
      const dir = dirs.make();
      const dbPath = join(dir, 'index.db');
      const env = {
        ...indexerEnv(node, coin, dir),
        FLUSH_BLOCKS: '2',
        POLL_INTERVAL_MS: '50',
        LOG_LEVEL: 'info',
      };
      // Every reply waits a little, so a sync lasts long enough to be cut at many points. Two
      // replies per two blocks (FLUSH_BLOCKS) at 16 ms each: however fast the machine, a run
      // killed at most 400 ms after it starts gets through at most about 25 blocks (12 on
      // average), so with this seed the sync is still under way at the 17th of the 30 kills.
      node.setFault('slow');
      // `hold`: once `after` is seen the node stops answering until the kill, so the run gets no
      // further than the batch it has in flight, however fast the machine is.
      const killAt = async (maxDelayMs: number, after = STARTED, hold = false): Promise<number> => {
        const run = startIndexer(env, CHILD);
        await run.waitFor(after, 30_000);
        if (hold) node.setFault('down');
        await new Promise((done) => setTimeout(done, Math.floor(random() * maxDelayMs)));
        run.kill('SIGKILL');
        expect((await run.exited).signal).toBe('SIGKILL');
        node.setFault('slow');
        return expectConsistent(dbPath);
      };
      const syncHeights: number[] = [];
      for (let round = 0; round < SYNC_KILLS; round++) syncHeights.push(await killAt(400));
      // Resumed each time: the height never went back.
      expect([...syncHeights].sort((a, b) => a - b)).toEqual(syncHeights);
      // Spread over the sync, not all before it started or after it ended.
      expect(syncHeights.filter((height) => height > 0 && height < CHAIN_A.length - 1).length)
        .toBeGreaterThan(SYNC_KILLS / 3);
      await converge(node, env, dbPath, CHILD);

      let midReorg = 0;
      let switches = 0;
      for (let round = 0; round < REORG_KILLS; round++) {
        // The node switches branch once the index has caught up with it; until then each
        // restart resumes the reorg the last one was killed in.
        const before = indexTipHash(dbPath);
        let switched = false;
        if (before === node.tipHash()) {
          const branchA = headerInfo(CHAIN_A[FORK + 1] ?? '', 'sha256d').hash;
          const onA = node.blockHash(FORK + 1) === branchA;
          node.reorg(FORK, (onA ? CHAIN_B : CHAIN_A).slice(FORK + 1));
          switched = true;
          switches += 1;
        }
        if (switched && switches % 2 === 1) {
          // Every other switch: killed after the unwind's commit with the node held, so it lands
          // between the unwind and the new tip on any machine. A switch comes at least every
          // fourth round (a restart that waits for the unwind or catch-up always gets there),
          // so at least three of the 20 kills are such.
          await killAt(250, UNWOUND, true);
        } else {
          // Half the kills count from the start (many land in the unwind, one transaction), half
          // from the unwind's commit, so they land while the winning branch is being applied.
          await (round % 2 === 0 ? killAt(1_000) : killAt(250, UNWOUND_OR_CAUGHT_UP));
        }
        const tip = indexTipHash(dbPath);
        if (tip !== before && tip !== node.tipHash()) midReorg += 1;
      }
      // Some kills cut a reorg between its unwind and the winning branch's tip.
      expect(midReorg).toBeGreaterThan(2);
      await converge(node, env, dbPath, 'indexer/main.ts');
    } finally {
      await node.close();
    }
  }, 150_000);
});

/** Restarts `entry` without faults, waits for it to settle and compares with a clean sync. */
async function converge(
  node: SimNode,
  env: Record<string, string>,
  dbPath: string,
  entry: string
): Promise<void> {
  node.setFault('none');
  const run = startIndexer(env, entry);
  try {
    await run.waitFor(caughtUpAt(node.tipHeight(), node.tipHash()), 60_000);
    await waitSettled(node, dbPath, 30_000);
  } finally {
    expect(await stopIndexer(run)).toBe(0);
  }
  expect(run.events.filter((e) => e.level === 'error')).toEqual([]);
  expectConsistent(dbPath);
  expect(chainDigests(dbPath)).toEqual(await cleanSyncDigests(node, coin, dirs.make()));
  node.setFault('slow');
}
