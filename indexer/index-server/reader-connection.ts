// One read-only better-sqlite3 connection with its cache of prepared, pre-judged statements.
import Database from 'better-sqlite3';
import { HRANA_CODES, HranaError } from './errors.ts';
import { judgeStatement, type StatementRefusal } from './sql-guard.ts';
import { listParameters } from './sql-text.ts';

/** A prepared statement with what we learn about it once. */
export interface PreparedSql {
  statement: Database.Statement;
  /** True when the statement returns rows (better-sqlite3 `Statement.reader`). */
  returnsRows: boolean;
  /** Why the statement may not run here, or null. */
  refusal: StatementRefusal;
  /** Parameter names by index (`listParameters`); all null when the SQL uses plain `?` only. */
  params: (string | null)[];
  /** JSON text of the Hrana `cols` array, built on first use. */
  colsJson: string | undefined;
}

// Statements kept per connection; the Worker's queries are a few dozen fixed SQL texts.
const STATEMENT_CACHE_SIZE = 256;

/**
 * Maps an exception from better-sqlite3 to the Hrana error the client gets. Anything else is our
 * bug: it becomes INTERNAL with the original kept as `cause` for the log, never for the client.
 */
export function toHranaError(error: unknown): HranaError {
  if (error instanceof HranaError) return error;
  if (error instanceof Database.SqliteError) {
    // Extended codes such as SQLITE_CONSTRAINT_PRIMARYKEY are reported by their primary code,
    // the form sqld uses.
    const primary = /^SQLITE_[A-Z]+/.exec(error.code)?.[0] ?? 'SQLITE_ERROR';
    return new HranaError(primary, `SQLite error: ${error.message}`, { cause: error });
  }
  if (error instanceof RangeError || error instanceof TypeError) {
    // better-sqlite3 reports SQL text and binding mistakes with these two types.
    if (error.message.includes('more than one statement')) {
      const message = 'the SQL text holds more than one statement';
      return new HranaError(HRANA_CODES.SQL_MANY_STATEMENTS, message);
    }
    if (error.message.includes('contains no statements')) {
      return new HranaError(HRANA_CODES.SQL_NO_STATEMENT, 'the SQL text holds no statement');
    }
    return new HranaError(HRANA_CODES.ARGS_INVALID, `arguments do not fit: ${error.message}`);
  }
  return new HranaError(HRANA_CODES.INTERNAL, 'internal error', { cause: error });
}

/** A read-only connection to the index file, reused by one stream after another. */
export class ReaderConnection {
  readonly db: Database.Database;
  private readonly cache = new Map<string, PreparedSql>();
  private readonly readOnly: boolean;

  /** `readOnly: false` is for tests only: a stand-in for sqld that clients can write to. */
  constructor(dbPath: string, readOnly = true) {
    // readonly opens with SQLITE_OPEN_READONLY: any write fails inside SQLite even if the guard
    // missed it. In WAL mode a reader sees the last commit and never blocks the indexer's writer.
    this.db = new Database(dbPath, { readonly: readOnly, fileMustExist: true });
    this.db.defaultSafeIntegers(true);
    this.readOnly = readOnly;
    // Writers on several reader threads wait for each other instead of failing with SQLITE_BUSY.
    if (!readOnly) this.db.pragma('busy_timeout = 5000');
  }

  /** The cached statement for `sql`, prepared and judged on first use; throws HranaError. */
  prepare(sql: string): PreparedSql {
    const cached = this.cache.get(sql);
    if (cached !== undefined) return cached;
    let statement: Database.Statement;
    try {
      statement = this.db.prepare(sql);
    } catch (error) {
      throw toHranaError(error);
    }
    const returnsRows = statement.reader;
    if (returnsRows) statement.raw(true);
    const refusal = judgeStatement(sql, statement.readonly || !this.readOnly);
    const params = listParameters(sql);
    const entry: PreparedSql = { statement, returnsRows, refusal, params, colsJson: undefined };
    if (this.cache.size >= STATEMENT_CACHE_SIZE) {
      // Map iteration order is insertion order: drop the oldest entry.
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    this.cache.set(sql, entry);
    return entry;
  }

  /** True outside an explicit transaction (Hrana `is_autocommit`). */
  get isAutocommit(): boolean {
    return !this.db.inTransaction;
  }

  /**
   * Ends any transaction a stream left open so the next stream starts clean. Returns false when
   * the rollback fails; the caller then closes the connection instead of pooling it.
   */
  reset(): boolean {
    if (!this.db.inTransaction) return true;
    try {
      this.db.prepare('ROLLBACK').run();
      return !this.db.inTransaction;
    } catch {
      return false;
    }
  }

  close(): void {
    this.cache.clear();
    this.db.close();
  }
}
