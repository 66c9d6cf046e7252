// History and status-cache rows of the script hashes one flush touches, written sorted at its end.
import { StatusHasher } from '../core/status.ts';
import { BatchInsert } from './batch-insert.ts';
import type { IndexDb } from './db.ts';

interface Pending {
  hashx: Uint8Array;
  txNums: number[];
  /** The status text of each entry, `"<txid>:<height>:"` as ASCII bytes. */
  texts: Uint8Array[];
}

const HEX_CODES = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const COLON = 0x3a;

/**
 * `"<txid display hex>:<height>:"` as ASCII bytes, the text the status hash covers for one
 * history entry (protocol spec; DESIGN §5). Built byte by byte: one tx's text serves every script
 * hash it touches, and TextEncoder per entry cost more than the SHA-256 itself.
 */
export function statusEntryText(txid: Uint8Array, height: number): Uint8Array {
  const digits = String(height);
  const out = new Uint8Array(txid.length * 2 + digits.length + 2);
  for (let i = 0; i < txid.length; i++) {
    const byte = txid[txid.length - 1 - i] ?? 0;
    out[2 * i] = HEX_CODES[byte >> 4] ?? 0;
    out[2 * i + 1] = HEX_CODES[byte & 15] ?? 0;
  }
  let at = txid.length * 2;
  out[at++] = COLON;
  for (let i = 0; i < digits.length; i++) out[at++] = digits.charCodeAt(i);
  out[at] = COLON;
  return out;
}

/** Map key for 32-byte hashes: a latin1 string is cheaper to build and hash than hex. */
export function bytesKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

const UPSERT_SQL = `INSERT OR REPLACE INTO status (hashx, status, confirmed_state, confirmed_count)
  VALUES (?, ?, ?, ?)`;

/**
 * The history rows and status cache rows (core/schema.ts) of the script hashes one flush touches.
 * Entries wait in memory until flush(), which writes them grouped and sorted by script hash:
 * inserts then walk the history and status B-trees in key order instead of jumping at random.
 */
export class StatusCache {
  private readonly db: IndexDb;
  private readonly pending = new Map<string, Pending>();

  constructor(db: IndexDb) {
    this.db = db;
  }

  /**
   * Records that tx `txNum` touches `hashx`; `text` is statusEntryText of the tx. Calls must come
   * in (height, position) order.
   */
  add(key: string, hashx: Uint8Array, txNum: number, text: Uint8Array): void {
    let entry = this.pending.get(key);
    if (entry === undefined) {
      entry = { hashx, txNums: [], texts: [] };
      this.pending.set(key, entry);
    }
    entry.txNums.push(txNum);
    entry.texts.push(text);
  }

  /** Writes the history rows and every touched status row; part of the flush's transaction. */
  flush(): void {
    const load = this.db.prepare(
      'SELECT confirmed_state, confirmed_count FROM status WHERE hashx = ?'
    );
    const history = new BatchInsert(this.db, 'history', ['hashx', 'tx_num']);
    const upsert = this.db.prepare(UPSERT_SQL);
    // latin1 keys compare like the bytes they hold, so this is the tables' key order.
    const keys = [...this.pending.keys()].sort();
    for (const key of keys) {
      const entry = this.pending.get(key);
      if (entry === undefined) continue;
      const row = load.get(entry.hashx) as
        | { confirmed_state: Uint8Array | null; confirmed_count: number }
        | undefined;
      const hasher = StatusHasher.fromState(row?.confirmed_state ?? null);
      for (const txNum of entry.txNums) history.add(entry.hashx, txNum);
      for (const text of entry.texts) hasher.update(text);
      // No mempool yet, so the current status is the confirmed one.
      // TODO(soon): combine with mempool entries once mempool tracking exists.
      const count = (row?.confirmed_count ?? 0) + entry.txNums.length;
      upsert.run(entry.hashx, hasher.digest(), hasher.state(), count);
    }
    history.finish();
    this.pending.clear();
  }

  /** Forgets unwritten work (the transaction it belonged to rolled back). */
  clear(): void {
    this.pending.clear();
  }

  /**
   * Rebuilds one row from the history table (after a reorg removed entries); deletes the row
   * when no history is left, as a clean sync would never have written it.
   */
  recompute(hashx: Uint8Array): void {
    const rows = this.db
      .prepare(
        `SELECT t.txid AS txid, t.height AS height FROM history h JOIN txs t ON t.tx_num = h.tx_num
         WHERE h.hashx = ? ORDER BY h.tx_num`
      )
      .all(hashx) as { txid: Uint8Array; height: number }[];
    if (rows.length === 0) {
      this.db.prepare('DELETE FROM status WHERE hashx = ?').run(hashx);
      return;
    }
    const hasher = StatusHasher.fromState(null);
    for (const row of rows) hasher.update(statusEntryText(row.txid, row.height));
    this.db.prepare(UPSERT_SQL).run(hashx, hasher.digest(), hasher.state(), rows.length);
  }
}
