// Hrana `Value` in JSON: decoding arguments for better-sqlite3 and encoding column values.
import { HRANA_CODES, HranaError, quoteForMessage } from './errors.ts';

/** A value better-sqlite3 binds or returns with safe integers on: INTEGER is always a bigint. */
export type SqlValue = null | bigint | number | string | Uint8Array;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
// Standard base64 (RFC 4648 §4); padding is optional because sqld sends it without.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const DECIMAL_INTEGER = /^-?[0-9]{1,19}$/;

function bad(where: string, what: string, value: unknown): HranaError {
  const message = `${where}: ${what}, got ${quoteForMessage(value)}`;
  return new HranaError(HRANA_CODES.PROTO_ERROR, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeInteger(raw: unknown, where: string): bigint {
  // HRANA_3_SPEC "Values": a 64-bit integer travels as a decimal string so no precision is lost.
  if (typeof raw !== 'string' || !DECIMAL_INTEGER.test(raw)) {
    throw bad(where, 'integer value must be a decimal string', raw);
  }
  const value = BigInt(raw);
  if (value < I64_MIN || value > I64_MAX) throw bad(where, 'integer out of the 64-bit range', raw);
  return value;
}

function decodeBlob(raw: unknown, where: string): Uint8Array {
  if (typeof raw !== 'string' || !BASE64.test(raw)) throw bad(where, 'blob must be base64', raw);
  return Buffer.from(raw, 'base64');
}

/** Decodes one Hrana `Value` object from a request; `where` names it in the error message. */
export function decodeValue(raw: unknown, where: string): SqlValue {
  if (!isRecord(raw)) throw bad(where, 'value must be an object', raw);
  switch (raw['type']) {
    case 'null':
      return null;
    case 'integer':
      return decodeInteger(raw['value'], where);
    case 'float':
      if (typeof raw['value'] !== 'number') throw bad(where, 'float value must be a number', raw);
      return raw['value'];
    case 'text':
      if (typeof raw['value'] !== 'string') throw bad(where, 'text value must be a string', raw);
      return raw['value'];
    case 'blob':
      return decodeBlob(raw['base64'], where);
    default:
      throw bad(where, 'unknown value type', raw['type']);
  }
}

/**
 * JSON text of a Hrana `Value` for a column value as better-sqlite3 returns it with safe
 * integers. JSON has no infinity; `1e999` is valid JSON number syntax that JSON.parse reads as
 * Infinity, so REAL infinities survive the trip. SQLite stores NaN as NULL, so none arrives here.
 */
export function encodeValue(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `{"type":"integer","value":"${value}"}`;
    case 'number':
      if (Number.isFinite(value)) return `{"type":"float","value":${JSON.stringify(value)}}`;
      return `{"type":"float","value":${value > 0 ? '1e999' : '-1e999'}}`;
    case 'string':
      return `{"type":"text","value":${JSON.stringify(value)}}`;
    default:
      if (value === null) return '{"type":"null"}';
      if (value instanceof Uint8Array) {
        const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        return `{"type":"blob","base64":"${bytes.toString('base64')}"}`;
      }
      throw new TypeError(`SQLite returned a value of unexpected type ${typeof value}`);
  }
}
