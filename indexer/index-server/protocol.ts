// Hrana over HTTP request structures (HRANA_3_SPEC, HTTP_V2_SPEC) and their validation.
import { HRANA_CODES, HranaError, quoteForMessage } from './errors.ts';
import { decodeValue, type SqlValue } from './values.ts';

/** Protocol version, from the endpoint path: `/v2/...` or `/v3/...`. */
export type HranaVersion = 2 | 3;

/** SQL given inline or by a `store_sql` id; exactly one of the two. */
export type SqlSource = { sql: string } | { sqlId: number };

export interface StmtRequest {
  source: SqlSource;
  args: SqlValue[];
  namedArgs: [string, SqlValue][];
  wantRows: boolean;
}

export type BatchCondition =
  | { type: 'ok' | 'error'; step: number }
  | { type: 'not'; cond: BatchCondition }
  | { type: 'and' | 'or'; conds: BatchCondition[] }
  | { type: 'is_autocommit' };

export interface BatchStep {
  condition: BatchCondition | null;
  stmt: StmtRequest;
}

export type StreamRequest =
  | { type: 'close' }
  | { type: 'execute'; stmt: StmtRequest }
  | { type: 'batch'; steps: BatchStep[] }
  | { type: 'sequence'; source: SqlSource }
  | { type: 'describe'; source: SqlSource }
  | { type: 'store_sql'; sqlId: number; sql: string }
  | { type: 'close_sql'; sqlId: number }
  | { type: 'get_autocommit' };

/** Top of a `POST .../pipeline` body; `requests` are validated one by one later. */
export interface PipelineBody {
  baton: string | null;
  requests: unknown[];
}

/** Top of a `POST /v3/cursor` body. */
export interface CursorBody {
  baton: string | null;
  batch: unknown;
}

// Conditions nest; a hostile body could nest them deep enough to exhaust the stack.
const MAX_CONDITION_DEPTH = 32;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function protoError(message: string): HranaError {
  return new HranaError(HRANA_CODES.PROTO_ERROR, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (isRecord(value)) return value;
  throw protoError(`${where} must be an object, got ${quoteForMessage(value)}`);
}

function optionalArray(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw protoError(`${where} must be an array`);
  return value;
}

function int32(value: unknown, where: string): number {
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (value >= INT32_MIN && value <= INT32_MAX) return value;
  }
  throw protoError(`${where} must be a 32-bit integer, got ${quoteForMessage(value)}`);
}

function sqlSource(raw: Record<string, unknown>, where: string): SqlSource {
  const sql = raw['sql'];
  const sqlId = raw['sql_id'];
  const hasSql = sql !== undefined && sql !== null;
  const hasId = sqlId !== undefined && sqlId !== null;
  if (hasSql === hasId) throw protoError(`${where}: give exactly one of "sql" and "sql_id"`);
  if (hasId) return { sqlId: int32(sqlId, `${where}.sql_id`) };
  if (typeof sql !== 'string') throw protoError(`${where}.sql must be a string`);
  return { sql };
}

function namedArg(raw: unknown, where: string): [string, SqlValue] {
  const arg = record(raw, where);
  const name = arg['name'];
  if (typeof name !== 'string' || name === '') throw protoError(`${where}.name must be a string`);
  return [name, decodeValue(arg['value'], `${where}.value`)];
}

/** Validates a Hrana `Stmt`; `want_rows` defaults to true (HRANA_3_SPEC "Statements"). */
export function parseStmt(raw: unknown, where: string): StmtRequest {
  const stmt = record(raw, where);
  const wantRows = stmt['want_rows'];
  if (wantRows !== undefined && wantRows !== null && typeof wantRows !== 'boolean') {
    throw protoError(`${where}.want_rows must be a boolean`);
  }
  return {
    source: sqlSource(stmt, where),
    args: optionalArray(stmt['args'], `${where}.args`).map((v, i) =>
      decodeValue(v, `${where}.args[${i}]`)
    ),
    namedArgs: optionalArray(stmt['named_args'], `${where}.named_args`).map((v, i) =>
      namedArg(v, `${where}.named_args[${i}]`)
    ),
    wantRows: wantRows !== false,
  };
}

