// The mempool tables in process, without a node: refresh diffs (any order, unknown inputs,
// replacements), and blocks that mine, double-spend or unwind mempool txs inside their own
// transaction. Statuses are checked against the independent ledger (test/support).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBlock } from '../core/block.ts';
import { getCoin } from '../core/coins.ts';
import { parseTx, type Tx } from '../core/tx.ts';
import { buildBlock, buildCoinbase } from '../tools/block-builder.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { headerInfo, tempDir } from '../test/indexer-support.ts';
import { indexStatuses, keyHash, p2pkhScript, txHex, txidOfHex } from '../test/mempool-support.ts';
import { ledgerStatuses } from '../test/support/independent-ledger.ts';
import { readReferenceChain } from '../test/support/reference-chain.ts';
import { BlockWriter } from './block-writer.ts';
import { openIndexDb, type IndexDb } from './db.ts';
import {
  applyMempoolDiff,
  parentsFirst,
  virtualSizeBytes,
  weightUnits,
} from './mempool-apply.ts';
import { MempoolStore } from './mempool-store.ts';
import { unwindTo } from './reorg.ts';
import { verifyBlock } from './sync.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const BASE = loadChainFile(join(import.meta.dirname, '../data/bitcoincash_regtest_0-103.json'));
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** An index of the chain file plus what the test adds, with the hex it holds and its mempool. */
class Harness {
  readonly db: IndexDb;
  readonly path: string;
  readonly blocks = [...BASE];
  mempool: string[] = [];
  private readonly writer: BlockWriter;

  constructor() {
    const dir = tempDir('mempool-apply-');
    dirs.push(dir);
    this.path = join(dir, 'index.db');
    this.db = openIndexDb(this.path, coin);
    this.writer = new BlockWriter(this.db, coin, 200);
    this.mine(BASE, false);
  }

  /** Applies blocks (all in one transaction); they join `blocks` unless `record` is false. */
  mine(hexes: string[], record = true): void {
    this.db.transaction(() => {
      this.writer.beginFlush();
      for (const hex of hexes) {
        const height = this.writer.tip.height + 1;
        const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
        this.writer.applyBlock(verifyBlock(bytes, height, headerInfo(hex, 'sha256d').hash, coin));
      }
      this.writer.endFlush();
    });
    if (record) this.blocks.push(...hexes);
  }

  /** A block on the tip holding `txs` after its coinbase. */
  block(txs: string[], tag = 'next'): string {
    const prevHex = this.blocks[this.blocks.length - 1] ?? '';
    const prev = headerInfo(prevHex, 'sha256d');
    const miner = p2pkhScript(keyHash('miner'));
    const coinbase = buildCoinbase(this.blocks.length, miner, 1n, Buffer.from(tag));
    const body = [coinbase, ...txs.map((tx) => Buffer.from(tx, 'hex'))];
    return buildBlock({ coin, prevHash: prev.hash, txs: body, time: prev.time + 1 });
  }

  /** A refresh that found `added` new and `removed` gone (display txids); the mempool as given. */
  refresh(added: string[], removed: string[] = []) {
    const store = new MempoolStore(this.db, coin);
    const diff = {
      added: added.map((hex) => parseTx(new Uint8Array(Buffer.from(hex, 'hex')), coin)),
      removed: removed.map((txid) => new Uint8Array(Buffer.from(txid, 'hex').reverse())),
      nowSec: 1_700_000_000,
    };
    return this.db.transaction(() => applyMempoolDiff(store, diff, 200));
  }

  rows(): Record<string, number> {
    const rows = this.db.prepare('SELECT txid, height FROM mempool_txs').all() as {
      txid: Buffer;
      height: number;
    }[];
    const display = (txid: Buffer): string => Buffer.from(txid).reverse().toString('hex');
    return Object.fromEntries(rows.map((row) => [display(row.txid), row.height]));
  }

