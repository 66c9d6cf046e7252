// While a reorg is under way the change feed keeps growing (the unwind, the new branch's blocks,
// the mempool read again), but wallets should hear only of where it ends, as ElectrumX tells
// them: chain_state.notices_held_after (core/schema.ts) marks the rows the notifier keeps back.
import type { IndexDb } from './db.ts';

/**
 * Holds the change rows a reorg is about to write: call inside the unwind's transaction, before
 * it records any row. A hold already set (a reorg during a reorg) keeps its earlier seq, so its
 * rows stay held; if that hold was already overdue in the notifier (30 s), the new reorg's rows
 * go out unheld as well.
 */
export function holdNotices(db: IndexDb): void {
  db.prepare(
    `UPDATE chain_state SET notices_held_after = COALESCE(notices_held_after, last_change_seq)
     WHERE id = 0`
  ).run();
}

/** Ends the hold, if any: the index shows the node's tip and its mempool. True when one ended. */
export function releaseNotices(db: IndexDb): boolean {
  const result = db
    .prepare(
      'UPDATE chain_state SET notices_held_after = NULL ' +
        'WHERE id = 0 AND notices_held_after IS NOT NULL'
    )
    .run();
  return result.changes > 0;
}
