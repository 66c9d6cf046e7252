// A block the indexer must refuse (does not parse, wrong merkle root, does not link, not the block
// asked for): one error line naming height and hash, nothing of it written, the index server still
// answering from the blocks before it, and the block asked for again until the node serves a good
// one, which the indexer then takes without a restart. A scripted JSON-RPC node on 127.0.0.1.
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createClient } from '@libsql/client/web';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import {
  caughtUpAt,
  expectIndexMatchesReference,
  expectWholeBlocks,
  growChain,
  headerInfo,
  PROJECT_DIR,
  startIndexer,
  stopIndexer,
  tableDigests,
  tempDir,
  TEST_TOKEN,
  type IndexerRun,
} from './indexer-support.ts';
import { readReferenceChain } from './support/reference-chain.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const BASE = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
const cleanups: (() => void)[] = [];

afterAll(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
});

/** A node whose chain is `blocks` (hex by height); `hashes` overrides what getblockhash says. */
interface ScriptedNode {
  url: string;
  blocks: string[];
  hashes: Map<number, string>;
  /** getblock answers for a hash, overriding the block the hash names. */
  served: Map<string, string>;
  /** How many times each hash was asked for with getblock. */
  asked: Map<string, number>;
}

async function scriptedNode(blocks: string[]): Promise<ScriptedNode> {
  const node: ScriptedNode = {
    url: '',
    blocks: [...blocks],
    hashes: new Map(),
    served: new Map(),
    asked: new Map(),
  };
  const hashOf = (height: number): string =>
    node.hashes.get(height) ?? headerInfo(node.blocks[height] ?? '', 'sha256d').hash;
  const answer = (method: string, params: unknown[]): { result?: unknown; error?: unknown } => {
    if (method === 'getblockcount') return { result: node.blocks.length - 1 };
    if (method === 'getblockhash') return { result: hashOf(Number(params[0])) };
    if (method === 'getblock') {
      const wanted = String(params[0]);
      node.asked.set(wanted, (node.asked.get(wanted) ?? 0) + 1);
      const served = node.served.get(wanted);
      if (served !== undefined) return { result: served };
      const height = node.blocks.findIndex((_, h) => hashOf(h) === wanted);
      if (height < 0) return { error: { code: -5, message: 'Block not found' } };
      return { result: node.blocks[height] };
    }
    if (method === 'getnetworkinfo') return { result: { relayfee: 0.00001 } };
    return { error: { code: -32601, message: 'Method not found' } };
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const calls = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        id: number;
        method: string;
        params: unknown[];
      }[];
      const replies = calls.map((call) => ({
        result: null,
        error: null,
        ...answer(call.method, call.params),
        id: call.id,
      }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(replies));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  cleanups.push(() => server.close());
  node.url = `http://rpc:scripted-pass-0123@127.0.0.1:${(server.address() as AddressInfo).port}`;
  return node;
}

function withMerkleRoot(blockHex: string, rootHex: string): string {
  return blockHex.slice(0, 72) + rootHex + blockHex.slice(136);
}

const next = growChain(coin, BASE, 2, 2, 'next');
const GOOD_104 = next[104] ?? '';
const CASES: [string, (node: ScriptedNode) => string, RegExp][] = [
  ['does not parse', (node) => pushBlock(node, GOOD_104.slice(0, -10)), /does not parse/],
  [
    'has a wrong merkle root',
    (node) => pushBlock(node, withMerkleRoot(GOOD_104, 'ee'.repeat(32))),
    /merkle root mismatch/,
  ],
  [
    'does not link to the block the node names below it',
    (node) => pushBlock(node, growChain(coin, BASE.slice(0, 103), 2, 1, 'side')[104] ?? ''),
    /does not link: prev hash [0-9a-f]{64}, our tip [0-9a-f]{64}/,
  ],
  [
    'is not the block asked for',
    (node) => {
      const hash = pushBlock(node, GOOD_104);
      node.served.set(hash, next[105] ?? '');
      return hash;
    },
    /the node sent block [0-9a-f]{64} instead/,
  ],
];

function pushBlock(node: ScriptedNode, hex: string): string {
  node.blocks.push(hex);
  return headerInfo(hex, 'sha256d').hash;
}

/** electrum_edge_block_rejected as the indexer's /metrics serves it (PROMETHEUS_PORT 0). */
async function rejectedGauge(run: IndexerRun): Promise<number> {
  const listening = await run.waitFor((e) => e.event === 'metrics_listening');
  const url = `http://${String(listening.host)}:${String(listening.port)}/metrics`;
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith('electrum_edge_block_rejected '));
  return Number(line?.split(' ')[1]);
}