  expectStatuses(): void {
    expect(indexStatuses(this.path)).toEqual(ledgerStatuses(this.blocks, this.mempool, false));
  }

  lastChange(): { seq: number; hashxes: number } {
    const row = this.db
      .prepare('SELECT seq, length(hashxes) AS bytes FROM changes ORDER BY seq DESC LIMIT 1')
      .get() as { seq: number; bytes: number };
    return { seq: row.seq, hashxes: row.bytes / 32 };
  }
}

/** Unspent outputs of the chain file (reference reader), to fund the test txs. */
function funds(): { txid: string; vout: number; value: bigint }[] {
  return [...readReferenceChain(BASE, 'sha256d').unspent.values()]
    .flat()
    .filter((out) => out.value > 100_000n)
    .sort((a, b) => (a.txid < b.txid ? -1 : 1));
}

const pay = (label: string): Buffer => p2pkhScript(keyHash(label));

describe('applyMempoolDiff', () => {
  const [first, second, third] = funds();
  if (first === undefined || second === undefined || third === undefined) {
    throw new Error('the chain file has too few unspent outputs');
  }
  const parent = txHex([first], [{ value: first.value - 1_000n, script: pay('a') }]);
  const child = txHex([{ txid: txidOfHex(parent), vout: 0 }], [
    { value: first.value - 3_000n, script: pay('b') },
  ]);

  it('takes a child before its parent, in one change, with the child at height -1', () => {
    const h = new Harness();
    const seqBefore = h.db.readChainState().lastChangeSeq;
    const applied = h.refresh([child, parent]);
    expect(applied).toMatchObject({ added: 2, removed: 0, skipped: [] });
    expect(h.rows()).toEqual({ [txidOfHex(parent)]: 0, [txidOfHex(child)]: -1 });
    h.mempool = [parent, child];
    h.expectStatuses();
    // One changes row naming the funding key, a and b; chain_state points at it.
    expect(h.lastChange()).toEqual({ seq: seqBefore + 1, hashxes: 3 });
    expect(h.db.readChainState().lastChangeSeq).toBe(seqBefore + 1);
  });

  it('holds back a tx whose input is unknown, and takes it once the parent comes', () => {
    const h = new Harness();
    const applied = h.refresh([child]);
    expect(applied.added).toBe(0);
    expect(applied.skipped.map((tx) => Buffer.from(tx.txid).reverse().toString('hex'))).toEqual([
      txidOfHex(child),
    ]);
    expect(h.rows()).toEqual({});
    expect(h.refresh([parent, child]).added).toBe(2);
    expect(h.rows()).toEqual({ [txidOfHex(parent)]: 0, [txidOfHex(child)]: -1 });
  });

  it('replaces a tx by a double spend given in the same refresh', () => {
    const h = new Harness();
    h.refresh([parent]);
    const rival = txHex([first], [{ value: first.value - 5_000n, script: pay('rival') }]);
    expect(h.refresh([rival], [txidOfHex(parent)])).toMatchObject({ added: 1, removed: 1 });
    expect(h.rows()).toEqual({ [txidOfHex(rival)]: 0 });
    h.mempool = [rival];
    h.expectStatuses();
  });

  it('takes the descendants of a removed tx with it', () => {
    const h = new Harness();
    h.refresh([parent, child]);
    expect(h.refresh([], [txidOfHex(parent)])).toMatchObject({ added: 0, removed: 2 });
    expect(h.rows()).toEqual({});
    h.expectStatuses();
  });

  it('orders parents first however deep the chain', () => {
    const parse = (hex: string): Tx => parseTx(new Uint8Array(Buffer.from(hex, 'hex')), coin);
    const txs = [parent, child].map(parse);
    const order = parentsFirst([txs[1], txs[0], txs[1]].filter((tx) => tx !== undefined));
    expect(order.map((tx) => Buffer.from(tx.txid).reverse().toString('hex'))).toEqual([
      txidOfHex(parent),
      txidOfHex(child),
    ]);
  });
});

