// Typed access to libSQL result values: every read of the index goes through these checks.
import type { Row, Value } from '@libsql/client/web';

/** The value at `index` of `row`. @throws Error naming `what` when the row or column is missing. */
export function column(row: Row | undefined, index: number, what: string): Value {
  if (row === undefined) throw new Error(`index row missing for ${what}`);
  const value = row[index];
  if (value === undefined) throw new Error(`index column ${index} missing for ${what}`);
  return value;
}

/** A BLOB as bytes. @throws Error for any other type. */
export function asBytes(value: Value, what: string): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new Error(`index value for ${what} is ${typeof value}, expected a BLOB`);
}

/** An INTEGER as bigint (the client runs with intMode bigint). */
export function asBigInt(value: Value, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new Error(`index value for ${what} is ${typeof value}, expected an INTEGER`);
}

/** An INTEGER as a number. @throws Error past 2^53. */
export function asInt(value: Value, what: string): number {
  const big = asBigInt(value, what);
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`index value for ${what} exceeds 2^53`);
  }
  return Number(big);
}

/** A REAL (or INTEGER) as a number. */
export function asReal(value: Value, what: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw new Error(`index value for ${what} is ${typeof value}, expected a REAL`);
}

/** A nullable BLOB. */
export function bytesOrNull(value: Value, what: string): Uint8Array | null {
  return value === null ? null : asBytes(value, what);
}
