// BlockWriter and unwindTipBlock in process, on real chain files and blocks built on top of them;
// expectations come from the independent reference reader (test/support/reference-chain.ts).
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin, type Coin } from '../core/coins.ts';
import { buildBlock, buildCoinbase, serializeTx } from '../tools/block-builder.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import {
  CHAIN_TABLES,
  expectIndexMatchesReference,
  headerInfo,
  p2pkh,
  spend,
  tableDigests,
  tempDir,
  txidOf,
} from '../test/indexer-support.ts';
import { readReferenceChain } from '../test/support/reference-chain.ts';
import { unwindTipBlock } from './block-unwinder.ts';
import { BlockError, BlockWriter } from './block-writer.ts';
import { openIndexDb, type IndexDb } from './db.ts';
import { verifyBlock } from './sync.ts';

const ROOT = join(import.meta.dirname, '..');
const BITCOIN = loadChainFile(join(ROOT, 'data/bitcoin_mainnet_0-255.json'));
const BCH = loadChainFile(join(ROOT, 'data/bitcoincash_regtest_0-103.json'));
const RADIANT = loadChainFile(join(ROOT, 'data/radiant_mainnet_0-1.json'));
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshDb(coin: Coin): { db: IndexDb; path: string } {
  const dir = tempDir();
  dirs.push(dir);
  const path = join(dir, 'index.db');
  return { db: openIndexDb(path, coin), path };
}

function hashName(coin: Coin): 'sha256d' | 'sha512_256d' {
  return coin.radiant ? 'sha512_256d' : 'sha256d';
}

/** Applies blocks on top of the index's tip, `flushBlocks` per transaction. */
function applyBlocks(db: IndexDb, coin: Coin, hexes: string[], flushBlocks: number): void {
  const writer = new BlockWriter(db, coin, 200);
  let height = db.readChainState().height + 1;
  for (let i = 0; i < hexes.length; i += flushBlocks) {
    db.transaction(() => {
      writer.beginFlush();
      for (const hex of hexes.slice(i, i + flushBlocks)) {
        const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
        writer.applyBlock(verifyBlock(bytes, height, headerInfo(hex, hashName(coin)).hash, coin));
        height += 1;
      }
      writer.endFlush();
    });
  }
}

function unwind(db: IndexDb, coin: Coin, count: number): void {
  db.transaction(() => {
    for (let i = 0; i < count; i++) unwindTipBlock(db, coin, 200);
  });
}

/** A block on top of `prevHex` with a coinbase plus `txs`. */
function childBlock(
  coin: Coin,
  prevHex: string,
  height: number,
  txs: Uint8Array[],
  tag = 'a'
): string {
  const prev = headerInfo(prevHex, hashName(coin));
  const coinbase = buildCoinbase(height, p2pkh('11'.repeat(20)), 50_0000_0000n, Buffer.from(tag));
  const time = prev.time + 600;
  return buildBlock({ coin, prevHash: prev.hash, txs: [coinbase, ...txs], time });
}

const display = (internal: Uint8Array): string => Buffer.from(internal).reverse().toString('hex');
const internal = (displayHex: string): Buffer => Buffer.from(displayHex, 'hex').reverse();

