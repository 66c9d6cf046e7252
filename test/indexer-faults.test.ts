// Faults around the indexer, in process: a node answering garbage, timing out or gone (one log
// line per change of state, never a partial block, back on track when the node is), and a full
// disk (SQLITE_FULL through PRAGMA max_page_count: one error line, writes paused, resumed once
// there is room). After each the index equals the node's chain and mempool, recomputed apart.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { setDiskSpaceRetry } from '../indexer/disk-space.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import type { FaultMode, SimNode } from '../tools/sim-node.ts';
import {
  expectWholeBlocks,
  growChain,
  PROJECT_DIR,
  startTestNode,
  tempDirs,
} from './indexer-support.ts';
import {
  captureLog,
  indexStatuses,
  keyHash,
  nodeBlocks,
  nodeMempoolHex,
  p2pkhScript,
  startLocalIndexer,
  txHex,
  waitSettled,
  type LocalIndexer,
} from './mempool-support.ts';
import { coinbaseOf, ledgerStatuses } from './support/independent-ledger.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const BASE = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
const CHAIN = growChain(coin, BASE, 10, 20, 'faults');
const dirs = tempDirs('indexer-faults-');
const logs = captureLog('info');

afterAll(() => {
  logs.restore();
  dirs.removeAll();
});

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
// How long the indexer's node requests wait in the fault tests.
const TIMEOUT_MS = 1_000;

/** Waits (bounded) for an `event` log line after index `from` of the captured lines. */
async function waitForEvent(from: number, event: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!logs.events.slice(from).some((e) => e.event === event)) {
    if (Date.now() > deadline) throw new Error(`no ${event} line in ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function expectMatchesNode(node: SimNode, indexer: LocalIndexer): Promise<void> {
  await waitSettled(node, indexer.dbPath, 30_000);
  const expected = ledgerStatuses(nodeBlocks(node), await nodeMempoolHex(node), false);
  expect(indexStatuses(indexer.dbPath)).toEqual(expected);
}

/** A mempool tx spending the coinbase of the node's tip (a fresh one every time). */
function spendTipCoinbase(node: SimNode, label: string): string {
  const coinbase = coinbaseOf(node.blockHex(node.tipHeight()));
  const outputs = [{ value: coinbase.value - 500n, script: p2pkhScript(keyHash(label)) }];
  return txHex([{ txid: coinbase.txid, vout: 0 }], outputs);
}

describe('node faults', () => {
  it.each<[FaultMode, string]>([
    ['garbage', 'garbage'],
    ['slow', 'down'],
    ['down', 'down'],
  ])('%s: one line each way, no partial block, caught up afterwards', async (fault, reason) => {
    const node = await startTestNode(coin, CHAIN, { slowDelayMs: 5_000 });
    // Requests give up after TIMEOUT_MS, so the 'slow' node counts as down (a timeout). Far above
    // what an answer takes on a loaded machine: a healthy request that timed out would log a
    // second daemon_unavailable line.
    const daemon = { timeoutMs: TIMEOUT_MS };
    const indexer = startLocalIndexer({ node, coin, dir: dirs.make(), daemon });
    try {
      await expectMatchesNode(node, indexer);
      const heightBefore = node.tipHeight();
      const from = logs.events.length;
      node.setFault(fault);
      node.addMempoolTx(spendTipCoinbase(node, fault));
      node.mine({ count: 3 });
      await waitForEvent(from, 'daemon_unavailable');
      await sleep(500);
      expect(expectWholeBlocks(indexer.dbPath)).toBe(heightBefore);
      const during = logs.events.slice(from);
      expect(during.filter((e) => e.event === 'daemon_unavailable')).toMatchObject([{ reason }]);
      if (fault === 'slow') {
        // Requests the slow node holds would time out after the fault is cleared, and after
        // another one (sync and mempool poll at once) already succeeded: a second line either
        // way. Refused at once for a while instead (the same 'down' state), none is still held.
        node.setFault('down');
        await sleep(TIMEOUT_MS + 500);
      }
      node.setFault('none');
      await expectMatchesNode(node, indexer);
      const after = logs.events.slice(from);
      expect(after.filter((e) => e.event === 'daemon_unavailable')).toHaveLength(1);
      expect(after.filter((e) => e.event === 'daemon_available')).toHaveLength(1);
      expect(after.filter((e) => e.level === 'error')).toEqual([]);
    } finally {
      await indexer.stop();
      await node.close();
    }
  }, 60_000);
});

describe('a full disk', () => {
  it('pauses writes with one error line and resumes once there is room', async () => {
    const node = await startTestNode(coin, CHAIN);
    const indexer = startLocalIndexer({
      node,
      coin,
      dir: dirs.make(),
      prepare: (db) => setDiskSpaceRetry(db, { firstRetryMs: 20, maxRetryMs: 100 }),
    });
    try {
      await expectMatchesNode(node, indexer);
      const { sqlite } = indexer.db;
      const heightBefore = node.tipHeight();
      const from = logs.events.length;
      // No page beyond those the file has now: the next blocks cannot be written.
      sqlite.pragma(`max_page_count = ${Number(sqlite.pragma('page_count', { simple: true }))}`);
      node.addBlocks(growChain(coin, nodeBlocks(node), 4, 40, 'full').slice(heightBefore + 1));
      await waitForEvent(from, 'disk_full');
      await sleep(500);
      expect(expectWholeBlocks(indexer.dbPath)).toBe(heightBefore);
      const full = logs.events.slice(from).filter((e) => e.event === 'disk_full');
      expect(full).toHaveLength(1);
      expect(full[0]).toMatchObject({ level: 'error', writer: 'sync' });
      expect(String(full[0]?.error)).toMatch(/full/);

      sqlite.pragma('max_page_count = 1073741823');
      node.addMempoolTx(spendTipCoinbase(node, 'after-full'));
      await expectMatchesNode(node, indexer);
      const after = logs.events.slice(from);
      expect(after.filter((e) => e.event === 'disk_full')).toHaveLength(1);
      expect(after.filter((e) => e.event === 'disk_space_available')).toHaveLength(1);
      // Sync never gave up: its promise has not rejected.
      await expect(Promise.race([indexer.running, sleep(50)])).resolves.toBeUndefined();
    } finally {
      await indexer.stop();
      await node.close();
    }
  }, 60_000);
});
