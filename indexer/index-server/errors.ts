// Hrana error codes of the index server and the error type that carries them to the client.

/**
 * Machine-readable codes in Hrana `Error.code`. The spec leaves codes to the server (HRANA_3_SPEC
 * "Errors"); we keep sqld's names where one exists so client code written against Turso reads the
 * same. SQLite failures use the primary result code name instead, e.g. `SQLITE_READONLY`.
 */
export const HRANA_CODES = {
  /** The SQL text holds no statement (only blanks or comments). */
  SQL_NO_STATEMENT: 'SQL_NO_STATEMENT',
  /** `execute` and batch steps take exactly one statement; `sequence` takes several. */
  SQL_MANY_STATEMENTS: 'SQL_MANY_STATEMENTS',
  /** Arguments do not match the statement's parameters (count, names or type). */
  ARGS_INVALID: 'ARGS_INVALID',
  /** A `sql_id` that was never stored on this stream, or closed since. */
  SQL_ID_UNKNOWN: 'SQL_ID_UNKNOWN',
  /** `store_sql` with an id that is still in use on this stream. */
  SQL_ID_IN_USE: 'SQL_ID_IN_USE',
  /** The stream already holds the maximum number of stored SQL texts. */
  SQL_STORE_TOO_MANY: 'SQL_STORE_TOO_MANY',
  /** A stored SQL text over the size limit. */
  SQL_STORE_TOO_LARGE: 'SQL_STORE_TOO_LARGE',
  /** A request or body that does not follow the protocol's structure. */
  PROTO_ERROR: 'PROTO_ERROR',
  /** A Hrana 3 feature (get_autocommit, is_autocommit) used on the v2 endpoint. */
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  /** The results of one pipeline would exceed the response size limit. */
  RESPONSE_TOO_LARGE: 'RESPONSE_TOO_LARGE',
  /** A request after `close` in the same pipeline. */
  STREAM_CLOSED: 'STREAM_CLOSED',
  /** A statement the read-only server refuses before running it (ATTACH, setting a PRAGMA). */
  SQLITE_AUTH: 'SQLITE_AUTH',
  /** A statement that would write; the reader connections are read-only. */
  SQLITE_READONLY: 'SQLITE_READONLY',
  /** The request body is not JSON. */
  JSON_INVALID: 'JSON_INVALID',
  /** A baton this server never issued, or one already used (batons are single-use). */
  BATON_INVALID: 'BATON_INVALID',
  /** The baton's stream was idle too long and was closed, its transaction rolled back. */
  STREAM_EXPIRED: 'STREAM_EXPIRED',
  /** The open-stream limit is reached; retry after streams close or expire. */
  STREAMS_EXHAUSTED: 'STREAMS_EXHAUSTED',
  /** A read ran so long that its reader thread was given up (it cannot be interrupted). */
  READ_TIMEOUT: 'READ_TIMEOUT',
  /** Missing or wrong bearer token. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** Request body over the size limit. */
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** Our own failure; the detail goes to the log only. */
  INTERNAL: 'INTERNAL',
} as const;

export type HranaCode = (typeof HRANA_CODES)[keyof typeof HRANA_CODES];

/** A failure reported to the client as a Hrana `Error` structure: a request, step or HTTP error. */
export class HranaError extends Error {
  override name = 'HranaError';
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const QUOTE_LIMIT_CHARS = 60;

/** A value quoted for an error message, cut so a huge argument cannot bloat the reply. */
export function quoteForMessage(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > QUOTE_LIMIT_CHARS
    ? `${JSON.stringify(text.slice(0, QUOTE_LIMIT_CHARS))}...`
    : JSON.stringify(text);
}
