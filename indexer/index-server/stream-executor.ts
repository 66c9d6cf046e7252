// Executes the requests of one Hrana stream in order: pipelines, batches and cursor batches.
import { HRANA_CODES, HranaError } from './errors.ts';
import {
  parseBatch,
  parseStreamRequest,
  type BatchCondition,
  type BatchStep,
  type HranaVersion,
  type SqlSource,
  type StreamRequest,
} from './protocol.ts';
import { toHranaError, type ReaderConnection } from './reader-connection.ts';
import { isExplain } from './sql-guard.ts';
import { listParameters, splitStatements } from './sql-text.ts';
import {
  encodeError,
  encodeStmtResult,
  resolveSql,
  runStmt,
  type ResponseBudget,
  type StmtOutcome,
} from './stmt-runner.ts';

// Stored SQL texts per stream and their size; @libsql/client keeps at most 30 and only texts under
// 5,000 characters, so these bounds never bite a well-behaved client.
const MAX_STORED_SQLS = 128;
const MAX_STORED_SQL_CHARS = 65_536;

/** The server side of one stream: its connection, stored SQL texts and whether it is closed. */
export interface ReaderStream {
  conn: ReaderConnection;
  sqls: Map<number, string>;
  closed: boolean;
}

/** Per-request settings: protocol version, output budget, and where our own failures go. */
export interface ExecContext {
  version: HranaVersion;
  budget: ResponseBudget;
  reportInternal(error: HranaError): void;
}

/** How one batch step ended. */
export type StepReport =
  | { kind: 'ok'; outcome: StmtOutcome }
  | { kind: 'error'; error: HranaError }
  | { kind: 'skipped' };

function failure(error: unknown, ctx: ExecContext): HranaError {
  const hranaError = toHranaError(error);
  if (hranaError.code === HRANA_CODES.INTERNAL) ctx.reportInternal(hranaError);
  return hranaError;
}

function holds(cond: BatchCondition, reports: StepReport[], conn: ReaderConnection): boolean {
  switch (cond.type) {
    case 'ok':
      return reports[cond.step]?.kind === 'ok';
    case 'error':
      return reports[cond.step]?.kind === 'error';
    case 'not':
      return !holds(cond.cond, reports, conn);
    case 'and':
      return cond.conds.every((c) => holds(c, reports, conn));
    case 'or':
      return cond.conds.some((c) => holds(c, reports, conn));
    case 'is_autocommit':
      return conn.isAutocommit;
  }
}

/**
 * Runs batch steps in order (HRANA_3_SPEC "Batches"): a step whose condition is false is skipped,
 * a failing step records its error and the batch goes on, so later conditions can react to it.
 */
export function runBatchSteps(
  stream: ReaderStream,
  steps: BatchStep[],
  ctx: ExecContext
): StepReport[] {
  const reports: StepReport[] = [];
  for (const step of steps) {
    if (step.condition !== null && !holds(step.condition, reports, stream.conn)) {
      reports.push({ kind: 'skipped' });
      continue;
    }
    try {
      const outcome = runStmt(stream.conn, step.stmt, stream.sqls, ctx.budget);
      reports.push({ kind: 'ok', outcome });
    } catch (error) {
      reports.push({ kind: 'error', error: failure(error, ctx) });
    }
  }
  return reports;
}

function encodeBatchResult(reports: StepReport[], version: HranaVersion): string {
  const results = reports.map((r) =>
    r.kind === 'ok' ? encodeStmtResult(r.outcome, version) : 'null'
  );
  const errors = reports.map((r) => (r.kind === 'error' ? encodeError(r.error) : 'null'));
  return `{"step_results":[${results.join(',')}],"step_errors":[${errors.join(',')}]}`;
}

// Any rows are ignored and the first failing statement ends the request (HRANA_3_SPEC "sequence").
function runSequence(stream: ReaderStream, source: SqlSource, ctx: ExecContext): void {
  for (const sql of splitStatements(resolveSql(source, stream.sqls))) {
    const stmt = { source: { sql }, args: [], namedArgs: [], wantRows: false };
    runStmt(stream.conn, stmt, stream.sqls, ctx.budget);
  }
}

function describe(stream: ReaderStream, source: SqlSource): string {
  const sql = resolveSql(source, stream.sqls);
  // Describing only prepares, so statements the guard refuses to run can still be described.
  const { statement, returnsRows } = stream.conn.prepare(sql);
  const cols = returnsRows
    ? statement.columns().map((c) => ({ name: c.name, decltype: c.type }))
    : [];
  return JSON.stringify({
    params: listParameters(sql).map((name) => ({ name })),
    cols,
    is_explain: isExplain(sql),
    is_readonly: statement.readonly,
  });
}

