// History and status-cache rows of the script hashes one flush touches, written sorted at its end.
import { StatusHasher } from '../core/status.ts';
import { BatchInsert } from './batch-insert.ts';
import type { IndexDb } from './db.ts';
import { MempoolStatusSource, statusWithMempool } from './mempool-status.ts';

const HEX_CODES = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const COLON = 0x3a;

/** The longest status text: 64 hex digits, two colons and a height of up to 16 digits. */
const MAX_TEXT_BYTES = 82;

/**
 * Writes `"<txid display hex>:<height>:"` as ASCII at `target[at..]` and returns where it ends:
 * the text the status hash covers for one history entry (protocol spec; DESIGN §5). Built byte by
 * byte: one tx's text serves every script hash it touches, and TextEncoder per entry cost more
 * than the SHA-256 itself.
 */
export function writeStatusEntryText(
  target: Uint8Array,
  at: number,
  txid: Uint8Array,
  height: number
): number {
  const digits = String(height);
  for (let i = 0; i < txid.length; i++) {
    const byte = txid[txid.length - 1 - i] ?? 0;
    target[at + 2 * i] = HEX_CODES[byte >> 4] ?? 0;
    target[at + 2 * i + 1] = HEX_CODES[byte & 15] ?? 0;
  }
  let end = at + txid.length * 2;
  target[end++] = COLON;
  for (let i = 0; i < digits.length; i++) target[end++] = digits.charCodeAt(i);
  target[end++] = COLON;
  return end;
}

/** `"<txid display hex>:<height>:"` as ASCII bytes, in an array of its own. */
export function statusEntryText(txid: Uint8Array, height: number): Uint8Array {
  const out = new Uint8Array(txid.length * 2 + String(height).length + 2);
  writeStatusEntryText(out, 0, txid, height);
  return out;
}

/**
 * The status texts of the txs applied in one flush, by tx_num, built once per tx when its block is
 * added: a tx touches several script hashes, and each hashes the same text.
 */
export class FlushTxs {
  private firstTxNum = 0;
  private count = 0;
  // Text i is texts[ends[i - 1] .. ends[i]) (from 0 for the first).
  private texts = new Uint8Array(MAX_TEXT_BYTES * 1024);
  private ends = new Uint32Array(1024);
  private bytes = 0;

  /** Forgets the txs; the next one added is `firstTxNum`. */
  reset(firstTxNum: number): void {
    this.firstTxNum = firstTxNum;
    this.count = 0;
    this.bytes = 0;
  }

  /** Appends the block's txs (32-byte txids, internal order, concatenated) at `height`. */
  addBlock(txids: Uint8Array, txCount: number, height: number): void {
    if (this.count + txCount > this.ends.length) {
      const slots = Math.max(2 * this.ends.length, this.count + txCount);
      const endsBigger = new Uint32Array(slots);
      endsBigger.set(this.ends.subarray(0, this.count));
      this.ends = endsBigger;
    }
    if (this.bytes + txCount * MAX_TEXT_BYTES > this.texts.length) {
      const size = Math.max(2 * this.texts.length, this.bytes + txCount * MAX_TEXT_BYTES);
      const textsBigger = new Uint8Array(size);
      textsBigger.set(this.texts.subarray(0, this.bytes));
      this.texts = textsBigger;
    }
    for (let position = 0; position < txCount; position++) {
      const txid = txids.subarray(32 * position, 32 * position + 32);
      this.bytes = writeStatusEntryText(this.texts, this.bytes, txid, height);
      this.ends[this.count + position] = this.bytes;
    }
    this.count += txCount;
  }

  /** Feeds tx `txNum`'s statusEntryText to `hasher`. */
  hashText(txNum: number, hasher: StatusHasher): void {
    const i = txNum - this.firstTxNum;
    if (i < 0 || i >= this.count) throw new RangeError(`tx ${txNum} is not in this flush`);
    hasher.update(this.texts, i === 0 ? 0 : (this.ends[i - 1] ?? 0), this.ends[i] ?? 0);
  }
}

/** Map key for 32-byte hashes: a latin1 string is cheaper to build and hash than hex. */
export function bytesKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

