// The mempool tables (core/schema.ts) seen one tx at a time: lookups, removal, mempool parents and
// children, and settling them after the chain moved. Every call runs in the caller's transaction.
import type { Coin } from '../core/coins.ts';
import { isUnspendable } from '../core/script.ts';
import { parseTx, type Tx } from '../core/tx.ts';
import type { IndexDb } from './db.ts';
import { mempoolHasTxs, rewriteStatuses } from './mempool-status.ts';
import { bytesKey } from './status-cache.ts';

/** What an output holds, as the index keeps it. */
export interface OutputFacts {
  hashx: Uint8Array;
  value: bigint;
}

/** Script hashes touched by a change, keyed by bytesKey. */
export type Touched = Map<string, Uint8Array>;

const REF_BYTES = 36;
const REF_RECORD_BYTES = 37;
const HASH_BYTES = 32;

function touch(touched: Touched, hashx: Uint8Array): void {
  touched.set(bytesKey(hashx), hashx);
}

/** Reads and removes mempool rows; the writing side is in mempool-apply.ts. */
export class MempoolStore {
  readonly db: IndexDb;
  readonly coin: Coin;

  constructor(db: IndexDb, coin: Coin) {
    this.db = db;
    this.coin = coin;
  }

  /** Every mempool txid (internal order), keyed by bytesKey. */
  txids(): Map<string, Uint8Array> {
    const rows = this.db.prepare('SELECT txid FROM mempool_txs').all() as { txid: Uint8Array }[];
    return new Map(rows.map((row) => [bytesKey(row.txid), row.txid]));
  }

  has(txid: Uint8Array): boolean {
    return this.db.prepare('SELECT 1 FROM mempool_txs WHERE txid = ?').get(txid) !== undefined;
  }

  /** The mempool tx parsed from its stored bytes, or undefined when it is not in the mempool. */
  tx(txid: Uint8Array): Tx | undefined {
    const row = this.db.prepare('SELECT raw FROM mempool_txs WHERE txid = ?').get(txid) as
      | { raw: Uint8Array }
      | undefined;
    // A copy, not the Buffer: core code may slice and edit scripts (see Daemon.blocks).
    return row === undefined ? undefined : parseTx(new Uint8Array(row.raw), this.coin);
  }

  /** An unspent confirmed output (utxos), or undefined. */
  confirmedOutput(txid: Uint8Array, vout: number): OutputFacts | undefined {
    const lookup = this.db.prepare(
      `SELECT u.hashx AS hashx, u.value AS value FROM txs t
       JOIN utxos u ON u.tx_num = t.tx_num AND u.vout = ?
       WHERE t.txid = ? ORDER BY t.tx_num DESC LIMIT 1`
    );
    // value is int64: photon amounts exceed 2^53 (DESIGN §3).
    lookup.safeIntegers(true);
    return lookup.get(vout, txid) as OutputFacts | undefined;
  }

  /** An output of a mempool tx (spent or not), or undefined. */
  mempoolOutput(txid: Uint8Array, vout: number): OutputFacts | undefined {
    const lookup = this.db.prepare(
      'SELECT hashx, value FROM mempool_outputs WHERE txid = ? AND vout = ?'
    );
    lookup.safeIntegers(true);
    return lookup.get(txid, vout) as OutputFacts | undefined;
  }

  /** The mempool tx spending an outpoint, or undefined. */
  spenderOf(txid: Uint8Array, vout: number): Uint8Array | undefined {
    const row = this.db
      .prepare('SELECT txid FROM mempool_spends WHERE prev_txid = ? AND prev_vout = ?')
      .get(txid, vout) as { txid: Uint8Array } | undefined;
    return row?.txid;
  }

  /** The mempool txs spending an output of `txid`. */
  childrenOf(txid: Uint8Array): Uint8Array[] {
    const rows = this.db
      .prepare('SELECT DISTINCT txid FROM mempool_spends WHERE prev_txid = ?')
      .all(txid) as { txid: Uint8Array }[];
    return rows.map((row) => row.txid);
  }

  /** 0, or -1 when an input of `tx` spends a mempool tx (DESIGN §5). */
  heightOf(tx: Tx): number {
    return tx.inputs.some((input) => this.has(input.prevTxid)) ? -1 : 0;
  }

  /**
   * Deletes a tx's rows from every mempool table, noting the script hashes it touched. Rows are
   * found by their keys from the tx's own inputs and outputs. False when it was not there.
   */
  remove(txid: Uint8Array, touched: Touched): boolean {
    const tx = this.tx(txid);
    if (tx === undefined) return false;
    const mine = this.hashxesOf(tx);
    const spends = this.db.prepare(
      'DELETE FROM mempool_spends WHERE prev_txid = ? AND prev_vout = ? AND txid = ?'
    );
    for (const input of tx.inputs) spends.run(input.prevTxid, input.prevVout, txid);
    const refs = this.db.prepare('DELETE FROM mempool_refs WHERE ref = ? AND txid = ?');
    const outputRefs = this.db.prepare(
      'SELECT refs FROM mempool_outputs WHERE txid = ? AND refs IS NOT NULL'
    );
    for (const row of outputRefs.all(txid) as { refs: Uint8Array }[]) {
      for (let at = 0; at < row.refs.length; at += REF_RECORD_BYTES) {
        refs.run(row.refs.subarray(at, at + REF_BYTES), txid);
      }
    }
    this.db.prepare('DELETE FROM mempool_outputs WHERE txid = ?').run(txid);
    const history = this.db.prepare('DELETE FROM mempool_history WHERE hashx = ? AND txid = ?');
    for (const hashx of mine.values()) {
      history.run(hashx, txid);
      touched.set(bytesKey(hashx), hashx);
    }
    this.db.prepare('DELETE FROM mempool_txs WHERE txid = ?').run(txid);
    return true;
  }

