// How Sync sizes its transactions during initial sync: FLUSH_BLOCKS blocks or FLUSH_TXS txs,
// whichever comes first, always whole blocks.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import {
  expectIndexMatchesReference,
  generatedRadiantChain,
  syncFromSimNode,
  tempDirs,
} from '../test/indexer-support.ts';
import type { SyncCommit } from './sync.ts';

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
});