/** The index height as the indexer's own index server answers it (Hrana over HTTP). */
async function servedHeight(run: IndexerRun): Promise<number> {
  const listening = await run.waitFor((e) => e.event === 'index_server_listening');
  const client = createClient({ url: String(listening.url), authToken: TEST_TOKEN });
  try {
    const result = await client.execute('SELECT height FROM chain_state WHERE id = 0');
    return Number(result.rows[0]?.[0]);
  } finally {
    client.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** The node serves the good block 104 again, as a repaired node would. */
function repair(node: ScriptedNode): void {
  node.blocks[104] = GOOD_104;
  node.hashes.delete(104);
  node.served.clear();
}

describe('indexer refusing a block', () => {
  it.each(CASES)('waits below block 104 that %s, then takes a good one', async (_, addBad, msg) => {
    const node = await scriptedNode(BASE);
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dbPath = join(dir, 'index.db');
    const settings = { DAEMON_URL: node.url, COIN: coin.name, NET: coin.net, DB_DIRECTORY: dir };
    const run = startIndexer({ ...settings, PROMETHEUS_PORT: '0' });
    cleanups.push(() => run.kill('SIGKILL'));
    await run.waitFor(caughtUpAt(103));
    expect(await rejectedGauge(run)).toBe(0);
    const before = tableDigests(dbPath);
    const badHash = addBad(node);

    const rejected = await run.waitFor((e) => e.event === 'block_rejected');
    expect(rejected).toMatchObject({ level: 'error', height: 104, hash: badHash, retrying: true });
    expect(String(rejected.error)).toContain(`block 104 ${badHash}: `);
    expect(String(rejected.error)).toMatch(msg);
    // Asked for again (POLL_INTERVAL_MS 100, doubling), logged once, nothing of it written, and
    // reads still answered from block 103.
    await sleep(1_600);
    expect(node.asked.get(badHash) ?? 0).toBeGreaterThanOrEqual(3);
    expect(run.events.filter((e) => e.level === 'error')).toHaveLength(1);
    expect(await servedHeight(run)).toBe(103);
    expect(await rejectedGauge(run)).toBe(1);
    expect(tableDigests(dbPath)).toEqual(before);

    repair(node);
    await run.waitFor(caughtUpAt(104, headerInfo(GOOD_104, 'sha256d').hash), 15_000);
    expect(run.events.find((e) => e.event === 'block_rejection_over')).toMatchObject({
      height: 104,
      hash: badHash,
    });
    expect(await rejectedGauge(run)).toBe(0);
    expect(await stopIndexer(run)).toBe(0);
    expectIndexMatchesReference(dbPath, readReferenceChain([...BASE, GOOD_104], 'sha256d'));
  });

  it('keeps the whole blocks before a bad one met during initial sync', async () => {
    const chain = growChain(coin, BASE, 3, 2, 'initial');
    // Height 50's body is cut short; its header (and so its hash and block 51's link) is intact.
    chain[50] = (chain[50] ?? '').slice(0, -8);
    const node = await scriptedNode(chain);
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const run = startIndexer({
      DAEMON_URL: node.url,
      COIN: coin.name,
      NET: coin.net,
      DB_DIRECTORY: dir,
      FLUSH_BLOCKS: '100',
    });
    cleanups.push(() => run.kill('SIGKILL'));
    const error = await run.waitFor((e) => e.event === 'block_rejected');
    expect(error).toMatchObject({ level: 'error', height: 50 });
    expect(await servedHeight(run)).toBe(49);
    expect(await stopIndexer(run)).toBe(0);
    const dbPath = join(dir, 'index.db');
    expect(expectWholeBlocks(dbPath)).toBe(49);
    expectIndexMatchesReference(dbPath, readReferenceChain(BASE.slice(0, 50), 'sha256d'));
  });
});
