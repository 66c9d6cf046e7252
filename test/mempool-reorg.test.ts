// Reorgs with a mempool, on a Radiant chain whose orphaned blocks push refs (0xd0 and 0xd8): the
// orphaned txs return to the mempool, children become -1, a double spend on the winning branch
// drops its rival. Afterwards every chain table equals a clean sync of the winning chain with the
// same mempool, and every status equals an independent recomputation.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { buildBlock, buildCoinbase } from '../tools/block-builder.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { startNotifier, type NotifierLog } from '../indexer/notifier.ts';
import { DEFAULT_PAYOUT_SCRIPT } from '../tools/sim-node-miner.ts';
import type { SimNode } from '../tools/sim-node.ts';
import { headerInfo, PROJECT_DIR, startTestNode, tempDirs } from './indexer-support.ts';
import {
  captureLog,
  chainDigests,
  cleanSyncDigests,
  indexStatuses,
  keyHash,
  nodeBlocks,
  nodeMempoolHex,
  p2pkhScript,
  refOf,
  singletonScript,
  startLocalIndexer,
  tokenScript,
  txHex,
  txidOfHex,
  waitSettled,
} from './mempool-support.ts';
import { FakeWorker } from './support/fake-notify-worker.ts';
import { coinbaseOf, ledgerStatuses } from './support/independent-ledger.ts';

const coin = getCoin('Radiant', 'mainnet');
const K = Buffer.from(DEFAULT_PAYOUT_SCRIPT);
const BASE = loadChainFile(join(PROJECT_DIR, 'data/radiant_mainnet_0-1.json'));
const dirs = tempDirs('mempool-reorg-');
const logs = captureLog('info');

afterAll(() => {
  logs.restore();
  dirs.removeAll();
});

interface Scenario {
  node: SimNode;
  fork: number;
  /** Txs of the orphaned blocks, by name. */
  mint: string;
  move: string;
  pay: string;
  /** Mempool txs before the reorg. */
  mempool: string[];
  /** An outpoint `pay` spends, for a rival on the winning branch. */
  paySource: { txid: string; vout: number; value: bigint };
}

/**
 * Radiant mainnet 0-1, 8 funding blocks, then `depth` blocks: a mint of a singleton and a normal
 * ref, a move of the singleton, a payment (as many as fit), then empty blocks; then a mempool of a
 * child and grandchild of the mint, an independent payment and another mint.
 */
async function buildScenario(depth: number): Promise<Scenario> {
  const node = await startTestNode(coin, BASE);
  node.mine({ count: 8 });
  const funds = Array.from({ length: 8 }, (_, i) => coinbaseOf(node.blockHex(i + 2)));
  const fund = (i: number): { txid: string; value: bigint } => {
    const found = funds[i];
    if (found === undefined) throw new Error(`no funding coinbase ${i}`);
    return found;
  };
  const fork = node.tipHeight();
  const ref = refOf(fund(0).txid, 0);
  const mint = txHex(
    [{ txid: fund(0).txid, vout: 0 }],
    [
      { value: 1_000n, script: singletonScript(ref, keyHash('owner')) },
      { value: 5_000n, script: tokenScript(refOf(fund(0).txid, 1), keyHash('owner')) },
      { value: fund(0).value - 10_000n, script: K },
    ]
  );
  const move = txHex(
    [{ txid: txidOfHex(mint), vout: 0 }],
    [{ value: 900n, script: singletonScript(ref, keyHash('buyer')) }]
  );
  const paySource = { txid: fund(1).txid, vout: 0, value: fund(1).value };
  const shop = p2pkhScript(keyHash('shop'));
  const pay = txHex([paySource], [{ value: paySource.value - 700n, script: shop }]);
  const orphaned = [mint, move, pay].slice(0, depth);
  for (const tx of orphaned) {
    node.addMempoolTx(tx);
    node.mine();
  }
  if (depth > orphaned.length) node.mine({ count: depth - orphaned.length });
  const child = txHex(
    [{ txid: txidOfHex(mint), vout: 2 }],
    [{ value: fund(0).value - 20_000n, script: p2pkhScript(keyHash('child')) }]
  );
  const grandchild = txHex(
    [{ txid: txidOfHex(child), vout: 0 }],
    [{ value: fund(0).value - 30_000n, script: p2pkhScript(keyHash('grandchild')) }]
  );
  const independent = txHex(
    [{ txid: fund(2).txid, vout: 0 }],
    [{ value: fund(2).value - 1_000n, script: p2pkhScript(keyHash('independent')) }]
  );
  const secondMint = txHex(
    [{ txid: fund(3).txid, vout: 0 }],
    [
      { value: 2_000n, script: tokenScript(refOf(fund(3).txid, 0), keyHash('owner')) },
      { value: fund(3).value - 3_000n, script: K },
    ]
  );
  const mempool = [child, grandchild, independent, secondMint];
  for (const tx of mempool) node.addMempoolTx(tx);
  return { node, fork, mint, move, pay, mempool, paySource };
}