function stepReference(raw: Record<string, unknown>, stepIndex: number, where: string): number {
  const step = raw['step'];
  // A condition may only look back: a later step has no outcome yet when this one is decided.
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step >= stepIndex) {
    const got = quoteForMessage(step);
    throw protoError(`${where}.step must name an earlier step (< ${stepIndex}), got ${got}`);
  }
  return step;
}

function parseCondition(
  raw: unknown,
  stepIndex: number,
  version: HranaVersion,
  depth: number,
  where: string
): BatchCondition {
  if (depth > MAX_CONDITION_DEPTH) throw protoError(`${where}: conditions nested too deep`);
  const cond = record(raw, where);
  const type = cond['type'];
  switch (type) {
    case 'ok':
    case 'error':
      return { type, step: stepReference(cond, stepIndex, where) };
    case 'not':
      return {
        type,
        cond: parseCondition(cond['cond'], stepIndex, version, depth + 1, `${where}.cond`),
      };
    case 'and':
    case 'or': {
      const list = optionalArray(cond['conds'], `${where}.conds`);
      const conds = list.map((c, i) =>
        parseCondition(c, stepIndex, version, depth + 1, `${where}.conds[${i}]`)
      );
      return { type, conds };
    }
    case 'is_autocommit':
      if (version < 3) {
        const message = 'the is_autocommit condition needs Hrana 3 (/v3)';
        throw new HranaError(HRANA_CODES.NOT_SUPPORTED, message);
      }
      return { type };
    default:
      throw protoError(`${where}: unknown condition type ${quoteForMessage(type)}`);
  }
}

/** Validates a Hrana `Batch`; conditions may only refer to earlier steps. */
export function parseBatch(raw: unknown, version: HranaVersion, where: string): BatchStep[] {
  const batch = record(raw, where);
  if (!Array.isArray(batch['steps'])) throw protoError(`${where}.steps must be an array`);
  return batch['steps'].map((rawStep, i) => {
    const step = record(rawStep, `${where}.steps[${i}]`);
    const rawCondition = step['condition'];
    const condition =
      rawCondition === undefined || rawCondition === null
        ? null
        : parseCondition(rawCondition, i, version, 0, `${where}.steps[${i}].condition`);
    return { condition, stmt: parseStmt(step['stmt'], `${where}.steps[${i}].stmt`) };
  });
}

/** Validates one entry of a pipeline's `requests`. */
export function parseStreamRequest(raw: unknown, version: HranaVersion): StreamRequest {
  const request = record(raw, 'request');
  const type = request['type'];
  switch (type) {
    case 'close':
      return { type };
    case 'get_autocommit':
      if (version < 3) {
        throw new HranaError(HRANA_CODES.NOT_SUPPORTED, 'get_autocommit needs Hrana 3 (/v3)');
      }
      return { type };
    case 'execute':
      return { type, stmt: parseStmt(request['stmt'], 'stmt') };
    case 'batch':
      return { type, steps: parseBatch(request['batch'], version, 'batch') };
    case 'sequence':
    case 'describe':
      return { type, source: sqlSource(request, type) };
    case 'store_sql': {
      const sql = request['sql'];
      if (typeof sql !== 'string') throw protoError('store_sql.sql must be a string');
      return { type, sqlId: int32(request['sql_id'], 'store_sql.sql_id'), sql };
    }
    case 'close_sql':
      return { type, sqlId: int32(request['sql_id'], 'close_sql.sql_id') };
    default:
      throw protoError(`unknown request type ${quoteForMessage(type)}`);
  }
}

function batonField(body: Record<string, unknown>): string | null {
  const baton = body['baton'];
  if (baton === undefined || baton === null) return null;
  if (typeof baton !== 'string') throw protoError('baton must be a string or null');
  return baton;
}

/** Validates the top of a pipeline body; a failure here is an HTTP 400 for the whole request. */
export function parsePipelineBody(raw: unknown): PipelineBody {
  const body = record(raw, 'pipeline body');
  if (!Array.isArray(body['requests'])) throw protoError('pipeline body needs a "requests" array');
  return { baton: batonField(body), requests: body['requests'] };
}

/** Validates the top of a cursor body; the batch itself is checked where it runs. */
export function parseCursorBody(raw: unknown): CursorBody {
  const body = record(raw, 'cursor body');
  return { baton: batonField(body), batch: body['batch'] };
}
