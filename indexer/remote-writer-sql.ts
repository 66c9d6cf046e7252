// The local side of the remote mirror: the outbox table and its triggers, and the statements that
// carry the rows it names to a libSQL server.
import type { InStatement, InValue } from '@libsql/client';
import type Database from 'better-sqlite3';

type Sqlite = Database.Database;

/**
 * Keys of rows written since the last send, one row per write (core/schema.ts tables are keyed
 * by at most three columns). AUTOINCREMENT: a seq is never reused after the rows are deleted,
 * so "everything after the last seq sent" stays exact.
 */
export const OUTBOX_TABLE = 'remote_outbox';
const MAX_KEY_COLUMNS = 3;
const KEY_SLOTS = ['k1', 'k2', 'k3'] as const;
// SQLite's default bound-parameter limit is 32,766; chunks of 64 rows stay far below it and keep
// each statement small for the server.
const ROWS_PER_STATEMENT = 64;
const MAX_PARAMS_PER_STATEMENT = 30_000;

/** A table the mirror carries, with its columns and primary key. */
export interface MirroredTable {
  name: string;
  columns: string[];
  keyColumns: string[];
}

/** Rows to carry: the statements and the outbox position they cover. */
export interface PendingBatch {
  statements: InStatement[];
  /** The last outbox seq covered; send, then delete the outbox rows up to it. */
  lastSeq: number;
  /** Distinct rows written or deleted. */
  rows: number;
  /**
   * chain_state.last_change_seq in the snapshot the batch was read from: once it is sent, the
   * remote holds every change row up to this seq.
   */
  changeSeq: number;
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function isMirrored(name: string): boolean {
  return !name.startsWith('sqlite_') && name !== OUTBOX_TABLE;
}

/** Every table of the local index the mirror carries (all but SQLite's own and the outbox). */
export function mirroredTables(sqlite: Sqlite): MirroredTable[] {
  const names = sqlite
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    .pluck()
    .all() as string[];
  return names.filter(isMirrored).map((name) => {
    const info = sqlite.pragma(`table_info(${quote(name)})`) as { name: string; pk: number }[];
    const keyColumns = info
      .filter((column) => column.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((column) => column.name);
    if (keyColumns.length === 0 || keyColumns.length > MAX_KEY_COLUMNS) {
      throw new Error(`table ${name} has ${keyColumns.length} key columns; the mirror needs 1-3`);
    }
    return { name, columns: info.map((column) => column.name), keyColumns };
  });
}

function keyValues(prefix: 'NEW' | 'OLD', table: MirroredTable): string {
  const values = KEY_SLOTS.map((_, i) => {
    const column = table.keyColumns[i];
    return column === undefined ? 'NULL' : `${prefix}.${quote(column)}`;
  });
  return `'${table.name}', ${values.join(', ')}`;
}

function triggerSql(table: MirroredTable): string[] {
  const target = `main.${quote(table.name)}`;
  const record = (prefix: 'NEW' | 'OLD'): string =>
    `INSERT INTO ${OUTBOX_TABLE} (tbl, k1, k2, k3) VALUES (${keyValues(prefix, table)});`;
  const name = (kind: string): string => quote(`${OUTBOX_TABLE}_${kind}_${table.name}`);
  const keyChanged = table.keyColumns
    .map((column) => `OLD.${quote(column)} IS NOT NEW.${quote(column)}`)
    .join(' OR ');
  return [
    `CREATE TEMP TRIGGER IF NOT EXISTS ${name('ins')} AFTER INSERT ON ${target}
     BEGIN ${record('NEW')} END`,
    `CREATE TEMP TRIGGER IF NOT EXISTS ${name('upd')} AFTER UPDATE ON ${target}
     BEGIN ${record('NEW')} END`,
    `CREATE TEMP TRIGGER IF NOT EXISTS ${name('rekey')} AFTER UPDATE ON ${target}
     WHEN ${keyChanged} BEGIN ${record('OLD')} END`,
    `CREATE TEMP TRIGGER IF NOT EXISTS ${name('del')} AFTER DELETE ON ${target}
     BEGIN ${record('OLD')} END`,
  ];
}

/**
 * Creates the outbox and, on this connection only, triggers that record the key of every row
 * inserted, updated or deleted in a mirrored table. TEMP triggers run in the writer's own
 * transaction, so a flush and its outbox rows commit together or not at all, whichever module
 * wrote (block writer, unwinder, fee refresh, mempool); an indexer started without DB_URL
 * installs none and writes no outbox.
 */
export function installOutbox(sqlite: Sqlite): MirroredTable[] {
  sqlite.exec(
    `CREATE TABLE IF NOT EXISTS ${OUTBOX_TABLE}
     (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, k1, k2, k3)`
  );
  const tables = mirroredTables(sqlite);
  for (const table of tables) {
    for (const sql of triggerSql(table)) sqlite.exec(sql);
  }
  return tables;
}

// better-sqlite3 hands BLOBs back as Buffers; the client takes plain bytes.
function inValue(value: unknown): InValue {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value === null || typeof value === 'bigint' || typeof value === 'number') return value;
  if (typeof value === 'string') return value;
  throw new TypeError(`cannot carry a ${typeof value} value to the remote index`);
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += size) out.push(items.slice(at, at + size));
  return out;
}

function rowsPerStatement(width: number): number {
  return Math.max(1, Math.min(ROWS_PER_STATEMENT, Math.floor(MAX_PARAMS_PER_STATEMENT / width)));
}