  /** Removes a tx and every mempool tx descending from it; returns how many went. */
  removeWithDescendants(txid: Uint8Array, touched: Touched): number {
    let removed = 0;
    const stack = [txid];
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      stack.push(...this.childrenOf(next));
      if (this.remove(next, touched)) removed += 1;
    }
    return removed;
  }

  /** Sets a tx's height again from its parents (after one came or went); notes changes. */
  refreshHeight(txid: Uint8Array, touched: Touched): void {
    const tx = this.tx(txid);
    if (tx === undefined) return;
    const height = this.heightOf(tx);
    const result = this.db
      .prepare('UPDATE mempool_txs SET height = ? WHERE txid = ? AND height != ?')
      .run(height, txid, height);
    if (result.changes === 0) return;
    for (const hashx of this.hashxesOf(tx).values()) touch(touched, hashx);
  }

  // The script hashes a stored mempool tx touches: its outputs' and the outputs it spends.
  private hashxesOf(tx: Tx): Touched {
    const found: Touched = new Map();
    const output = this.db.prepare('SELECT hashx FROM mempool_outputs WHERE txid = ? AND vout = ?');
    tx.outputs.forEach((out, vout) => {
      if (isUnspendable(out.script)) return;
      const row = output.get(tx.txid, vout) as { hashx: Uint8Array } | undefined;
      if (row !== undefined) touch(found, row.hashx);
    });
    const spend = this.db.prepare(
      'SELECT hashx FROM mempool_spends WHERE prev_txid = ? AND prev_vout = ? AND txid = ?'
    );
    for (const input of tx.inputs) {
      const row = spend.get(input.prevTxid, input.prevVout, tx.txid) as
        | { hashx: Uint8Array }
        | undefined;
      if (row !== undefined) touch(found, row.hashx);
    }
    return found;
  }
}

// Mempool txs now in a block of the index.
const MINED_SQL = `SELECT m.txid AS txid FROM mempool_txs m
  WHERE EXISTS (SELECT 1 FROM txs t WHERE t.txid = m.txid)`;
// Mempool txs spending an outpoint that is neither a mempool output nor an unspent confirmed one:
// a block spent it (a double spend), or a reorg took away the tx that created it.
const ORPHANED_SQL = `SELECT DISTINCT s.txid AS txid FROM mempool_spends s
  WHERE NOT EXISTS (SELECT 1 FROM mempool_txs p WHERE p.txid = s.prev_txid)
  AND NOT EXISTS (SELECT 1 FROM txs t JOIN utxos u ON u.tx_num = t.tx_num AND u.vout = s.prev_vout
    WHERE t.txid = s.prev_txid)`;

/**
 * Brings the mempool tables in line with the chain the index now holds: txs a block confirmed
 * leave (their children's heights are set again), txs whose inputs are gone leave with their
 * descendants. The next refresh from the node adds back whatever the node still holds.
 */
export function reconcileMempool(store: MempoolStore): Touched {
  const touched: Touched = new Map();
  const { db } = store;
  const mined = (db.prepare(MINED_SQL).all() as { txid: Uint8Array }[]).map((row) => row.txid);
  const children: Uint8Array[] = [];
  for (const txid of mined) {
    children.push(...store.childrenOf(txid));
    store.remove(txid, touched);
  }
  const orphaned = db.prepare(ORPHANED_SQL).all() as { txid: Uint8Array }[];
  for (const row of orphaned) store.removeWithDescendants(row.txid, touched);
  for (const txid of children) store.refreshHeight(txid, touched);
  return touched;
}

// The changes.hashxes layout of block-writer.ts packHashxes: 32-byte hashes in byte order.
function packTouched(touched: Touched): Uint8Array {
  const keys = [...touched.keys()].sort();
  const out = new Uint8Array(keys.length * HASH_BYTES);
  keys.forEach((key, i) => out.set(touched.get(key) ?? new Uint8Array(HASH_BYTES), i * HASH_BYTES));
  return out;
}

/**
 * Appends a changes row naming `touched` at the current tip (for the Worker's notifications),
 * moves chain_state.last_change_seq and prunes the feed as block-writer.ts does. Returns the seq.
 * @throws Error when the index holds no block (a change must name a tip).
 */
export function recordMempoolChange(db: IndexDb, touched: Touched, reorgLimit: number): number {
  const state = db.readChainState();
  if (state.tipHash === null) throw new Error('mempool change recorded on an empty index');
  const seq = state.lastChangeSeq + 1;
  db.prepare('INSERT INTO changes (seq, height, tip_hash, hashxes) VALUES (?, ?, ?, ?)').run(
    seq,
    state.height,
    state.tipHash,
    packTouched(touched)
  );
  db.prepare('UPDATE chain_state SET last_change_seq = ? WHERE id = 0').run(seq);
  db.prepare('DELETE FROM changes WHERE seq <= ?').run(seq - reorgLimit);
  return seq;
}

/**
 * After blocks were applied or unwound (same transaction): reconciles the mempool with the chain,
 * rewrites the statuses it touched and records the change. Returns the new last change seq, or
 * null when nothing changed (always so with an empty mempool, e.g. during initial sync).
 */
export function settleMempool(db: IndexDb, coin: Coin, reorgLimit: number): number | null {
  if (!mempoolHasTxs(db)) return null;
  const touched = reconcileMempool(new MempoolStore(db, coin));
  if (touched.size === 0) return null;
  rewriteStatuses(db, touched.values());
  return recordMempoolChange(db, touched, reorgLimit);
}
