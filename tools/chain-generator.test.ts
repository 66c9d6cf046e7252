// Generated chains: deterministic, valid (links, merkle roots, proof of work), wallet-like, and
// indexed exactly as the independent reference reader reads them (test/support/reference-*.ts).
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin, type Coin } from '../core/coins.ts';
import { BlockWriter } from '../indexer/block-writer.ts';
import { openIndexDb } from '../indexer/db.ts';
import { Daemon } from '../indexer/daemon.ts';
import { Sync, verifyBlock } from '../indexer/sync.ts';
import { expectIndexMatchesReference, tempDir } from '../test/indexer-support.ts';
import { readReferenceChain, type ReferenceChain } from '../test/support/reference-chain.ts';
import { referencePushRefs, type ReferenceRules } from '../test/support/reference-rules.ts';
import { ChainGenerator, type ChainGeneratorOptions } from './chain-generator.ts';
import { startSimNode } from './sim-node.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function generate(options: ChainGeneratorOptions): string[] {
  return [...new ChainGenerator(options).blocks()].map(hex);
}

function rulesOf(coin: Coin): ReferenceRules {
  return { radiant: coin.radiant, segwit: coin.segwit };
}

function headerHashName(coin: Coin): 'sha256d' | 'sha512_256d' {
  return coin.radiant ? 'sha512_256d' : 'sha256d';
}

const sha256d = (data: Buffer): Buffer =>
  createHash('sha256').update(createHash('sha256').update(data).digest()).digest();

// Bitcoin's merkle rule, computed here from the reference txids (display hex).
function merkleRootHex(txids: string[]): string {
  let level: Buffer[] = txids.map((txid) => Buffer.from(txid, 'hex').reverse());
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Buffer;
      next.push(sha256d(Buffer.concat([left, level[i + 1] ?? left])));
    }
    level = next;
  }
  return Buffer.from(level[0] ?? Buffer.alloc(32)).reverse().toString('hex');
}

const SMALL = { blocks: 14, txsPerBlock: 40, seed: 7, keys: 300 };
const COINS: [string, string][] = [
  ['Radiant', 'regtest'],
  ['BitcoinCash', 'regtest'],
  ['Bitcoin', 'regtest'],
];

describe('ChainGenerator', () => {
  it('gives the same bytes for the same seed and other bytes for another', () => {
    const coin = getCoin('Radiant', 'regtest');
    const a = generate({ coin, ...SMALL, blocks: 3 });
    expect(generate({ coin, ...SMALL, blocks: 3 })).toEqual(a);
    const b = generate({ coin, ...SMALL, blocks: 3, seed: 8 });
    expect(b[0]).toBe(a[0]); // the same genesis block
    expect(b[3]).not.toBe(a[3]);
  });

  it.each(COINS)('mines linked %s %s blocks, valid merkle roots, regtest work', (name, net) => {
    const coin = getCoin(name, net);
    const blocks = generate({ coin, ...SMALL });
    const ref = readReferenceChain(blocks, headerHashName(coin), rulesOf(coin));
    expect(ref.blockHashes[0]).toBe(coin.genesisHash);
    // Compact 0x207fffff: mantissa 0x7fffff shifted by 8 * (0x20 - 3) bits.
    const target = 0x7fffffn << BigInt(8 * (0x20 - 3));
    for (let height = 1; height < blocks.length; height++) {
      const header = ref.headers[height] as Buffer;
      const prev = Buffer.from(header.subarray(4, 36)).reverse().toString('hex');
      expect(prev).toBe(ref.blockHashes[height - 1]);
      const root = Buffer.from(header.subarray(36, 68)).reverse().toString('hex');
      expect(root).toBe(merkleRootHex(ref.blockTxids[height] ?? []));
      expect(BigInt(`0x${ref.blockHashes[height]}`) <= target).toBe(true);
    }
    // A coinbase per block; payments from block 2 on (block 1 has nothing to spend yet).
    expect(ref.txs.size).toBe(SMALL.blocks + (SMALL.blocks - 1) * SMALL.txsPerBlock);
  });

  it('writes Radiant refs, v3 txs, OP_RETURN data and spends of later txs in a block', () => {
    const coin = getCoin('Radiant', 'regtest');
    const blocks = generate({ coin, ...SMALL });
    const ref = readReferenceChain(blocks, 'sha512_256d', rulesOf(coin));
    const txs = [...ref.txs.values()];
    expect(txs.filter((tx) => tx.raw.readInt32LE(0) === 3).length).toBeGreaterThan(10);
    const kinds = new Set<string>();
    for (const outputs of ref.unspent.values()) {
      for (const output of outputs) {
        for (const { kind } of referencePushRefs(output.script)) kinds.add(kind);
      }
    }
    expect([...kinds].sort()).toEqual(['normal', 'single']);
    expect(ref.refs.size).toBeGreaterThan(5);
    expect(txs.some((tx) => tx.raw.includes(Buffer.from([0x6a, 20])))).toBe(true);
    expect(countForwardSpends(ref)).toBeGreaterThan(0);
    for (const txids of ref.blockTxids.slice(1)) {
      const rest = txids.slice(1).map((txid) => Buffer.from(txid, 'hex').reverse());
      const sorted = [...rest].sort(Buffer.compare);
      expect(rest).toEqual(sorted); // canonical order: internal txid bytes ascending
    }
  });

  it('reuses keys with Zipf frequencies: a few long histories, mostly short ones', () => {
    const coin = getCoin('BitcoinCash', 'regtest');
    const blocks = generate({ coin, blocks: 20, txsPerBlock: 60, seed: 3, keys: 2000 });
    const lengths = [...readReferenceChain(blocks, 'sha256d').history.values()]
      .map((entries) => entries.length)
      .sort((a, b) => b - a);
    const median = lengths[Math.floor(lengths.length / 2)] ?? 0;
    expect(lengths[0]).toBeGreaterThan(20 * median);
    expect(lengths.length).toBeGreaterThan(500);
  });

  it('writes segwit spends on Bitcoin', () => {
    const coin = getCoin('Bitcoin', 'regtest');
    const blocks = generate({ coin, ...SMALL });
    const ref = readReferenceChain(blocks, 'sha256d', rulesOf(coin));
    // BIP144 marker and flag right after the version.
    const segwit = [...ref.txs.values()].filter((tx) => tx.raw[4] === 0 && tx.raw[5] === 1);
    expect(segwit.length).toBeGreaterThan(20);
  });
});

