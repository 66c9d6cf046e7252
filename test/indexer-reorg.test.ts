// Reorgs seen by the running indexer: depth 1 and 3 with built blocks, the real btcd side chain
// forking at genesis, and a reorg deeper than REORG_LIMIT. After a reorg the chain tables equal a
// clean sync of the winning chain.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin, type Coin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { startSimNode, type SimNode } from '../tools/sim-node.ts';
import {
  caughtUpAt,
  CHAIN_TABLES,
  expectIndexMatchesReference,
  growChain,
  headerInfo,
  PROJECT_DIR,
  startIndexer,
  stopIndexer,
  tableDigests,
  tempDir,
  type IndexerRun,
} from './indexer-support.ts';
import { readReferenceChain } from './support/reference-chain.ts';

const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function simNode(coin: Coin, blocks: string[]): Promise<SimNode> {
  const node = await startSimNode({ coin, blocks, user: 'rpc', password: 'sim-pass-0123456789' });
  cleanups.push(() => node.close());
  return node;
}

function indexer(
  node: SimNode,
  coin: Coin,
  extra: Record<string, string> = {}
): { run: IndexerRun; dbPath: string } {
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const settings = { DAEMON_URL: node.url, COIN: coin.name, NET: coin.net, DB_DIRECTORY: dir };
  const run = startIndexer({ ...settings, ...extra });
  cleanups.push(async () => {
    if ((await Promise.race([run.exited, Promise.resolve(null)])) === null) await stopIndexer(run);
  });
  return { run, dbPath: join(dir, 'index.db') };
}

/** Syncs `blocks` from scratch in a fresh process and returns the chain-table digests. */
async function cleanSyncDigests(
  coin: Coin,
  blocks: string[],
  extra: Record<string, string> = {}
): Promise<Record<string, string>> {
  const node = await simNode(coin, blocks);
  const { run, dbPath } = indexer(node, coin, extra);
  await run.waitFor(caughtUpAt(blocks.length - 1, node.tipHash()));
  expect(await stopIndexer(run)).toBe(0);
  return tableDigests(dbPath, CHAIN_TABLES);
}