/** Blocks on top of `fork`: the first holds `txs` after its coinbase, the others are empty. */
function branch(node: SimNode, fork: number, count: number, txs: string[]): string[] {
  const blocks: string[] = [];
  let prev = node.blockHex(fork);
  for (let i = 0; i < count; i++) {
    const height = fork + 1 + i;
    const { hash, time } = headerInfo(prev, 'sha512_256d');
    const coinbase = buildCoinbase(height, K, 1n, Buffer.from('winner'));
    const body = i === 0 ? txs.map((tx) => Buffer.from(tx, 'hex')) : [];
    prev = buildBlock({ coin, prevHash: hash, txs: [coinbase, ...body], time: time + 1 });
    blocks.push(prev);
  }
  return blocks;
}

async function expectReorgMatchesCleanSync(
  scenario: Scenario,
  reorgLimit: number,
  reorg: () => void
): Promise<string[]> {
  const { node, fork } = scenario;
  const indexer = startLocalIndexer({ node, coin, dir: dirs.make(), reorgLimit });
  const tip = node.tipHeight();
  try {
    await waitSettled(node, indexer.dbPath, 60_000);
    const reorgsBefore = logs.named('reorg').length;
    reorg();
    await indexer.mempool.refreshNow();
    await waitSettled(node, indexer.dbPath, 60_000);
    const reorgs = logs.named('reorg').slice(reorgsBefore);
    expect(reorgs).toMatchObject([{ from_height: tip, fork_height: fork, depth: tip - fork }]);
  } finally {
    await indexer.stop();
  }
  const mempool = await nodeMempoolHex(node);
  expect(indexStatuses(indexer.dbPath)).toEqual(ledgerStatuses(nodeBlocks(node), mempool, true));
  const clean = await cleanSyncDigests(node, coin, dirs.make(), reorgLimit);
  expect(chainDigests(indexer.dbPath)).toEqual(clean);
  return mempool.map(txidOfHex);
}

