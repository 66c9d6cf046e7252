// A block the indexer must refuse (does not parse, wrong merkle root, does not link, not the block
// asked for): it stops with one error line naming height and hash, exit code 1, and the index
// keeps only whole blocks before it. A scripted JSON-RPC node on 127.0.0.1 serves the blocks.
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
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
  tableDigests,
  tempDir,
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
}

async function scriptedNode(blocks: string[]): Promise<ScriptedNode> {
  const node: ScriptedNode = { url: '', blocks: [...blocks], hashes: new Map(), served: new Map() };
  const hashOf = (height: number): string =>
    node.hashes.get(height) ?? headerInfo(node.blocks[height] ?? '', 'sha256d').hash;
  const answer = (method: string, params: unknown[]): { result?: unknown; error?: unknown } => {
    if (method === 'getblockcount') return { result: node.blocks.length - 1 };
    if (method === 'getblockhash') return { result: hashOf(Number(params[0])) };
    if (method === 'getblock') {
      const wanted = String(params[0]);
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

describe('indexer refusing a block', () => {
  it.each(CASES)('stops when block 104 %s, index unchanged', async (_what, addBad, message) => {
    const node = await scriptedNode(BASE);
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dbPath = join(dir, 'index.db');
    const settings = { DAEMON_URL: node.url, COIN: coin.name, NET: coin.net, DB_DIRECTORY: dir };
    const run = startIndexer(settings);
    await run.waitFor(caughtUpAt(103));
    const before = tableDigests(dbPath);
    const badHash = addBad(node);

    const { code } = await run.exited;
    expect(code).toBe(1);
    const errors = run.events.filter((e) => e.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ event: 'block_rejected', height: 104, hash: badHash });
    expect(String(errors[0]?.error)).toContain(`block 104 ${badHash}: `);
    expect(String(errors[0]?.error)).toMatch(message);
    expect(tableDigests(dbPath)).toEqual(before);
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
    const { code } = await run.exited;
    expect(code).toBe(1);
    const error = run.events.find((e) => e.level === 'error');
    expect(error).toMatchObject({ event: 'block_rejected', height: 50 });
    const dbPath = join(dir, 'index.db');
    expect(expectWholeBlocks(dbPath)).toBe(49);
    expectIndexMatchesReference(dbPath, readReferenceChain(BASE.slice(0, 50), 'sha256d'));
  });
});