/** `DELETE ... WHERE key IN (...)` statements for the given keys (row values for 2-3 columns). */
export function deleteStatements(table: MirroredTable, keys: InValue[][]): InStatement[] {
  const width = table.keyColumns.length;
  const columns = table.keyColumns.map(quote);
  return chunks(keys, rowsPerStatement(width)).map((part) => {
    const one = width === 1 ? '?' : `(${columns.map(() => '?').join(', ')})`;
    const list = part.map(() => one).join(', ');
    const sql =
      width === 1
        ? `DELETE FROM ${quote(table.name)} WHERE ${columns[0]} IN (${list})`
        : `DELETE FROM ${quote(table.name)} WHERE (${columns.join(', ')}) IN (VALUES ${list})`;
    return { sql, args: part.flat() };
  });
}

/** `INSERT OR REPLACE` statements writing whole rows (values in `table.columns` order). */
export function upsertStatements(table: MirroredTable, rows: InValue[][]): InStatement[] {
  const width = table.columns.length;
  const columns = table.columns.map(quote).join(', ');
  const head = `INSERT OR REPLACE INTO ${quote(table.name)} (${columns})`;
  const one = `(${table.columns.map(() => '?').join(', ')})`;
  return chunks(rows, rowsPerStatement(width)).map((part) => ({
    sql: `${head} VALUES ${part.map(() => one).join(', ')}`,
    args: part.flat(),
  }));
}

interface OutboxRow {
  seq: bigint;
  tbl: string;
  k1: unknown;
  k2: unknown;
  k3: unknown;
}

function keyText(values: readonly unknown[]): string {
  const text = (value: unknown): string =>
    value instanceof Uint8Array ? `x${Buffer.from(value).toString('hex')}` : String(value);
  return values.map(text).join('|');
}

/**
 * Reads, in one snapshot of the committed index, the outbox after `afterSeq` and the current
 * state of every row it names: a row that exists is written whole, one that is gone is deleted.
 * Sending the state as of the snapshot makes a send idempotent and lets it cover any number of
 * commits at once, always ending on a commit boundary (a block boundary for the sync).
 * `reader` must be a separate connection (WAL), so it never sees a flush in progress.
 */
export function readPending(
  reader: Sqlite,
  tables: readonly MirroredTable[],
  afterSeq: number
): PendingBatch | null {
  const byName = new Map(tables.map((table) => [table.name, table]));
  return reader.transaction(() => {
    const outbox = reader
      .prepare(`SELECT seq, tbl, k1, k2, k3 FROM ${OUTBOX_TABLE} WHERE seq > ? ORDER BY seq`)
      .safeIntegers(true)
      .all(afterSeq) as OutboxRow[];
    const last = outbox[outbox.length - 1];
    if (last === undefined) return null;
    const keys = new Map<string, Map<string, unknown[]>>();
    for (const row of outbox) {
      const table = byName.get(row.tbl);
      if (table === undefined) throw new Error(`the outbox names an unknown table ${row.tbl}`);
      const key = [row.k1, row.k2, row.k3].slice(0, table.keyColumns.length);
      let seen = keys.get(row.tbl);
      if (seen === undefined) keys.set(row.tbl, (seen = new Map()));
      seen.set(keyText(key), key);
    }
    const statements: InStatement[] = [];
    let rows = 0;
    const upserts: InStatement[] = [];
    for (const [name, seen] of keys) {
      const table = byName.get(name);
      if (table === undefined) continue;
      const state = rowStates(reader, table, [...seen.values()]);
      statements.push(...deleteStatements(table, state.gone));
      upserts.push(...upsertStatements(table, state.present));
      rows += seen.size;
    }
    const changeSeq = Number(
      reader.prepare('SELECT last_change_seq FROM chain_state WHERE id = 0').pluck().get() ?? 0
    );
    // Deletes first: a key is either deleted or written, so the order only matters for clarity.
    return { statements: [...statements, ...upserts], lastSeq: Number(last.seq), rows, changeSeq };
  })();
}

function rowStates(
  reader: Sqlite,
  table: MirroredTable,
  keys: unknown[][]
): { present: InValue[][]; gone: InValue[][] } {
  const where = table.keyColumns.map((column) => `${quote(column)} = ?`).join(' AND ');
  const columns = table.columns.map(quote).join(', ');
  const select = reader
    .prepare(`SELECT ${columns} FROM ${quote(table.name)} WHERE ${where}`)
    .raw(true)
    .safeIntegers(true);
  const present: InValue[][] = [];
  const gone: InValue[][] = [];
  for (const key of keys) {
    const row = select.get(...key) as unknown[] | undefined;
    if (row === undefined) gone.push(key.map(inValue));
    else present.push(row.map(inValue));
  }
  return { present, gone };
}

/**
 * The statements that create the local schema's tables and indexes on an empty remote database
 * and copy every row of them, for a remote started from a fresh index (height -1).
 */
export function bootstrapStatements(
  reader: Sqlite,
  tables: readonly MirroredTable[]
): InStatement[] {
  const schema = reader
    .prepare(
      `SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND type IN ('table', 'index')
       ORDER BY type = 'index', name`
    )
    .all() as { sql: string }[];
  const creates = schema
    .map((entry) => entry.sql)
    .filter((sql) => !sql.includes(OUTBOX_TABLE) && !/sqlite_sequence/.test(sql));
  const copies = tables.flatMap((table) => {
    const rows = reader
      .prepare(`SELECT ${table.columns.map(quote).join(', ')} FROM ${quote(table.name)}`)
      .raw(true)
      .safeIntegers(true)
      .all() as unknown[][];
    return upsertStatements(table, rows.map((row) => row.map(inValue)));
  });
  return [...creates.map((sql) => ({ sql, args: [] })), ...copies];
}