describe('BlockWriter on Bitcoin mainnet 0-255', () => {
  const coin = getCoin('Bitcoin', 'mainnet');
  const ref = readReferenceChain(BITCOIN, 'sha256d');

  it('indexes exactly what the reference reader finds, in flushes of 7 blocks', () => {
    const { db, path } = freshDb(coin);
    applyBlocks(db, coin, BITCOIN, 7);
    const state = db.readChainState();
    db.close();
    expect(state.height).toBe(255);
    const expectedTxCount = ref.blockTxids.slice(1).reduce((sum, ids) => sum + ids.length, 0);
    expect(state.txCount).toBe(expectedTxCount);
    expectIndexMatchesReference(path, ref);
  });

  it('records block 9 coinbase output and its spend in block 170; skips genesis coinbase', () => {
    const { db, path } = freshDb(coin);
    // Up to 170: later blocks spend block 170's change again.
    applyBlocks(db, coin, BITCOIN.slice(0, 171), 50);
    db.close();
    const block9Coinbase = ref.blockTxids[9]?.[0] ?? '';
    const block170Spend = ref.blockTxids[170]?.[1] ?? '';
    const paid = [...ref.history].find(([, items]) => items[0]?.txHash === block9Coinbase);
    expect(paid).toBeDefined();
    const [scriptHash] = paid ?? [''];
    const sqlite = new Database(path, { readonly: true });
    const hashx = internal(scriptHash);
    const history = sqlite
      .prepare(
        `SELECT t.txid, t.height FROM history h JOIN txs t USING (tx_num)
         WHERE h.hashx = ? ORDER BY tx_num`
      )
      .all(hashx) as { txid: Buffer; height: number }[];
    expect(history.map((r) => [display(r.txid), r.height])).toEqual([
      [block9Coinbase, 9],
      [block170Spend, 170],
    ]);
    const utxos = sqlite
      .prepare('SELECT t.txid, u.vout FROM utxos u JOIN txs t USING (tx_num) WHERE u.hashx = ?')
      .all(hashx) as { txid: Buffer; vout: number }[];
    // Block 170's tx pays 10 coins to another key and sends the change (output 1) back.
    expect(utxos.map((r) => [display(r.txid), r.vout])).toEqual([
      [block170Spend, 1],
    ]);
    const genesisTxid = internal(ref.blockTxids[0]?.[0] ?? '');
    const countTxid = sqlite.prepare('SELECT COUNT(*) AS n FROM txs WHERE txid = ?');
    const genesisRows = countTxid.get(genesisTxid);
    expect(genesisRows).toEqual({ n: 0 });
    const genesis = sqlite.prepare('SELECT tx_count FROM headers WHERE height = 0').get();
    expect(genesis).toEqual({ tx_count: 0 });
    sqlite.close();
  });

  it('gives the same tables whatever the flush size', () => {
    const one = freshDb(coin);
    applyBlocks(one.db, coin, BITCOIN, 1);
    one.db.close();
    const all = freshDb(coin);
    applyBlocks(all.db, coin, BITCOIN, 256);
    all.db.close();
    expect(tableDigests(all.path)).toEqual(tableDigests(one.path));
  });
});

