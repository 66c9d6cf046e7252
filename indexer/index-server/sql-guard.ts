// Which statements the read-only index server runs; judged once per SQL text and connection.
import { HRANA_CODES, HranaError } from './errors.ts';
import { leadingWords, scanSql, type SqlToken } from './sql-text.ts';

// PRAGMAs that only read and take a table or index name as their argument.
const NAME_ARGUMENT_PRAGMAS = new Set([
  'TABLE_INFO',
  'TABLE_XINFO',
  'TABLE_LIST',
  'INDEX_LIST',
  'INDEX_INFO',
  'INDEX_XINFO',
  'FOREIGN_KEY_LIST',
]);

// PRAGMAs allowed in their plain reading form only (`PRAGMA user_version`): with `= value` or
// `(value)` each of them would change the pooled connection for the streams that reuse it.
const READ_ONLY_FORM_PRAGMAS = new Set([
  'APPLICATION_ID',
  'COLLATION_LIST',
  'DATA_VERSION',
  'ENCODING',
  'FREELIST_COUNT',
  'FUNCTION_LIST',
  'JOURNAL_MODE',
  'MODULE_LIST',
  'PAGE_COUNT',
  'PAGE_SIZE',
  'PRAGMA_LIST',
  'SCHEMA_VERSION',
  'USER_VERSION',
]);

/** The verdict on one SQL text; `null` means it may run. */
export type StatementRefusal = HranaError | null;

function refuse(code: string, message: string): HranaError {
  return new HranaError(code, message);
}

// PRAGMA [schema.]name [= value | (value)]: returns the name and what follows it.
function pragmaShape(sql: string, tokens: SqlToken[]): { name: string; next: string } | null {
  let at = 1;
  const dot = tokens[at + 1];
  if (dot !== undefined && sql.slice(dot.start, dot.end) === '.') at += 2;
  const nameToken = tokens[at];
  if (nameToken === undefined || nameToken.kind !== 'word') return null;
  const nextToken = tokens[at + 1];
  return {
    name: sql.slice(nameToken.start, nameToken.end).toUpperCase(),
    next: nextToken === undefined ? '' : sql.slice(nextToken.start, nextToken.end),
  };
}

function judgePragma(sql: string, tokens: SqlToken[]): StatementRefusal {
  const shape = pragmaShape(sql, tokens);
  if (shape === null) return refuse(HRANA_CODES.SQLITE_AUTH, 'malformed PRAGMA refused');
  const label = shape.name.toLowerCase();
  const bare = shape.next === '' || shape.next === ';';
  if (NAME_ARGUMENT_PRAGMAS.has(shape.name) && (bare || shape.next === '(')) return null;
  if (READ_ONLY_FORM_PRAGMAS.has(shape.name) && bare) return null;
  return refuse(
    HRANA_CODES.SQLITE_AUTH,
    `PRAGMA ${label} in this form is not allowed on the read-only index server`
  );
}

/**
 * Decides whether a prepared statement may run. `isReadonly` is better-sqlite3's
 * `Statement.readonly` (sqlite3_stmt_readonly), which is false for anything that writes, including
 * CREATE TEMP, VACUUM INTO (it writes a new file even on a read-only connection) and BEGIN
 * IMMEDIATE/EXCLUSIVE. ATTACH and DETACH count as read-only there, yet ATTACH would let a client
 * open any database file the process can read, so they are refused by name. PRAGMAs that change
 * connection state also count as read-only, so only listed reading forms pass.
 */
export function judgeStatement(sql: string, isReadonly: boolean): StatementRefusal {
  const tokens = scanSql(sql);
  const [first] = leadingWords(sql, tokens, 1);
  if (first === 'ATTACH' || first === 'DETACH') {
    return refuse(HRANA_CODES.SQLITE_AUTH, `${first} is not allowed on the read-only index server`);
  }
  if (first === 'PRAGMA') return judgePragma(sql, tokens);
  if (!isReadonly) {
    return refuse(
      HRANA_CODES.SQLITE_READONLY,
      'attempt to write a readonly database: the index server only reads'
    );
  }
  return null;
}

/** True when the statement is an EXPLAIN or EXPLAIN QUERY PLAN (for `describe`). */
export function isExplain(sql: string): boolean {
  return leadingWords(sql, scanSql(sql), 1)[0] === 'EXPLAIN';
}
