// Undo rows rebuilt from the txs table, for when a reorg leaves the index on a lower tip than the
// one its undo rows were pruned for.
import type { Coin } from '../core/coins.ts';
import { isUnspendable, scriptHash } from '../core/script.ts';
import { parseTx, type Tx } from '../core/tx.ts';
import { encodeRefs } from './block-prep.ts';
import type { IndexDb } from './db.ts';
import { bytesKey } from './status-cache.ts';
import { encodeUndo, type IndexedOutput } from './undo-record.ts';

/**
 * The undo records of the block at `height` as BlockWriter wrote them when it applied the block:
 * every output the block's inputs spent, in input order, except outputs of the block's own txs.
 * Each spent output is read back from the tx that created it, the latest one before the block
 * with that txid (Bitcoin's two duplicated coinbase txids).
 * @throws Error when the block or a spent tx is missing from the index (a damaged index).
 */
export function undoRecordsOf(db: IndexDb, coin: Coin, height: number): IndexedOutput[] {
  const header = db
    .prepare('SELECT first_tx_num, tx_count FROM headers WHERE height = ?')
    .get(height) as { first_tx_num: number; tx_count: number } | undefined;
  if (header === undefined) throw new Error(`header ${height} missing from the index`);
  const firstTxNum = header.first_tx_num;
  const rows = db
    .prepare('SELECT raw FROM txs WHERE tx_num >= ? AND tx_num < ? ORDER BY tx_num')
    .all(firstTxNum, firstTxNum + header.tx_count) as { raw: Uint8Array }[];
  // Copies, not the Buffers better-sqlite3 returns (see Daemon.blocks on Buffer#slice).
  const txs = rows.map((row) => parseTx(new Uint8Array(row.raw), coin));
  const ownTxids = new Set(txs.map((tx) => bytesKey(tx.txid)));
  const creator = db.prepare(
    'SELECT tx_num, raw FROM txs WHERE txid = ? AND tx_num < ? ORDER BY tx_num DESC LIMIT 1'
  );
  const created = new Map<string, { txNum: number; tx: Tx }>();
  const records: IndexedOutput[] = [];
  for (const tx of txs) {
    if (tx.isCoinbase) continue;
    for (const input of tx.inputs) {
      const key = bytesKey(input.prevTxid);
      if (ownTxids.has(key)) continue;
      let source = created.get(key);
      if (source === undefined) {
        const row = creator.get(input.prevTxid, firstTxNum) as
          | { tx_num: number; raw: Uint8Array }
          | undefined;
        if (row === undefined) {
          throw new Error(`block ${height} spends a tx missing from the index`);
        }
        source = { txNum: row.tx_num, tx: parseTx(new Uint8Array(row.raw), coin) };
        created.set(key, source);
      }
      const output = source.tx.outputs[input.prevVout];
      if (output === undefined || isUnspendable(output.script)) {
        throw new Error(`block ${height} spends an output the index never held`);
      }
      records.push({
        txNum: source.txNum,
        vout: input.prevVout,
        hashx: scriptHash(output.script, coin),
        value: output.value,
        refs: encodeRefs(output.script, coin),
      });
    }
  }
  return records;
}

/**
 * Writes the undo rows missing at heights `from..to` (blocks of the index); returns how many it
 * wrote. Rows go missing when pruned for a higher tip than the index now has (a reorg to a shorter
 * branch), under an earlier, smaller REORG_LIMIT, or never written (blocks far below the node's
 * tip during initial sync). Run inside the reorg's transaction.
 */
export function restorePrunedUndo(db: IndexDb, coin: Coin, from: number, to: number): number {
  const lowest = Math.max(0, from);
  const rows = db
    .prepare('SELECT height FROM undo WHERE height >= ? AND height <= ?')
    .all(lowest, to) as { height: number }[];
  const present = new Set(rows.map((row) => row.height));
  const insert = db.prepare('INSERT INTO undo (height, data) VALUES (?, ?)');
  let written = 0;
  for (let height = lowest; height <= to; height++) {
    if (present.has(height)) continue;
    insert.run(height, encodeUndo(undoRecordsOf(db, coin, height)));
    written += 1;
  }
  return written;
}