const UPSERT_SQL = `INSERT OR REPLACE INTO status (hashx, status, confirmed_state, confirmed_count)
  VALUES (?, ?, ?, ?)`;
// Flushes update rows in place: REPLACE deletes and reinserts the row, two B-tree writes.
const FLUSH_UPSERT_SQL = `INSERT INTO status (hashx, status, confirmed_state, confirmed_count)
  VALUES (?, ?, ?, ?) ON CONFLICT (hashx) DO UPDATE SET status = excluded.status,
  confirmed_state = excluded.confirmed_state, confirmed_count = excluded.confirmed_count`;

/**
 * The history rows and status cache rows (core/schema.ts) of the script hashes one flush touches.
 * Entries wait in memory until flush(), which writes them grouped and sorted by script hash:
 * inserts then walk the history and status B-trees in key order instead of jumping at random.
 */
export class StatusCache {
  private readonly db: IndexDb;
  // bytesKey(hashx) -> the tx_nums touching it, in order. The key doubles as the hashx bytes.
  private readonly pending = new Map<string, number[]>();
  private readonly hasher = StatusHasher.fromState(null);

  constructor(db: IndexDb) {
    this.db = db;
  }

  /**
   * Records that tx `txNum` touches the script hash whose bytesKey is `key`. Calls must come in
   * (height, position) order.
   */
  add(key: string, txNum: number): void {
    const txNums = this.pending.get(key);
    if (txNums === undefined) this.pending.set(key, [txNum]);
    else txNums.push(txNum);
  }

  /**
   * Writes the history rows and every touched status row; part of the flush's transaction.
   * `txs` gives the status text of each tx_num added.
   */
  flush(txs: FlushTxs): void {
    const load = this.db.prepare(
      'SELECT confirmed_state, confirmed_count FROM status WHERE hashx = ?'
    );
    const history = new BatchInsert(this.db, 'history', ['hashx', 'tx_num']);
    const upsert = this.db.prepare(FLUSH_UPSERT_SQL);
    const mempool = new MempoolStatusSource(this.db);
    // latin1 keys compare like the bytes they hold, so this is the tables' key order.
    const keys = [...this.pending.keys()].sort();
    // One hasher restored per script hash: fromState would allocate two arrays each time.
    const hasher = this.hasher;
    for (const key of keys) {
      const txNums = this.pending.get(key) ?? [];
      const hashx = Buffer.from(key, 'latin1');
      const row = load.get(hashx) as
        | { confirmed_state: Uint8Array | null; confirmed_count: number }
        | undefined;
      hasher.restore(row?.confirmed_state ?? null);
      for (const txNum of txNums) {
        history.add(hashx, txNum);
        txs.hashText(txNum, hasher);
      }
      const count = (row?.confirmed_count ?? 0) + txNums.length;
      // The status covers the mempool too; the saved state stays the confirmed part.
      upsert.run(hashx, mempool.statusOf(hashx, hasher), hasher.state(), count);
    }
    history.finish();
    this.pending.clear();
  }

  /** Forgets unwritten work (the transaction it belonged to rolled back). */
  clear(): void {
    this.pending.clear();
  }

  /**
   * Rebuilds one row from the history table and the mempool (after a reorg removed entries);
   * deletes the row when neither holds any, as a clean sync would never have written it.
   */
  recompute(hashx: Uint8Array): void {
    const rows = this.db
      .prepare(
        `SELECT t.txid AS txid, t.height AS height FROM history h JOIN txs t ON t.tx_num = h.tx_num
         WHERE h.hashx = ? ORDER BY h.tx_num`
      )
      .all(hashx) as { txid: Uint8Array; height: number }[];
    const mempool = new MempoolStatusSource(this.db).entries(hashx);
    if (rows.length === 0 && mempool.length === 0) {
      this.db.prepare('DELETE FROM status WHERE hashx = ?').run(hashx);
      return;
    }
    const hasher = StatusHasher.fromState(null);
    for (const row of rows) hasher.update(statusEntryText(row.txid, row.height));
    const state = rows.length === 0 ? null : hasher.state();
    const status = statusWithMempool(hasher, mempool);
    this.db.prepare(UPSERT_SQL).run(hashx, status, state, rows.length);
  }
}
