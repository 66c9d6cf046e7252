// BlockWriter's UtxoCache across flushes that roll back: the index still equals the reference's.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { expectIndexMatchesReference, tempDir } from '../test/indexer-support.ts';
import { readReferenceChain } from '../test/support/reference-chain.ts';
import { ChainGenerator } from '../tools/chain-generator.ts';
import { BlockWriter } from './block-writer.ts';
import { openIndexDb, type IndexDb } from './db.ts';
import { verifyBlock } from './sync.ts';

const coin = getCoin('Radiant', 'regtest');
const generator = new ChainGenerator({ coin, blocks: 24, txsPerBlock: 30, seed: 3, keys: 200 });
const blocks = [...generator.blocks()].map((bytes) => Buffer.from(bytes).toString('hex'));
const ref = readReferenceChain(blocks, 'sha512_256d', { radiant: true, segwit: false });

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function apply(writer: BlockWriter, height: number): void {
  const bytes = new Uint8Array(Buffer.from(blocks[height] ?? '', 'hex'));
  writer.applyBlock(verifyBlock(bytes, height, ref.blockHashes[height] ?? '', coin));
}

// Applies blocks from..to-1 in one transaction that rolls back, as a failed flush does in sync.
function failedFlush(db: IndexDb, writer: BlockWriter, from: number, to: number): void {
  db.sqlite.exec('BEGIN');
  writer.beginFlush();
  for (let height = from; height < to; height++) apply(writer, height);
  if (to % 2 === 0) writer.endFlush(); // the COMMIT fails after endFlush, or the flush never ends
  db.sqlite.exec('ROLLBACK');
}

describe('BlockWriter with its UtxoCache', () => {
  it('indexes as the reference reads it when flushes roll back between commits', () => {
    const dir = tempDir('writer-cache-');
    dirs.push(dir);
    const path = join(dir, 'index.db');
    const db = openIndexDb(path, coin);
    // Small enough to evict outputs that are spent later, so both lookups are exercised.
    const writer = new BlockWriter(db, coin, 200, { utxoCacheBytes: 20_000 });
    for (let from = 0; from < blocks.length; from += 3) {
      const to = Math.min(from + 3, blocks.length);
      // The rolled-back flush spends cached outputs that stay unspent in the file.
      if (from > 0) failedFlush(db, writer, from, Math.min(from + 2 + (from % 2), blocks.length));
      db.transaction(() => {
        writer.beginFlush();
        for (let height = from; height < to; height++) apply(writer, height);
        writer.endFlush();
      });
    }
    expect(db.readChainState().height).toBe(blocks.length - 1);
    db.close();
    expectIndexMatchesReference(path, ref);
  });
});
