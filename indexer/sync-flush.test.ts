// How Sync sizes its transactions during initial sync: FLUSH_BLOCKS blocks or FLUSH_TXS txs,
// whichever comes first, always whole blocks; and which undo rows it writes at all.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import {
  expectIndexMatchesReference,
  generatedRadiantChain,
  syncFromSimNode,
  tempDirs,
} from '../test/indexer-support.ts';
import type { IndexDb } from './db.ts';
import type { SyncCommit } from './sync.ts';
import { encodeUndo } from './undo-record.ts';
import { undoRecordsOf } from './undo-rebuild.ts';

const coin = getCoin('Radiant', 'regtest');
const BLOCKS = 24;
const TXS_PER_BLOCK = 10;
const { hexes: blocks, ref } = generatedRadiantChain(BLOCKS, TXS_PER_BLOCK, 9);

const dirs = tempDirs('sync-test-');
afterAll(() => dirs.removeAll());

// Syncs the generated chain with these limits; returns every commit and the index's path.
async function syncWith(
  flushBlocks: number,
  flushTxs: number
): Promise<{ commits: SyncCommit[]; path: string }> {
  const path = join(dirs.make(), 'index.db');
  const commits: SyncCommit[] = [];
  const observer = { committed: (commit: SyncCommit) => commits.push(commit) };
  await syncFromSimNode(path, coin, blocks, () => ({ flushBlocks, flushTxs, observer }));
  return { commits, path };
}

describe('Sync flush sizes', () => {
  it('commits once a flush holds FLUSH_TXS txs, before FLUSH_BLOCKS blocks', async () => {
    // Every generated block holds the coinbase plus TXS_PER_BLOCK txs.
    const txsPerBlock = TXS_PER_BLOCK + 1;
    const { commits, path } = await syncWith(1000, 3 * txsPerBlock);
    const full = commits.filter((commit) => commit.blocks > 0).slice(0, -1);
    expect(full.length).toBeGreaterThan(3);
    // Genesis adds a block without txs to the first flush.
    for (const commit of full.slice(1)) {
      expect(commit.blocks).toBe(3);
      expect(commit.txs).toBe(3 * txsPerBlock);
    }
    expectIndexMatchesReference(path, ref);
  });

  it('commits after FLUSH_BLOCKS blocks when they hold fewer than FLUSH_TXS txs', async () => {
    const { commits, path } = await syncWith(4, 1_000_000);
    const full = commits.filter((commit) => commit.blocks > 0).slice(0, -1);
    expect(full.length).toBeGreaterThan(3);
    expect(full.every((commit) => commit.blocks === 4)).toBe(true);
    expectIndexMatchesReference(path, ref);
  });

  it('writes undo rows only for the last REORG_LIMIT blocks of its node', async () => {
    const reorgLimit = 5;
    const tip = blocks.length - 1;
    const path = join(dirs.make(), 'index.db');
    let written: number[] = [];
    let rows: { height: number; data: Buffer }[] = [];
    let rebuilt: string[] = [];
    const tune = (db: IndexDb): { reorgLimit: number; flushBlocks: number } => {
      // Every undo row the sync inserts, pruned or not, on the sync's own connection.
      db.sqlite.exec(
        'CREATE TEMP TABLE undo_written (height INTEGER); ' +
          'CREATE TEMP TRIGGER undo_seen AFTER INSERT ON main.undo ' +
          'BEGIN INSERT INTO undo_written VALUES (new.height); END;'
      );
      return { reorgLimit, flushBlocks: 4 };
    };
    const done = (db: IndexDb): boolean => {
      const heights = db.sqlite.prepare('SELECT height FROM undo_written ORDER BY height');
      written = (heights.all() as { height: number }[]).map((row) => row.height);
      const stored = db.sqlite.prepare('SELECT height, data FROM undo ORDER BY height');
      rows = stored.all() as typeof rows;
      rebuilt = rows.map((row) => hexOf(encodeUndo(undoRecordsOf(db, coin, row.height))));
      return true;
    };
    await syncFromSimNode(path, coin, blocks, tune, done);
    const window = Array.from({ length: reorgLimit }, (_, i) => tip - reorgLimit + 1 + i);
    expect(written).toEqual(window);
    expect(rows.map((row) => row.height)).toEqual(window);
    // Spends are in them: the rows are the block's spent outputs, as a rebuild from txs reads.
    expect(rows.every((row) => row.data.length > 0)).toBe(true);
    expect(rows.map((row) => hexOf(row.data))).toEqual(rebuilt);
  });
});

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