describe('indexer reorgs', () => {
  const bch = getCoin('BitcoinCash', 'regtest');
  const base = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
  const chainA = growChain(bch, base, 6, 5, 'branch-a');

  it.each([1, 3])('unwinds a reorg of depth %i, ending equal to a clean sync', async (depth) => {
    const tipA = chainA.length - 1;
    const fork = tipA - depth;
    // The winner is one block longer and spends other outputs than the loser did.
    const winner = growChain(bch, chainA.slice(0, fork + 1), depth + 1, 4, `branch-b${depth}`, 7);
    const node = await simNode(bch, chainA);
    const { run, dbPath } = indexer(node, bch);
    await run.waitFor(caughtUpAt(tipA, headerInfo(chainA[tipA] ?? '', 'sha256d').hash));
    node.reorg(fork, winner.slice(fork + 1));
    // The loser's txs went back to the node's mempool; the clean sync compared with below has
    // none, and whether the index holds them when it stops would be a race with its mempool
    // poll. Dropped in the same turn as the reorg, so the indexer never sees them (returning
    // txs are tested in test/mempool-reorg.test.ts).
    node.clearMempool();
    await run.waitFor(caughtUpAt(winner.length - 1, node.tipHash()));
    const reorg = await run.waitFor((e) => e.event === 'reorg');
    expect(reorg).toMatchObject({ from_height: tipA, fork_height: fork, depth });
    expect(await stopIndexer(run)).toBe(0);

    expect(tableDigests(dbPath, CHAIN_TABLES)).toEqual(await cleanSyncDigests(bch, winner));
    expectIndexMatchesReference(dbPath, readReferenceChain(winner, 'sha256d'));
  });

  it('moves to a shorter winning branch with the undo rows a clean sync of it holds', async () => {
    // REORG_LIMIT=4 keeps undo rows for the 4 highest blocks. On the 114-block chain they are
    // 110-113; the winner forks at 110 and ends at 111, where a clean sync holds 108-111: the
    // rows of 108 and 109 (blocks spending earlier outputs) were pruned and must be rebuilt
    // (107 would be pruned again by block 111: not rebuilt).
    const settings = { REORG_LIMIT: '4' };
    const long = growChain(bch, base, 10, 5, 'long-branch');
    const tip = long.length - 1;
    const fork = tip - 3;
    const winner = growChain(bch, long.slice(0, fork + 1), 1, 4, 'short-branch', 7);
    expect(winner.length - 1).toBe(tip - 2);
    const node = await simNode(bch, long);
    const { run, dbPath } = indexer(node, bch, settings);
    await run.waitFor(caughtUpAt(tip, headerInfo(long[tip] ?? '', 'sha256d').hash));
    node.reorg(fork, winner.slice(fork + 1));
    node.clearMempool(); // as in the test above: the clean sync has no mempool
    await run.waitFor(caughtUpAt(winner.length - 1, node.tipHash()));
    const reorg = await run.waitFor((e) => e.event === 'reorg');
    expect(reorg).toMatchObject({ from_height: tip, fork_height: fork, undo_rebuilt: 2 });
    expect(await stopIndexer(run)).toBe(0);

    const clean = await cleanSyncDigests(bch, winner, settings);
    expect(tableDigests(dbPath, CHAIN_TABLES)).toEqual(clean);
    expectIndexMatchesReference(dbPath, readReferenceChain(winner, 'sha256d'));
  });

  it('unwinds past undo rows a smaller REORG_LIMIT pruned, once the limit is raised', async () => {
    const long = growChain(bch, base, 10, 5, 'raised-limit');
    const tip = long.length - 1;
    const node = await simNode(bch, long);
    const first = indexer(node, bch, { REORG_LIMIT: '3' });
    await first.run.waitFor(caughtUpAt(tip));
    expect(await stopIndexer(first.run)).toBe(0);
    // The same index, now with REORG_LIMIT=6, meets a reorg 5 deep (fork 108): the unwind needs
    // rows 109-113, and 109-110 were pruned under the old limit.
    const fork = tip - 5;
    const winner = growChain(bch, long.slice(0, fork + 1), 6, 4, 'raised-winner', 7);
    const settings = { DAEMON_URL: node.url, COIN: bch.name, NET: bch.net, REORG_LIMIT: '6' };
    const run = startIndexer({ ...settings, DB_DIRECTORY: dirname(first.dbPath) });
    cleanups.push(async () => {
      const running = (await Promise.race([run.exited, Promise.resolve(null)])) === null;
      if (running) await stopIndexer(run);
    });
    await run.waitFor(caughtUpAt(tip));
    node.reorg(fork, winner.slice(fork + 1));
    await run.waitFor(caughtUpAt(winner.length - 1, node.tipHash()));
    const reorg = await run.waitFor((e) => e.event === 'reorg');
    expect(reorg).toMatchObject({ fork_height: fork, depth: 5 });
    expect(await stopIndexer(run)).toBe(0);
    // The loser's txs the winner lacks went back to the node's mempool (and so into statuses):
    // the confirmed tables are compared.
    const confirmed = ['headers', 'txs', 'history', 'utxos', 'refs', 'undo'];
    const clean = await cleanSyncDigests(bch, winner, { REORG_LIMIT: '6' });
    const expected = Object.fromEntries(confirmed.map((table) => [table, clean[table]]));
    expect(tableDigests(first.dbPath, confirmed)).toEqual(expected);
    expect(reorg).toMatchObject({ undo_rebuilt: 2 });
  });

  it('follows the real btcd side chain forking at mainnet genesis (depth 4)', async () => {
    const btc = getCoin('Bitcoin', 'mainnet');
    // blk_0_to_4.dat.bz2 decompressed (test/fixtures/DERIVED.md): genesis + the side chain.
    const records = loadChainFile(
      join(PROJECT_DIR, 'test/fixtures/chains/btcd_sidechain_blocks_0-4.json')
    );
    const main = loadChainFile(join(PROJECT_DIR, 'data/bitcoin_mainnet_0-255.json')).slice(0, 5);
    expect(records).toHaveLength(5);
    expect(records[0]).toBe(main[0]);
    const node = await simNode(btc, main);
    const { run, dbPath } = indexer(node, btc);
    await run.waitFor(caughtUpAt(4, headerInfo(main[4] ?? '', 'sha256d').hash));
    node.reorg(0, records.slice(1));
    // The side chain's tip hash as test/fixtures/chains/SOURCES.md gives it.
    const sideTip = '000000002f264d6504013e73b9c913de9098d4d771c1bb219af475d2a01b128e';
    await run.waitFor(caughtUpAt(4, sideTip));
    const reorg = await run.waitFor((e) => e.event === 'reorg');
    expect(reorg).toMatchObject({ fork_height: 0, depth: 4 });
    expect(await stopIndexer(run)).toBe(0);

    expect(tableDigests(dbPath, CHAIN_TABLES)).toEqual(await cleanSyncDigests(btc, records));
    expectIndexMatchesReference(dbPath, readReferenceChain(records, 'sha256d'));
  });

  it('waits for a node that falls behind on the same chain, even past REORG_LIMIT', async () => {
    const node = await simNode(bch, chainA);
    const { run, dbPath } = indexer(node, bch, { REORG_LIMIT: '2' });
    const tipA = chainA.length - 1;
    await run.waitFor(caughtUpAt(tipA));
    const before = tableDigests(dbPath, CHAIN_TABLES);
    // As a node restarted with -reindex: the same chain, 5 blocks short (more than the limit).
    node.reorg(tipA - 5, []);
    const behind = await run.waitFor((e) => e.event === 'node_behind');
    expect(behind).toMatchObject({ node_height: tipA - 5, height: tipA });
    // Several polls later: nothing unwound, still running.
    await new Promise((done) => setTimeout(done, 1_000));
    expect(tableDigests(dbPath, CHAIN_TABLES)).toEqual(before);
    node.addBlocks(chainA.slice(tipA - 4));
    node.mine();
    await run.waitFor(caughtUpAt(tipA + 1, node.tipHash()));
    expect(await stopIndexer(run)).toBe(0);
    const events = run.events.map((e) => e.event);
    expect(events.filter((event) => event === 'node_behind')).toHaveLength(1);
    expect(events).toContain('node_behind_over');
    expect(events).not.toContain('reorg');
  });

  it('stops without touching the index when a reorg is deeper than REORG_LIMIT', async () => {
    const node = await simNode(bch, chainA);
    const { run, dbPath } = indexer(node, bch, { REORG_LIMIT: '2' });
    const tipA = chainA.length - 1;
    await run.waitFor(caughtUpAt(tipA));
    const before = tableDigests(dbPath);
    const winner = growChain(bch, chainA.slice(0, tipA - 2), 4, 1, 'too-deep');
    node.reorg(tipA - 3, winner.slice(tipA - 2));
    const { code } = await run.exited;
    expect(code).toBe(1);
    const errors = run.events.filter((e) => e.level === 'error');
    expect(errors).toHaveLength(1);
    expect(String(errors[0]?.error)).toMatch(
      /reorg deeper than REORG_LIMIT=2 blocks below our tip 109/
    );
    expect(tableDigests(dbPath)).toEqual(before);
  });
});