describe('reorgs with a mempool and Radiant refs', () => {
  it('depth 1: the orphaned mint returns to the mempool, its child becomes -1', async () => {
    const scenario = await buildScenario(1);
    try {
      const mempool = await expectReorgMatchesCleanSync(scenario, 200, () => {
        scenario.node.reorgMine(scenario.fork, 2);
      });
      expect(mempool).toContain(txidOfHex(scenario.mint));
      expect(mempool).toHaveLength(1 + scenario.mempool.length);
    } finally {
      await scenario.node.close();
    }
  });

  it('depth 3: a double spend on the winning branch drops its rival', async () => {
    const scenario = await buildScenario(3);
    const { node, fork, paySource } = scenario;
    try {
      const rival = txHex([paySource], [{ value: paySource.value - 900n, script: K }]);
      const mempool = await expectReorgMatchesCleanSync(scenario, 200, () => {
        node.reorg(fork, branch(node, fork, 4, [rival]));
      });
      expect(mempool).toContain(txidOfHex(scenario.move));
      expect(mempool).not.toContain(txidOfHex(scenario.pay));
    } finally {
      await node.close();
    }
  });

  it('a reorg exactly REORG_LIMIT deep (4)', async () => {
    const scenario = await buildScenario(4);
    try {
      await expectReorgMatchesCleanSync(scenario, 4, () => {
        scenario.node.reorgMine(scenario.fork, 5);
      });
    } finally {
      await scenario.node.close();
    }
  });

  it('a reorg 200 deep with the default REORG_LIMIT', async () => {
    const scenario = await buildScenario(200);
    try {
      await expectReorgMatchesCleanSync(scenario, 200, () => {
        scenario.node.reorgMine(scenario.fork, 201);
      });
    } finally {
      await scenario.node.close();
    }
  }, 120_000);

  it('tells the Worker only where a reorg ends: new tip, mempool the node returned', async () => {
    const scenario = await buildScenario(3);
    const { node, fork } = scenario;
    const indexer = startLocalIndexer({ node, coin, dir: dirs.make() });
    const secret = 'reorg-notices-secret-0123456789';
    const worker = new FakeWorker(secret);
    await worker.start();
    const quiet: NotifierLog = { debug() {}, info() {}, warn() {}, error() {} };
    const notifier = startNotifier({ dbPath: indexer.dbPath, url: worker.url, secret, log: quiet });
    const feed = (): { seq: number; held: number | null } => {
      const db = new Database(indexer.dbPath, { readonly: true });
      try {
        const row = db
          .prepare('SELECT last_change_seq, notices_held_after FROM chain_state WHERE id = 0')
          .get() as { last_change_seq: number; notices_held_after: number | null };
        return { seq: row.last_change_seq, held: row.notices_held_after };
      } finally {
        db.close();
      }
    };
    const allSent = async (): Promise<void> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { seq, held } = feed();
        if (held === null && notifier.ackedSeq() === seq) return;
        if (Date.now() > deadline) throw new Error(`feed at ${seq} (held ${held}) not all sent`);
        await new Promise((done) => setTimeout(done, 20));
      }
    };
    try {
      await waitSettled(node, indexer.dbPath, 60_000);
      await allSent();
      const postsBefore = worker.posts.length;
      node.reorgMine(fork, 4);
      await indexer.mempool.refreshNow();
      await waitSettled(node, indexer.dbPath, 60_000);
      await allSent();

      // Independent: the statuses of the winning chain with the node's mempool (orphaned txs
      // back in it), computed from the node's blocks and txs, not by the index.
      const final = ledgerStatuses(nodeBlocks(node), await nodeMempoolHex(node), true);
      const notices = worker.posts.slice(postsBefore).flatMap((post) => post.notices);
      // Every status told, not only the last one per script hash: none from in between.
      const told = notices.flatMap((notice) => {
        const statuses = notice.statuses as (string | null)[];
        return (notice.hashxes as string[]).map((hash, i) => [hash, statuses[i]] as const);
      });
      // The orphaned payment's script: confirmed before, in the mempool after.
      // Electrum script hash of a plain P2PKH script (no refs): sha256, shown reversed.
      const shopScript = p2pkhScript(keyHash('shop'));
      const shop = createHash('sha256').update(shopScript).digest().reverse().toString('hex');
      // Named by the unwind and by the mempool refresh; each time with its final status.
      const toldShop = told.filter(([hash]) => hash === shop);
      expect(toldShop.length).toBeGreaterThan(0);
      expect(toldShop).toEqual(toldShop.map(() => [shop, final.get(shop)]));
      expect(told.length).toBeGreaterThan(3);
      expect(told).toEqual(told.map(([hash]) => [hash, final.get(hash) ?? null]));
      // One post, announcing the new tip only (the hub announces a post's newest tip).
      expect(worker.posts.length - postsBefore).toBe(1);
      expect(notices.at(-1)?.height).toBe(node.tipHeight());
    } finally {
      await notifier.close();
      await worker.stop();
      await indexer.stop();
      await node.close();
    }
  });
});