function storeSql(stream: ReaderStream, sqlId: number, sql: string): void {
  if (stream.sqls.has(sqlId)) {
    throw new HranaError(HRANA_CODES.SQL_ID_IN_USE, `sql_id ${sqlId} is already stored`);
  }
  if (stream.sqls.size >= MAX_STORED_SQLS) {
    const message = `a stream stores at most ${MAX_STORED_SQLS} SQL texts`;
    throw new HranaError(HRANA_CODES.SQL_STORE_TOO_MANY, message);
  }
  if (sql.length > MAX_STORED_SQL_CHARS) {
    const message = `stored SQL is limited to ${MAX_STORED_SQL_CHARS} chars, got ${sql.length}`;
    throw new HranaError(HRANA_CODES.SQL_STORE_TOO_LARGE, message);
  }
  stream.sqls.set(sqlId, sql);
}

// The JSON text of the StreamResponse for one request (HTTP_V2_SPEC "Requests").
function respond(stream: ReaderStream, request: StreamRequest, ctx: ExecContext): string {
  switch (request.type) {
    case 'close':
      stream.closed = true;
      return '{"type":"close"}';
    case 'execute': {
      const outcome = runStmt(stream.conn, request.stmt, stream.sqls, ctx.budget);
      return `{"type":"execute","result":${encodeStmtResult(outcome, ctx.version)}}`;
    }
    case 'batch': {
      const reports = runBatchSteps(stream, request.steps, ctx);
      return `{"type":"batch","result":${encodeBatchResult(reports, ctx.version)}}`;
    }
    case 'sequence':
      runSequence(stream, request.source, ctx);
      return '{"type":"sequence"}';
    case 'describe':
      return `{"type":"describe","result":${describe(stream, request.source)}}`;
    case 'store_sql':
      storeSql(stream, request.sqlId, request.sql);
      return '{"type":"store_sql"}';
    case 'close_sql':
      // Closing an id that is not stored is not an error (HRANA_3_SPEC "close_sql").
      stream.sqls.delete(request.sqlId);
      return '{"type":"close_sql"}';
    case 'get_autocommit':
      return `{"type":"get_autocommit","is_autocommit":${stream.conn.isAutocommit}}`;
  }
}

/**
 * Runs every request of a pipeline and returns the JSON text of the `results` array. Each request
 * gets its own ok or error result and the next one runs regardless (HTTP_V2_SPEC "Execute
 * requests on a stream"); after `close`, the remaining requests fail with STREAM_CLOSED.
 */
export function runPipeline(stream: ReaderStream, requests: unknown[], ctx: ExecContext): string {
  const results: string[] = [];
  for (const raw of requests) {
    try {
      if (stream.closed) throw new HranaError(HRANA_CODES.STREAM_CLOSED, 'the stream is closed');
      const response = respond(stream, parseStreamRequest(raw, ctx.version), ctx);
      results.push(`{"type":"ok","response":${response}}`);
    } catch (error) {
      results.push(`{"type":"error","error":${encodeError(failure(error, ctx))}}`);
    }
  }
  return `[${results.join(',')}]`;
}

function cursorStepLines(report: StepReport, step: number): string[] {
  if (report.kind === 'skipped') return [];
  if (report.kind === 'error') {
    return [`{"type":"step_error","step":${step},"error":${encodeError(report.error)}}`];
  }
  const { outcome } = report;
  const lines = [`{"type":"step_begin","step":${step},"cols":${outcome.colsJson}}`];
  for (const row of outcome.rowsJson) lines.push(`{"type":"row","row":${row}}`);
  const rowid = outcome.lastInsertRowid === null ? 'null' : `"${outcome.lastInsertRowid}"`;
  const count = outcome.affectedRowCount;
  lines.push(`{"type":"step_end","affected_row_count":${count},"last_insert_rowid":${rowid}}`);
  return lines;
}

/**
 * Runs a cursor's batch and returns its `CursorEntry` lines (HRANA_3_SPEC "Cursor entries").
 * TODO(perf): the whole batch runs before the first line is sent, so a cursor streams nothing
 * early; the response budget bounds what is buffered.
 */
export function runCursor(stream: ReaderStream, rawBatch: unknown, ctx: ExecContext): string[] {
  let steps: BatchStep[];
  try {
    if (stream.closed) throw new HranaError(HRANA_CODES.STREAM_CLOSED, 'the stream is closed');
    steps = parseBatch(rawBatch, ctx.version, 'batch');
  } catch (error) {
    return [`{"type":"error","error":${encodeError(failure(error, ctx))}}`];
  }
  const reports = runBatchSteps(stream, steps, ctx);
  return reports.flatMap((report, step) => cursorStepLines(report, step));
}
