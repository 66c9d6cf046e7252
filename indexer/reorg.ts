// Reorgs: find where our chain and the node's part, then unwind our blocks above that point.
import { hashToHex } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { unwindTipBlock } from './block-unwinder.ts';
import type { Daemon } from './daemon.ts';
import type { IndexDb } from './db.ts';
import { log } from './log.ts';
import { settleMempool } from './mempool-store.ts';
import { holdNotices } from './notice-hold.ts';
import { restorePrunedUndo } from './undo-rebuild.ts';

/** The node's chain cannot be followed (too deep a reorg, another genesis): the indexer stops. */
export class ChainMismatchError extends Error {
  override name = 'ChainMismatchError';
}

const COMPARE_BATCH = 16;

/** Display hex of our block at `height`. @throws Error when the index has no such header. */
export function ourHashHex(db: IndexDb, height: number): string {
  const row = db.prepare('SELECT hash FROM headers WHERE height = ?').get(height) as
    | { hash: Uint8Array }
    | undefined;
  if (row === undefined) throw new Error(`header ${height} missing from the index`);
  return hashToHex(row.hash);
}

/**
 * The highest height at which our header and the node's agree, walking down from
 * min(our tip, node tip) in batches of getblockhash calls.
 * @throws ChainMismatchError when no common block lies within `reorgLimit` of our tip.
 */
export async function findForkHeight(
  db: IndexDb,
  daemon: Daemon,
  ourHeight: number,
  nodeHeight: number,
  reorgLimit: number
): Promise<number> {
  let top = Math.min(ourHeight, nodeHeight);
  const floor = Math.max(ourHeight - reorgLimit, 0);
  while (top >= floor) {
    const count = Math.min(COMPARE_BATCH, top - floor + 1);
    const from = top - count + 1;
    const nodeHashes = await daemon.blockHashes(from, count);
    for (let height = top; height >= from; height--) {
      if (nodeHashes[height - from] === ourHashHex(db, height)) return height;
    }
    top = from - 1;
  }
  if (floor === 0) {
    throw new ChainMismatchError(
      'the node does not share our genesis block: wrong COIN/NET for this node or index'
    );
  }
  throw new ChainMismatchError(
    `reorg deeper than REORG_LIMIT=${reorgLimit} blocks below our tip ${ourHeight}: ` +
      'not unwinding; rebuild the index or raise REORG_LIMIT'
  );
}

/**
 * Unwinds every block above `forkHeight` in one transaction and logs the reorg. `nodeHeight`, the
 * height of the branch that follows, spares rebuilding undo rows it would prune again.
 * Needs txs_by_txid (a missing undo row is rebuilt by looking spent txs up by txid).
 */
export function unwindTo(
  db: IndexDb,
  coin: Coin,
  reorgLimit: number,
  forkHeight: number,
  nodeHeight = -1
): void {
  const fromHeight = db.readChainState().height;
  const started = Date.now();
  let undoRebuilt = 0;
  db.transaction(() => {
    // The notifier keeps this unwind's rows back until the new branch and mempool are in.
    holdNotices(db);
    // The unwind needs the row of every block above the fork (one may be missing: an earlier,
    // smaller REORG_LIMIT, or blocks synced far below the node's tip).
    undoRebuilt = restorePrunedUndo(db, coin, forkHeight + 1, fromHeight);
    for (let height = fromHeight; height > forkHeight; height--) {
      unwindTipBlock(db, coin, reorgLimit);
    }
    // Rows pruned for the old tip that the branch to come (up to the node's height) keeps: a
    // shorter branch would otherwise leave them missing for good.
    const keptFrom = Math.max(forkHeight, nodeHeight) - reorgLimit + 1;
    undoRebuilt += restorePrunedUndo(db, coin, keptFrom, fromHeight - reorgLimit);
    // Mempool txs spending outputs of unwound txs leave; the next refresh adds back what the
    // node returned to its mempool.
    settleMempool(db, coin, reorgLimit);
  });
  log.info('reorg', {
    from_height: fromHeight,
    fork_height: forkHeight,
    depth: fromHeight - forkHeight,
    undo_rebuilt: undoRebuilt,
    ms: Date.now() - started,
  });
}
