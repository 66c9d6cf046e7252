// Takes the tip block back out of the index (reorgs), restoring what it spent from its undo row.
import type { Coin } from '../core/coins.ts';
import { isUnspendable, scriptHash } from '../core/script.ts';
import { parseTx } from '../core/tx.ts';
import { encodeRefs, packHashxes } from './block-writer.ts';
import type { IndexDb } from './db.ts';
import { removeHeadersFromTree } from './header-tree.ts';
import { bytesKey, StatusCache } from './status-cache.ts';
import { decodeUndo } from './undo-record.ts';

interface TipBlock {
  height: number;
  firstTxNum: number;
  undo: Uint8Array;
  /** The hash of the block below, the tip once this one is gone. */
  parentHash: Uint8Array;
}

const REF_BYTES = 36;
const REF_RECORD_BYTES = 37;

function readTipBlock(db: IndexDb, height: number, reorgLimit: number): TipBlock {
  if (height <= 0) throw new Error(`cannot unwind block ${height}: the genesis block is final`);
  const header = db.prepare('SELECT first_tx_num FROM headers WHERE height = ?').get(height) as
    | { first_tx_num: number }
    | undefined;
  const undo = db.prepare('SELECT data FROM undo WHERE height = ?').get(height) as
    | { data: Uint8Array }
    | undefined;
  const parent = db.prepare('SELECT hash FROM headers WHERE height = ?').get(height - 1) as
    | { hash: Uint8Array }
    | undefined;
  if (header === undefined || undo === undefined) {
    throw new Error(
      `no undo data for block ${height}: reorgs deeper than ${reorgLimit} blocks cannot be unwound`
    );
  }
  if (parent === undefined) throw new Error(`header ${height - 1} missing from the index`);
  return { height, firstTxNum: header.first_tx_num, undo: undo.data, parentHash: parent.hash };
}

/**
 * Removes the tip block: its txs, utxos, refs, history and header; restores the outputs it spent;
 * rebuilds the status of every script hash it touched; records a changes row. Run inside a
 * transaction. Returns the new tip height.
 * @throws Error when the tip has no undo row (older than REORG_LIMIT) or is the genesis block.
 */
export function unwindTipBlock(db: IndexDb, coin: Coin, reorgLimit: number): number {
  const state = db.readChainState();
  const block = readTipBlock(db, state.height, reorgLimit);
  const { height, firstTxNum } = block;
  const touched = new Map<string, Uint8Array>();
  removeBlockTxs(db, coin, firstTxNum, touched);
  const restore = db.prepare(
    'INSERT INTO utxos (tx_num, vout, hashx, value, refs) VALUES (?, ?, ?, ?, ?)'
  );
  for (const output of decodeUndo(block.undo)) {
    restore.run(output.txNum, output.vout, output.hashx, output.value, output.refs);
    touched.set(bytesKey(output.hashx), output.hashx);
  }
  // Every history row at or above the block's first tx_num belongs to it (it is the tip).
  const deleteHistory = db.prepare('DELETE FROM history WHERE hashx = ? AND tx_num >= ?');
  for (const hashx of touched.values()) deleteHistory.run(hashx, firstTxNum);
  const statuses = new StatusCache(db);
  for (const hashx of touched.values()) statuses.recompute(hashx);

  db.prepare('DELETE FROM headers WHERE height = ?').run(height);
  removeHeadersFromTree(db.sqlite, height);
  db.prepare('DELETE FROM undo WHERE height = ?').run(height);
  const seq = state.lastChangeSeq + 1;
  db.prepare('INSERT INTO changes (seq, height, tip_hash, hashxes) VALUES (?, ?, ?, ?)').run(
    seq,
    height - 1,
    block.parentHash,
    packHashxes(touched)
  );
  db.prepare(
    `UPDATE chain_state SET height = ?, tip_hash = ?, tx_count = ?, last_change_seq = ?
     WHERE id = 0`
  ).run(height - 1, block.parentHash, firstTxNum, seq);
  db.prepare('DELETE FROM changes WHERE seq <= ?').run(seq - reorgLimit);
  return height - 1;
}

// Deletes the block's txs with their utxos and refs, collecting their outputs' script hashes.
function removeBlockTxs(
  db: IndexDb,
  coin: Coin,
  firstTxNum: number,
  touched: Map<string, Uint8Array>
): void {
  const rows = db
    .prepare('SELECT raw FROM txs WHERE tx_num >= ? ORDER BY tx_num')
    .all(firstTxNum) as { raw: Uint8Array }[];
  const deleteRef = db.prepare('DELETE FROM refs WHERE ref = ? AND tx_num >= ?');
  for (const row of rows) {
    // A copy, not the Buffer: see Daemon.blocks on Buffer#slice.
    const tx = parseTx(new Uint8Array(row.raw), coin);
    for (const output of tx.outputs) {
      if (isUnspendable(output.script)) continue;
      const hashx = scriptHash(output.script, coin);
      touched.set(bytesKey(hashx), hashx);
      const refs = encodeRefs(output.script, coin);
      if (refs === null) continue;
      for (let at = 0; at < refs.length; at += REF_RECORD_BYTES) {
        deleteRef.run(refs.subarray(at, at + REF_BYTES), firstTxNum);
      }
    }
  }
  db.prepare('DELETE FROM utxos WHERE tx_num >= ?').run(firstTxNum);
  db.prepare('DELETE FROM txs WHERE tx_num >= ?').run(firstTxNum);
}
