// Test support: a temporary WAL index with a small table, held open by a writer like the indexer's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** One row of the `items` table as the test inserts it. */
export interface ItemRow {
  id: number;
  label: string | null;
  payload: Uint8Array | null;
  amount: bigint | null;
  ratio: number | null;
}

/** Rows chosen for the edges the protocol must carry: 64-bit extremes, odd floats, NULLs. */
export const ITEM_ROWS: readonly ItemRow[] = [
  { id: 1, label: 'alpha', payload: Uint8Array.from([0, 1, 2, 255]), amount: 1n, ratio: 0.1 },
  {
    id: 2,
    label: 'beta',
    payload: Uint8Array.from({ length: 256 }, (_, i) => i),
    amount: 2n ** 63n - 1n,
    ratio: 1e308,
  },
  {
    id: 3,
    label: 'gamma ☃ "quoted"',
    payload: new Uint8Array(0),
    amount: -(2n ** 63n),
    ratio: -2.5e-300,
  },
  { id: 4, label: null, payload: null, amount: 2n ** 53n + 1n, ratio: 5e-324 },
  { id: 5, label: 'epsilon', payload: Uint8Array.from([42]), amount: null, ratio: null },
];

/** A temporary index file plus the writer connection that owns it. */
export interface TempIndex {
  dir: string;
  dbPath: string;
  writer: Database.Database;
  /** Closes the writer and deletes the directory. */
  remove(): void;
}

/** Creates `items` in a fresh WAL database, as the indexer's file would be set up. */
export function createTempIndex(): TempIndex {
  const dir = mkdtempSync(join(tmpdir(), 'index-server-'));
  const dbPath = join(dir, 'index.db');
  const writer = new Database(dbPath, { timeout: 100 });
  writer.pragma('journal_mode = WAL');
  writer.exec(
    'CREATE TABLE items ' +
      '(id INTEGER PRIMARY KEY, label TEXT, payload BLOB, amount INTEGER, ratio REAL)'
  );
  const insert = writer.prepare('INSERT INTO items VALUES (?, ?, ?, ?, ?)');
  for (const row of ITEM_ROWS) {
    const payload = row.payload === null ? null : Buffer.from(row.payload);
    insert.run(row.id, row.label, payload, row.amount, row.ratio);
  }
  return {
    dir,
    dbPath,
    writer,
    remove() {
      writer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A token long enough for the server's minimum. */
export const TEST_TOKEN = 'test-token-0123456789abcdef';