describe('BlockWriter on Bitcoin Cash regtest with built blocks', () => {
  const coin = getCoin('BitcoinCash', 'regtest');
  const base = readReferenceChain(BCH, 'sha256d');
  const [first, second] = [...base.unspent.values()].flat();

  // Block 104: tx1 spends an output of tx2 (same block, later position) and carries both kinds
  // of unspendable output; tx2 spends a chain utxo.
  function block104(): { hex: string; tx1: string; tx2: string } {
    const tx2 = serializeTx({
      version: 1,
      inputs: [spend(first?.txid ?? '', first?.vout ?? 0)],
      outputs: [{ value: 1_000n, script: p2pkh('22'.repeat(20)) }],
      locktime: 0,
    });
    const tx1 = serializeTx({
      version: 1,
      inputs: [spend(txidOf(tx2), 0)],
      outputs: [
        { value: 0n, script: Buffer.from('6a0568656c6c6f', 'hex') },
        { value: 0n, script: Buffer.from('006a0401020304', 'hex') },
        { value: 900n, script: p2pkh('33'.repeat(20)) },
      ],
      locktime: 0,
    });
    const hex = childBlock(coin, BCH[103] ?? '', 104, [tx1, tx2]);
    return { hex, tx1: txidOf(tx1), tx2: txidOf(tx2) };
  }

  it('adds every output before spending, and skips OP_RETURN outputs', () => {
    const { db, path } = freshDb(coin);
    const built = block104();
    applyBlocks(db, coin, [...BCH, built.hex], 10);
    db.close();
    expectIndexMatchesReference(path, readReferenceChain([...BCH, built.hex], 'sha256d'));
    const sqlite = new Database(path, { readonly: true });
    const vouts = sqlite
      .prepare(
        'SELECT u.vout FROM utxos u JOIN txs t USING (tx_num) WHERE t.txid = ? ORDER BY u.vout'
      )
      .all(internal(built.tx1));
    sqlite.close();
    expect(vouts).toEqual([{ vout: 2 }]);
  });

  it('refuses a block that spends an output the index does not have', () => {
    const { db } = freshDb(coin);
    applyBlocks(db, coin, BCH, 104);
    const bogus = serializeTx({
      version: 1,
      inputs: [spend('ab'.repeat(32), 0)],
      outputs: [{ value: 1n, script: p2pkh('44'.repeat(20)) }],
      locktime: 0,
    });
    const hex = childBlock(coin, BCH[103] ?? '', 104, [bogus]);
    expect(() => applyBlocks(db, coin, [hex], 1)).toThrow(BlockError);
    expect(() => applyBlocks(db, coin, [hex], 1)).toThrow(
      /block 104 [0-9a-f]{64}: tx [0-9a-f]{64} spends abab/
    );
    expect(db.readChainState().height).toBe(103);
    db.close();
  });

  it('refuses a block that does not link to the tip', () => {
    const { db } = freshDb(coin);
    applyBlocks(db, coin, BCH.slice(0, 50), 50);
    expect(() => applyBlocks(db, coin, [BCH[51] ?? ''], 1)).toThrow(
      /block 50 [0-9a-f]{64}: does not link/
    );
    db.close();
  });

  it('unwinds 3 blocks and applies a new branch, ending equal to a clean sync of it', () => {
    const losing104 = block104();
    const losing105 = childBlock(coin, losing104.hex, 105, [], 'lose');
    const winning103 = childBlock(coin, BCH[102] ?? '', 103, [], 'win');
    const winnerSpend = serializeTx({
      version: 1,
      inputs: [spend(second?.txid ?? '', second?.vout ?? 0)],
      outputs: [{ value: 5n, script: p2pkh('55'.repeat(20)) }],
      locktime: 0,
    });
    const winning104 = childBlock(coin, winning103, 104, [winnerSpend], 'win');
    const winning105 = childBlock(coin, winning104, 105, [], 'win');
    const winner = [...BCH.slice(0, 103), winning103, winning104, winning105];

    const reorged = freshDb(coin);
    applyBlocks(reorged.db, coin, [...BCH, losing104.hex, losing105], 20);
    unwind(reorged.db, coin, 3);
    expect(reorged.db.readChainState().height).toBe(102);
    applyBlocks(reorged.db, coin, winner.slice(103), 1);
    reorged.db.close();

    const clean = freshDb(coin);
    applyBlocks(clean.db, coin, winner, 20);
    clean.db.close();
    const expected = tableDigests(clean.path, CHAIN_TABLES);
    expect(tableDigests(reorged.path, CHAIN_TABLES)).toEqual(expected);
    expectIndexMatchesReference(reorged.path, readReferenceChain(winner, 'sha256d'));
  });

  it('unwinding back to an earlier height restores exactly the earlier index', () => {
    const before = freshDb(coin);
    applyBlocks(before.db, coin, BCH, 104);
    before.db.close();
    const after = freshDb(coin);
    applyBlocks(after.db, coin, [...BCH, block104().hex], 3);
    unwind(after.db, coin, 1);
    after.db.close();
    expect(tableDigests(after.path, CHAIN_TABLES)).toEqual(tableDigests(before.path, CHAIN_TABLES));
  });
});

