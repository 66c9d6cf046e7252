// End to end: the indexer process syncs real chain files from the simulated node, follows new
// blocks, serves the index over Hrana, refreshes fees, and stops cleanly on SIGTERM.
import { join } from 'node:path';
import { createClient } from '@libsql/client/web';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import type { SimNode } from '../tools/sim-node.ts';
import {
  caughtUpAt,
  expectIndexMatchesReference,
  PROJECT_DIR,
  startIndexer,
  stopIndexer,
  TEST_TOKEN,
  TestProcesses,
  type IndexerRun,
} from './indexer-support.ts';
import { readReferenceChain, type HeaderHashName } from './support/reference-chain.ts';

const processes = new TestProcesses();

afterAll(() => processes.cleanup());

function simNode(coinName: string, net: string, blocks: string[]): Promise<SimNode> {
  return processes.node(getCoin(coinName, net), blocks);
}

function indexerFor(
  node: SimNode,
  coinName: string,
  net: string,
  extra: Record<string, string> = {}
): { run: IndexerRun; dbPath: string } {
  return processes.indexer(node, getCoin(coinName, net), extra);
}

const CHAINS: [string, string, string, string, HeaderHashName][] = [
  ['bitcoin_mainnet_0-255.json', 'Bitcoin', 'mainnet', 'sha256d', 'sha256d'],
  ['bitcoincash_regtest_0-103.json', 'BitcoinCash', 'regtest', 'sha256d', 'sha256d'],
  ['radiant_mainnet_0-1.json', 'Radiant', 'mainnet', 'sha512_256d', 'sha512_256d'],
];

describe('indexer process', () => {
  it.each(CHAINS)('syncs data/%s and matches the reference reading', async (...chain) => {
    const [file, coinName, net, , hash] = chain;
    const blocks = loadChainFile(join(PROJECT_DIR, 'data', file));
    const ref = readReferenceChain(blocks, hash);
    const node = await simNode(coinName, net, blocks);
    const { run, dbPath } = indexerFor(node, coinName, net, { FLUSH_BLOCKS: '40' });
    const tip = blocks.length - 1;
    const caughtUp = await run.waitFor(caughtUpAt(tip, ref.blockHashes[tip]));
    expect(caughtUp.tx_count).toBe(ref.txs.size);
    expect(await stopIndexer(run)).toBe(0);
    expect(run.events.filter((e) => e.level === 'error')).toEqual([]);
    expectIndexMatchesReference(dbPath, ref);
  });

  it('follows new blocks, serves the index over Hrana and copies the node fees', async () => {
    const blocks = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
    const node = await simNode('BitcoinCash', 'regtest', blocks);
    node.setFeeRate(2_000n);
    const { run, dbPath } = indexerFor(node, 'BitcoinCash', 'regtest');
    const listening = await run.waitFor((e) => e.event === 'index_server_listening');
    await run.waitFor(caughtUpAt(103));
    const mined = node.mine({ count: 2 });
    await run.waitFor(caughtUpAt(105, mined[1]));
    node.mine({ count: 1 });
    await run.waitFor(caughtUpAt(106, node.tipHash()));

    const url = String(listening.url);
    const client = createClient({ url, authToken: TEST_TOKEN, intMode: 'bigint' });
    const state = await client.execute('SELECT height, tx_count FROM chain_state WHERE id = 0');
    expect(state.rows[0]?.height).toBe(106n);
    client.close();

    // The node's own answers, asked independently of the indexer.
    const auth = new URL(node.url);
    const basic = btoa(`${auth.username}:${decodeURIComponent(auth.password)}`);
    const rpc = async (method: string, params: unknown[]): Promise<unknown> => {
      const response = await fetch(`http://127.0.0.1:${node.port}/`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}` },
        body: JSON.stringify({ id: 1, method, params }),
      });
      return ((await response.json()) as { result: unknown }).result;
    };
    const relayFee = ((await rpc('getnetworkinfo', [])) as { relayfee: number }).relayfee;
    const estimate = (await rpc('estimatesmartfee', [6])) as { feerate?: number };
    expect(await stopIndexer(run)).toBe(0);
    expect(run.events.some((e) => e.event === 'stopped' && e.height === 106)).toBe(true);

    const sqlite = new Database(dbPath, { readonly: true });
    const saved = sqlite.prepare('SELECT relay_fee FROM chain_state').get() as {
      relay_fee: number;
    };
    const rates = sqlite
      .prepare('SELECT target_blocks, fee_rate FROM fee_estimates ORDER BY 1')
      .all() as { target_blocks: number; fee_rate: number }[];
    sqlite.close();
    expect(saved.relay_fee).toBe(relayFee);
    expect(rates.map((r) => r.target_blocks)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(rates[5]?.fee_rate).toBe(estimate.feerate ?? -1);
    expectIndexMatchesReference(
      dbPath,
      readReferenceChain(Array.from({ length: 107 }, (_, h) => node.blockHex(h)), 'sha256d')
    );
  });

  it('waits for a node that is down at start, then syncs', async () => {
    const blocks = loadChainFile(join(PROJECT_DIR, 'data/radiant_mainnet_0-1.json'));
    const node = await simNode('Radiant', 'mainnet', blocks);
    node.setFault('down');
    const { run } = indexerFor(node, 'Radiant', 'mainnet');
    await run.waitFor((e) => e.event === 'daemon_unavailable');
    node.setFault('none');
    await run.waitFor(caughtUpAt(1));
    expect(run.events.filter((e) => e.event === 'daemon_unavailable')).toHaveLength(1);
    expect(run.output.join('\n')).not.toContain('sim-pass-0123456789');
    expect(await stopIndexer(run)).toBe(0);
  });

  it('refuses a bad setting with one line naming it, exit code 2', async () => {
    const dir = processes.tempDir();
    const run = startIndexer({
      DAEMON_URL: 'http://u:hunter2-secret-pass@127.0.0.1:1',
      DB_DIRECTORY: dir,
      REORG_LIMIT: 'lots',
    });
    const { code } = await run.exited;
    expect(code).toBe(2);
    const errors = run.events.filter((e) => e.level === 'error');
    expect(errors).toHaveLength(1);
    expect(String(errors[0]?.error)).toMatch(/^REORG_LIMIT must be an integer/);
    expect(run.output.join('\n')).not.toContain('hunter2-secret');
  });
});
