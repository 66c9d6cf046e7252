// Status hashes that cover the mempool: a script hash's saved confirmed SHA-256 state, extended
// with its unconfirmed txs in protocol order, so a long history is never hashed again.
import { hashToHex } from '../core/bytes.ts';
import { StatusHasher } from '../core/status.ts';
import type { IndexDb } from './db.ts';

/** An unconfirmed tx touching a script hash, as its status covers it. */
export interface MempoolStatusEntry {
  /** Internal order. */
  txid: Uint8Array;
  /** 0, or -1 when the tx spends another mempool tx. */
  height: number;
}

interface StatusRow {
  confirmed_state: Uint8Array | null;
  confirmed_count: number;
}

const UPSERT_SQL = `INSERT OR REPLACE INTO status (hashx, status, confirmed_state, confirmed_count)
  VALUES (?, ?, ?, ?)`;

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The entries in the order the status covers them: height 0 before -1, ties by txid in display
 * hex (DESIGN §5; the protocol's status example orders its mempool part the same way).
 */
export function inStatusOrder(entries: MempoolStatusEntry[]): { txHash: string; height: number }[] {
  return entries
    .map((entry) => ({ txHash: hashToHex(entry.txid), height: entry.height }))
    .sort((a, b) => b.height - a.height || compareText(a.txHash, b.txHash));
}

/**
 * The status (32 raw bytes) of a script hash whose confirmed part is `confirmed` and whose
 * mempool part is `entries`; null when both are empty. `confirmed` is left as it was.
 */
export function statusWithMempool(
  confirmed: StatusHasher,
  entries: MempoolStatusEntry[]
): Uint8Array | null {
  if (entries.length === 0) return confirmed.empty ? null : confirmed.digest();
  const hasher = confirmed.clone();
  for (const entry of inStatusOrder(entries)) hasher.add(entry.txHash, entry.height);
  return hasher.digest();
}

/** True when the mempool tables hold any tx. */
export function mempoolHasTxs(db: IndexDb): boolean {
  const row = db.prepare('SELECT EXISTS (SELECT 1 FROM mempool_txs) AS found').get() as {
    found: number;
  };
  return row.found === 1;
}

/**
 * Reads the mempool part of statuses. An empty mempool is noticed once per instance, so a flush
 * during initial sync pays one query, not one per script hash.
 */
export class MempoolStatusSource {
  private readonly db: IndexDb;
  private hasTxs: boolean | undefined;

  constructor(db: IndexDb) {
    this.db = db;
  }

  /** The unconfirmed txs touching `hashx`, unordered. */
  entries(hashx: Uint8Array): MempoolStatusEntry[] {
    this.hasTxs ??= mempoolHasTxs(this.db);
    if (!this.hasTxs) return [];
    return this.db
      .prepare(
        `SELECT m.txid AS txid, m.height AS height FROM mempool_history h
         JOIN mempool_txs m ON m.txid = h.txid WHERE h.hashx = ?`
      )
      .all(hashx) as MempoolStatusEntry[];
  }

  /** statusWithMempool for `hashx`, reading its mempool entries. */
  statusOf(hashx: Uint8Array, confirmed: StatusHasher): Uint8Array | null {
    return statusWithMempool(confirmed, this.entries(hashx));
  }
}

/**
 * Rewrites the status rows of `hashxes` from their saved confirmed state and the mempool as it is
 * now; a row left with neither confirmed nor mempool history is deleted, as a clean sync would
 * never have written it. Runs inside the caller's transaction.
 */
export function rewriteStatuses(db: IndexDb, hashxes: Iterable<Uint8Array>): void {
  const source = new MempoolStatusSource(db);
  const load = db.prepare('SELECT confirmed_state, confirmed_count FROM status WHERE hashx = ?');
  const upsert = db.prepare(UPSERT_SQL);
  const remove = db.prepare('DELETE FROM status WHERE hashx = ?');
  for (const hashx of hashxes) {
    const row = load.get(hashx) as StatusRow | undefined;
    const count = row?.confirmed_count ?? 0;
    const state = count === 0 ? null : (row?.confirmed_state ?? null);
    const status = source.statusOf(hashx, StatusHasher.fromState(state));
    if (status === null) remove.run(hashx);
    else upsert.run(hashx, status, state, count);
  }
}