describe('BlockWriter on Radiant', () => {
  const coin = getCoin('Radiant', 'mainnet');
  // DESIGN §3 / test/fixtures/radiant/SOURCES.md worked examples for this key.
  const KEY = '4f9ab47a237441c0dc61dcd39fd92709f281b033';
  const REF = Buffer.from('aa'.repeat(32) + '07000000', 'hex');
  const NFT = Buffer.concat([Buffer.of(0xd8), REF, Buffer.of(0x75), p2pkh(KEY)]);
  const FT_TAIL = Buffer.from('dec0e9aa76e378e4a269e69d', 'hex');
  const FT = Buffer.concat([p2pkh(KEY), Buffer.of(0xbd, 0xd0), REF, FT_TAIL]);
  const WORKED = {
    p2pkh: '9932d8a64601168b894a4a2a4fbc72b3e71698a3c09e8010a6f297f7b9bc03fd',
    nft: 'ee250f5db97333f5aefd8e73bef9d3235c952aeb1fa11c1393121463d1879b5d',
    ft: '8161a9d28d935e6a2f04085e981d5eca65bd5ac6a4fd6dad608f8873ac76c97e',
  };

  it('indexes refs and zero-ref script hashes, and unwinds them', () => {
    const { db, path } = freshDb(coin);
    const block1Coinbase = txidOf(Buffer.from((RADIANT[1] ?? '').slice(2 * 81), 'hex'));
    const tokenTx = serializeTx({
      version: 2,
      inputs: [spend(block1Coinbase, 0)],
      outputs: [
        { value: 1n, script: NFT },
        { value: 2n, script: FT },
        { value: 3n, script: p2pkh(KEY) },
      ],
      locktime: 0,
    });
    const block2 = childBlock(coin, RADIANT[1] ?? '', 2, [tokenTx]);
    applyBlocks(db, coin, [...RADIANT, block2], 5);
    const before = db.prepare('SELECT COUNT(*) AS n FROM utxos').get();
    db.close();

    const sqlite = new Database(path, { readonly: true });
    const rows = sqlite
      .prepare(
        `SELECT u.vout, u.hashx, u.refs FROM utxos u JOIN txs t USING (tx_num)
         WHERE t.txid = ? ORDER BY vout`
      )
      .all(internal(txidOf(tokenTx))) as { vout: number; hashx: Buffer; refs: Buffer | null }[];
    expect(rows.map((r) => display(r.hashx))).toEqual([
      WORKED.nft,
      WORKED.ft,
      WORKED.p2pkh,
    ]);
    expect(rows.map((r) => r.refs?.toString('hex') ?? null)).toEqual([
      `${REF.toString('hex')}01`,
      `${REF.toString('hex')}00`,
      null,
    ]);
    const refRows = sqlite.prepare('SELECT ref FROM refs').all() as { ref: Buffer }[];
    expect(refRows.map((r) => r.ref.toString('hex'))).toEqual([REF.toString('hex')]);
    sqlite.close();

    const reopened = openIndexDb(path, coin);
    unwind(reopened, coin, 1);
    expect(reopened.prepare('SELECT COUNT(*) AS n FROM refs').get()).toEqual({ n: 0 });
    // Block 1's coinbase output is back, the token outputs are gone.
    expect(reopened.prepare('SELECT COUNT(*) AS n FROM utxos').get()).toEqual({ n: 1 });
    // Before: the three token-tx outputs and block 2's coinbase; block 1's output was spent.
    expect(before).toEqual({ n: 4 });
    reopened.close();
  });

  it('hashes the Radiant header with SHA-512/256d (block 1 links to genesis)', () => {
    const { db } = freshDb(coin);
    applyBlocks(db, coin, RADIANT, 2);
    const tip = db.readChainState();
    db.close();
    const header = Buffer.from((RADIANT[1] ?? '').slice(0, 160), 'hex');
    const once = createHash('sha512-256').update(header).digest();
    const twice = createHash('sha512-256').update(once).digest();
    expect(Buffer.from(tip.tipHash ?? []).equals(twice)).toBe(true);
    expect(tip.txCount).toBe(1);
  });
});
