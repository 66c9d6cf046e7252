// Runs one Hrana statement on a reader connection and writes its StmtResult as JSON text.
import { HRANA_CODES, HranaError } from './errors.ts';
import type { HranaVersion, SqlSource, StmtRequest } from './protocol.ts';
import { toHranaError, type PreparedSql, type ReaderConnection } from './reader-connection.ts';
import { encodeValue, type SqlValue } from './values.ts';

/**
 * Output a pipeline's results may still use, shared by all statements of one HTTP request. It
 * counts JSON characters, which are bytes for what dominates results: digits, base64, ASCII text.
 */
export class ResponseBudget {
  private remainingBytes: number;
  private readonly limitBytes: number;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
    this.remainingBytes = limitBytes;
  }

  /** Counts `bytes` of output; throws RESPONSE_TOO_LARGE, counting nothing, if they do not fit. */
  spend(bytes: number): void {
    if (bytes > this.remainingBytes) {
      const message = `results exceed the response limit of ${this.limitBytes} bytes`;
      throw new HranaError(HRANA_CODES.RESPONSE_TOO_LARGE, message);
    }
    this.remainingBytes -= bytes;
  }

  /** Gives back bytes of a result that was dropped, so later statements may use them. */
  refund(bytes: number): void {
    this.remainingBytes += bytes;
  }
}

/** What running one statement produced, with each row already JSON text (`[v, ...]`). */
export interface StmtOutcome {
  colsJson: string;
  rowsJson: string[];
  affectedRowCount: number;
  lastInsertRowid: string | null;
  /** Rows the statement returned (SQLite does not report rows scanned through better-sqlite3). */
  rowsRead: number;
  rowsWritten: number;
  durationMs: number;
}

type Binding = (SqlValue | Record<string, SqlValue>)[];

/** The SQL text of a statement, looking up `sql_id` in the stream's stored texts. */
export function resolveSql(source: SqlSource, sqls: ReadonlyMap<number, string>): string {
  if ('sql' in source) return source.sql;
  const sql = sqls.get(source.sqlId);
  if (sql === undefined) {
    const message = `sql_id ${source.sqlId} is not stored on this stream`;
    throw new HranaError(HRANA_CODES.SQL_ID_UNKNOWN, message);
  }
  return sql;
}

// The key better-sqlite3 binds a named parameter by: the name without its `:`, `@`, `$` or `?`.
// Hrana names may omit the prefix ("the server will try to guess"), so a bare name passes as is.
function bindingKey(name: string): string {
  return /^[:@$?]/.test(name) ? name.slice(1) : name;
}

/**
 * Arguments in better-sqlite3's form. Hrana binds `args` by SQLite parameter index and
 * `named_args` by name, a named one winning over a positional one for the same parameter
 * (HRANA_3_SPEC "Statements"). better-sqlite3 counts only nameless `?` as positional and binds
 * every named parameter, `?NNN` included, from an object keyed by the name without its prefix; so
 * unless the SQL has plain `?` only, each positional value goes to its index's name.
 */
function bindingOf(prepared: PreparedSql, stmt: StmtRequest): Binding {
  const { params } = prepared;
  if (stmt.namedArgs.length === 0 && params.every((name) => name === null)) return stmt.args;
  if (stmt.args.length > params.length) {
    const message = `${stmt.args.length} arguments for ${params.length} parameters`;
    throw new HranaError(HRANA_CODES.ARGS_INVALID, message);
  }
  const positional: SqlValue[] = [];
  const named: Record<string, SqlValue> = Object.create(null) as Record<string, SqlValue>;
  stmt.args.forEach((value, i) => {
    const name = params[i] ?? null;
    if (name === null) positional.push(value);
    else named[bindingKey(name)] = value;
  });
  for (const [name, value] of stmt.namedArgs) named[bindingKey(name)] = value;
  return [...positional, named];
}