describe('blocks and the mempool, in one transaction', () => {
  const [first, second] = funds();
  if (first === undefined || second === undefined) throw new Error('too few unspent outputs');
  const parent = txHex([first], [{ value: first.value - 1_000n, script: pay('a') }]);
  const child = txHex([{ txid: txidOfHex(parent), vout: 0 }], [
    { value: first.value - 3_000n, script: pay('b') },
  ]);
  const other = txHex([second], [{ value: second.value - 1_000n, script: pay('c') }]);
  const otherChild = txHex([{ txid: txidOfHex(other), vout: 0 }], [
    { value: second.value - 2_000n, script: pay('d') },
  ]);

  it('a block mining the parent removes it and sets the child to 0', () => {
    const h = new Harness();
    h.refresh([parent, child]);
    h.mine([h.block([parent])]);
    expect(h.rows()).toEqual({ [txidOfHex(child)]: 0 });
    h.mempool = [child];
    h.expectStatuses();
  });

  it('a block double-spending an input removes the tx and its descendants', () => {
    const h = new Harness();
    h.refresh([parent, child, other, otherChild]);
    const conflict = txHex([second], [{ value: second.value - 9_000n, script: pay('winner') }]);
    h.mine([h.block([conflict])]);
    expect(h.rows()).toEqual({ [txidOfHex(parent)]: 0, [txidOfHex(child)]: -1 });
    h.mempool = [parent, child];
    h.expectStatuses();
  });

  it('unwinding the block of a parent removes its mempool child (the node re-adds both)', () => {
    const h = new Harness();
    h.mine([h.block([parent])]);
    h.refresh([child]);
    expect(h.rows()).toEqual({ [txidOfHex(child)]: 0 });
    unwindTo(h.db, coin, 200, h.blocks.length - 2);
    h.blocks.pop();
    expect(h.rows()).toEqual({});
    h.mempool = [];
    h.expectStatuses();
    h.refresh([parent, child]);
    expect(h.rows()).toEqual({ [txidOfHex(parent)]: 0, [txidOfHex(child)]: -1 });
    h.mempool = [parent, child];
    h.expectStatuses();
  });

  it('leaves no status row for a script hash whose only mempool tx is gone', () => {
    const h = new Harness();
    h.refresh([other]);
    h.mempool = [other];
    h.expectStatuses();
    h.refresh([], [txidOfHex(other)]);
    const left = h.db.prepare('SELECT COUNT(*) AS n FROM mempool_outputs').get();
    expect(left).toEqual({ n: 0 });
    // Key c had only that tx: its status row goes (the ledger has no entry for it).
    h.mempool = [];
    h.expectStatuses();
  });
});

