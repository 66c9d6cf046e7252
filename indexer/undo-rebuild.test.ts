// Undo rows rebuilt from the txs table against the rows BlockWriter wrote while applying the same
// blocks: a generated Radiant chain (refs, version-3 txs, spends of outputs made earlier in the
// same block and in earlier blocks of the same flush) and the real Bitcoin blocks 0-255.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin, type Coin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { generatedRadiantChain, headerInfo, tempDir } from '../test/indexer-support.ts';
import { BlockWriter } from './block-writer.ts';
import { openIndexDb, type IndexDb } from './db.ts';
import { verifyBlock } from './sync.ts';
import { encodeUndo } from './undo-record.ts';
import { restorePrunedUndo, undoRecordsOf } from './undo-rebuild.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** An index of `hexes` written by BlockWriter, `flushBlocks` blocks per transaction. */
function indexOf(coin: Coin, hexes: string[], flushBlocks: number, reorgLimit: number): IndexDb {
  const dir = tempDir();
  dirs.push(dir);
  const db = openIndexDb(join(dir, 'index.db'), coin);
  const writer = new BlockWriter(db, coin, reorgLimit);
  const hashName = coin.radiant ? 'sha512_256d' : 'sha256d';
  for (let first = 0; first < hexes.length; first += flushBlocks) {
    db.transaction(() => {
      writer.beginFlush();
      hexes.slice(first, first + flushBlocks).forEach((hex, i) => {
        const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
        const hash = headerInfo(hex, hashName).hash;
        writer.applyBlock(verifyBlock(bytes, first + i, hash, coin));
      });
      writer.endFlush();
    });
  }
  return db;
}

function storedUndo(db: IndexDb): Map<number, string> {
  const rows = db.prepare('SELECT height, data FROM undo ORDER BY height').all() as {
    height: number;
    data: Uint8Array;
  }[];
  return new Map(rows.map((row) => [row.height, Buffer.from(row.data).toString('hex')]));
}

function rebuiltUndo(db: IndexDb, coin: Coin, heights: Iterable<number>): Map<number, string> {
  const out = new Map<number, string>();
  for (const height of heights) {
    out.set(height, Buffer.from(encodeUndo(undoRecordsOf(db, coin, height))).toString('hex'));
  }
  return out;
}

describe('undo rows rebuilt from the txs table', () => {
  it('equal what BlockWriter wrote for every block of a generated Radiant chain', () => {
    const coin = getCoin('Radiant', 'regtest');
    const { hexes } = generatedRadiantChain(40, 12, 7);
    const db = indexOf(coin, hexes, 3, 1000);
    const stored = storedUndo(db);
    expect(stored.size).toBe(hexes.length);
    // The chain spends earlier outputs and carries refs: the comparison covers both.
    const spendingBlocks = [...stored.values()].filter((hex) => hex.length > 0).length;
    expect(spendingBlocks).toBeGreaterThan(30);
    const refs = db.prepare('SELECT COUNT(*) AS n FROM refs').get() as { n: number };
    expect(refs.n).toBeGreaterThan(0);
    expect(rebuiltUndo(db, coin, stored.keys())).toEqual(stored);
    db.close();
  });

  it('equal what BlockWriter wrote for the real Bitcoin blocks 0-255', () => {
    const coin = getCoin('Bitcoin', 'mainnet');
    const hexes = loadChainFile(join(import.meta.dirname, '../data/bitcoin_mainnet_0-255.json'));
    const db = indexOf(coin, hexes, 50, 1000);
    const stored = storedUndo(db);
    // Block 170 holds the first tx spending another (Satoshi to Hal Finney).
    expect(stored.get(170)?.length).toBeGreaterThan(0);
    expect(rebuiltUndo(db, coin, stored.keys())).toEqual(stored);
    db.close();
  });

  it('restores exactly the missing rows of the heights asked for, and nothing else', () => {
    const coin = getCoin('Radiant', 'regtest');
    const { hexes } = generatedRadiantChain(30, 8, 11);
    const db = indexOf(coin, hexes, 5, 1000);
    const all = storedUndo(db);
    const tip = hexes.length - 1;
    // As if the rows had been pruned for a tip 6 blocks higher with REORG_LIMIT 10.
    db.prepare('DELETE FROM undo WHERE height <= ?').run(tip - 4);
    const written = db.transaction(() => restorePrunedUndo(db, coin, tip - 9, tip));
    expect(written).toBe(6);
    const expected = [...all].filter(([height]) => height > tip - 10);
    expect([...storedUndo(db)]).toEqual(expected);
    expect(db.transaction(() => restorePrunedUndo(db, coin, tip - 9, tip))).toBe(0);
    db.close();
  });
});