function colsJsonOf(prepared: PreparedSql): string {
  if (prepared.colsJson !== undefined) return prepared.colsJson;
  const cols = prepared.returnsRows
    ? prepared.statement.columns().map((c) => ({ name: c.name, decltype: c.type }))
    : [];
  prepared.colsJson = JSON.stringify(cols);
  return prepared.colsJson;
}

function encodeRow(row: unknown[]): string {
  let json = '[';
  for (let i = 0; i < row.length; i++) json += (i === 0 ? '' : ',') + encodeValue(row[i]);
  return json + ']';
}

function readRows(
  prepared: PreparedSql,
  binding: Binding,
  wantRows: boolean,
  budget: ResponseBudget
): { rowsJson: string[]; rowsRead: number } {
  const rowsJson: string[] = [];
  let rowsRead = 0;
  let spentBytes = 0;
  try {
    // iterate(), not all(): a huge result stops at the budget instead of filling memory first.
    // A throw inside the loop closes the iterator, which resets the statement.
    for (const row of prepared.statement.iterate(...binding) as Iterable<unknown[]>) {
      rowsRead++;
      if (!wantRows) continue;
      const json = encodeRow(row);
      budget.spend(json.length + 1);
      spentBytes += json.length + 1;
      rowsJson.push(json);
    }
  } catch (error) {
    budget.refund(spentBytes);
    throw error;
  }
  return { rowsJson, rowsRead };
}

function execute(prepared: PreparedSql, stmt: StmtRequest, budget: ResponseBudget): StmtOutcome {
  const binding = bindingOf(prepared, stmt);
  const startedMs = performance.now();
  const colsJson = colsJsonOf(prepared);
  if (prepared.returnsRows) {
    const { rowsJson, rowsRead } = readRows(prepared, binding, stmt.wantRows, budget);
    return {
      colsJson,
      rowsJson,
      affectedRowCount: 0,
      lastInsertRowid: null,
      rowsRead,
      rowsWritten: 0,
      durationMs: performance.now() - startedMs,
    };
  }
  const info = prepared.statement.run(...binding);
  const changes = Number(info.changes);
  return {
    colsJson,
    rowsJson: [],
    affectedRowCount: changes,
    lastInsertRowid: String(info.lastInsertRowid),
    rowsRead: 0,
    rowsWritten: changes,
    durationMs: performance.now() - startedMs,
  };
}

/** Runs one statement; every failure comes out as a HranaError. */
export function runStmt(
  conn: ReaderConnection,
  stmt: StmtRequest,
  sqls: ReadonlyMap<number, string>,
  budget: ResponseBudget
): StmtOutcome {
  try {
    const prepared = conn.prepare(resolveSql(stmt.source, sqls));
    if (prepared.refusal !== null) {
      throw new HranaError(prepared.refusal.code, prepared.refusal.message);
    }
    return execute(prepared, stmt, budget);
  } catch (error) {
    throw toHranaError(error);
  }
}

/**
 * JSON text of a Hrana `StmtResult`. The v3 endpoint adds `rows_read`, `rows_written` and
 * `query_duration_ms`, the fields Turso's v3 servers send; clients ignore fields they do not know
 * (HRANA_3_SPEC "Encoding").
 */
export function encodeStmtResult(outcome: StmtOutcome, version: HranaVersion): string {
  const rowid = outcome.lastInsertRowid === null ? 'null' : `"${outcome.lastInsertRowid}"`;
  let json =
    `{"cols":${outcome.colsJson},"rows":[${outcome.rowsJson.join(',')}],` +
    `"affected_row_count":${outcome.affectedRowCount},"last_insert_rowid":${rowid}`;
  if (version >= 3) {
    const durationMs = Math.round(outcome.durationMs * 1000) / 1000;
    json +=
      `,"rows_read":${outcome.rowsRead},"rows_written":${outcome.rowsWritten},` +
      `"query_duration_ms":${durationMs}`;
  }
  return json + '}';
}

/** JSON text of a Hrana `Error`. */
export function encodeError(error: HranaError): string {
  return JSON.stringify({ message: error.message, code: error.code });
}