describe('virtual size (BIP141)', () => {
  const fixtures = join(import.meta.dirname, '../test/fixtures');
  const btc = getCoin('Bitcoin', 'regtest');
  // bitcoind's getrawtransaction verbose output of a P2WPKH spend (vectors/SOURCES.md).
  const p2wpkh = JSON.parse(
    readFileSync(join(fixtures, 'vectors/electrumx-tx-bitcoin_regtest_001_p2wpkh.json'), 'utf8')
  ) as { hex: string; size: number; vsize: number; weight: number; vin: { txid: string }[] };
  const p2wpkhTx = parseTx(new Uint8Array(Buffer.from(p2wpkh.hex, 'hex')), btc);

  // The stripped size worked out here from the BIP144 layout, apart from the code under test:
  // version 4 | marker, flag 2 | inputs and outputs | witness stacks | locktime 4.
  const strippedBytes = (hex: string): number => {
    const raw = Buffer.from(hex, 'hex');
    let at = 6;
    const compactSize = (): number => {
      const first = raw[at] ?? 0;
      const width = first < 0xfd ? 0 : first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
      const value = width === 0 ? first : raw.readUIntLE(at + 1, Math.min(width, 6));
      at += 1 + width;
      return value;
    };
    const skipVarBytes = (): void => {
      const length = compactSize();
      at += length;
    };
    const inputs = compactSize();
    for (let i = 0; i < inputs; i++) {
      at += 36;
      skipVarBytes();
      at += 4;
    }
    const outputs = compactSize();
    for (let i = 0; i < outputs; i++) {
      at += 8;
      skipVarBytes();
    }
    const bodyEnd = at;
    for (let i = 0; i < inputs; i++) {
      const items = compactSize();
      for (let j = 0; j < items && at < raw.length; j++) skipVarBytes();
    }
    expect(at + 4).toBe(raw.length);
    return 4 + (bodyEnd - 6) + 4;
  };

  it('matches bitcoind for a P2WPKH spend and the layout worked out here', () => {
    const stripped = strippedBytes(p2wpkh.hex);
    expect(3 * stripped + p2wpkh.size).toBe(p2wpkh.weight);
    expect(weightUnits(p2wpkhTx)).toBe(p2wpkh.weight);
    expect(virtualSizeBytes(p2wpkhTx)).toBe(p2wpkh.vsize);
    expect(virtualSizeBytes(p2wpkhTx)).toBeLessThan(p2wpkhTx.raw.length);
  });

  it('adds up to the weight bitcoind gives block 951658 (369 segwit txs of 374)', () => {
    const file = join(fixtures, 'bitcoin/bitcoin_mainnet_951658.json');
    const fixture = JSON.parse(readFileSync(file, 'utf8')) as { block: string; weight: number };
    const bytes = new Uint8Array(Buffer.from(fixture.block, 'hex'));
    const block = parseBlock(bytes, getCoin('Bitcoin', 'mainnet'));
    expect(block.txs).toHaveLength(374);
    // Block weight = 4 x (header 80 + tx count 3 bytes, 0xfd 0x76 0x01) + the txs' weights.
    const txsWeight = block.txs.reduce((sum, tx) => sum + weightUnits(tx), 0);
    expect(txsWeight + 4 * (80 + 3)).toBe(fixture.weight);
  });

  it('is the full size for a legacy tx', () => {
    const hex = txHex([{ txid: '11'.repeat(32), vout: 0 }], [{ value: 1_000n, script: pay('x') }]);
    const legacy = parseTx(new Uint8Array(Buffer.from(hex, 'hex')), coin);
    expect(virtualSizeBytes(legacy)).toBe(legacy.raw.length);
  });

  it('is the size stored for a segwit tx in mempool_txs', () => {
    const dir = tempDir('mempool-vsize-');
    dirs.push(dir);
    const db = openIndexDb(join(dir, 'index.db'), btc);
    try {
      // A tip, and the spent output confirmed in it: tx_num 0 paying 1.1 BTC (the tx pays out
      // 1.099992).
      db.prepare('UPDATE chain_state SET height = 1, tip_hash = ? WHERE id = 0').run(
        Buffer.alloc(32, 1)
      );
      const prevTxid = Buffer.from(p2wpkh.vin[0]?.txid ?? '', 'hex').reverse();
      db.prepare('INSERT INTO txs VALUES (0, ?, 1, 0, ?)').run(prevTxid, Buffer.from('00', 'hex'));
      const hashx = Buffer.alloc(32, 7);
      db.prepare('INSERT INTO utxos VALUES (0, 1, ?, ?, NULL)').run(hashx, 110_000_000n);
      const store = new MempoolStore(db, btc);
      const diff = { added: [p2wpkhTx], removed: [], nowSec: 1_700_000_000 };
      const applied = db.transaction(() => applyMempoolDiff(store, diff, 200));
      expect(applied.added).toBe(1);
      const row = db.prepare('SELECT size, fee FROM mempool_txs').get();
      expect(row).toEqual({ size: p2wpkh.vsize, fee: 110_000_000 - 109_999_200 });
    } finally {
      db.close();
    }
  });
});