// Inputs spending an output of a tx placed later in the same block.
function countForwardSpends(ref: ReferenceChain): number {
  let count = 0;
  for (const tx of ref.txs.values()) {
    const raw = tx.raw;
    const inputs = raw[4] ?? 0;
    let at = 5;
    for (let i = 0; i < inputs; i++) {
      const prev = Buffer.from(raw.subarray(at, at + 32)).reverse().toString('hex');
      const parent = ref.txs.get(prev);
      if (parent !== undefined && parent.height === tx.height && parent.position > tx.position) {
        count += 1;
      }
      const scriptBytes = raw[at + 36] ?? 0;
      at += 36 + 1 + scriptBytes + 4;
    }
  }
  return count;
}

function expectRefsMatch(dbPath: string, ref: ReferenceChain): void {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT r.ref AS ref, t.txid AS txid FROM refs r JOIN txs t ON t.tx_num = r.tx_num
         ORDER BY r.ref, r.tx_num`
      )
      .all() as { ref: Buffer; txid: Buffer }[];
    const got = new Map<string, string[]>();
    for (const row of rows) {
      const list = got.get(row.ref.toString('hex')) ?? [];
      list.push(Buffer.from(row.txid).reverse().toString('hex'));
      got.set(row.ref.toString('hex'), list);
    }
    expect(got).toEqual(ref.refs);
  } finally {
    db.close();
  }
}

describe('generated chains in the index', () => {
  it.each(COINS)('BlockWriter indexes a %s %s chain as the reference reads it', (name, net) => {
    const coin = getCoin(name, net);
    const blocks = generate({ coin, ...SMALL });
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'index.db');
    const db = openIndexDb(path, coin);
    const writer = new BlockWriter(db, coin, 200);
    const ref = readReferenceChain(blocks, headerHashName(coin), rulesOf(coin));
    for (let from = 0; from < blocks.length; from += 5) {
      db.transaction(() => {
        writer.beginFlush();
        blocks.slice(from, from + 5).forEach((blockHex, i) => {
          const bytes = new Uint8Array(Buffer.from(blockHex, 'hex'));
          writer.applyBlock(verifyBlock(bytes, from + i, ref.blockHashes[from + i] ?? '', coin));
        });
        writer.endFlush();
      });
    }
    db.close();
    expectIndexMatchesReference(path, ref);
    expectRefsMatch(path, ref);
  });

  it('syncs a Radiant chain from the sim node through the parse thread', async () => {
    const coin = getCoin('Radiant', 'regtest');
    const blocks = generate({ coin, ...SMALL, blocks: 30 });
    const password = 'sim-pass-0123456789';
    const node = await startSimNode({ coin, blocks, user: 'rpc', password });
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'index.db');
    const db = openIndexDb(path, coin);
    const controller = new AbortController();
    const url = `http://127.0.0.1:${node.port}`;
    const daemon = new Daemon({ url, user: 'rpc', password, signal: controller.signal });
    const options = { db, daemon, coin, reorgLimit: 50, flushBlocks: 7, pollIntervalMs: 20 };
    const running = new Sync({ ...options, signal: controller.signal, fetchBlocks: 4 }).run();
    const deadline = Date.now() + 20_000;
    while (db.readChainState().height < 30 && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 20));
    }
    controller.abort();
    await running;
    await node.close();
    db.close();
    const ref = readReferenceChain(blocks, 'sha512_256d', rulesOf(coin));
    expectIndexMatchesReference(path, ref);
    expectRefsMatch(path, ref);
  });
});
