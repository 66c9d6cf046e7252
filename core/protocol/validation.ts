// Parameter value checks shared by every transport; failures carry ElectrumX's BAD_REQUEST texts.
import { hexToHash } from '../bytes.ts';
import { BAD_REQUEST, describeValue, RpcError } from './errors.ts';

function tryHash(value: unknown): Uint8Array | null {
  if (typeof value !== 'string') return null;
  try {
    return hexToHash(value);
  } catch {
    return null;
  }
}

/**
 * A script hash parameter: 64 hex characters in display order (the reversed SHA-256 of the
 * script, protocol docs "Script Hashes"). Returns the internal-order bytes the index keys on.
 */
export function parseScriptHash(value: unknown): Uint8Array {
  const hash = tryHash(value);
  if (hash === null) {
    throw new RpcError(BAD_REQUEST, `${describeValue(value)} is not a valid script hash`);
  }
  return hash;
}

/** A txid parameter in display hex; returns internal order. */
export function parseTxHash(value: unknown): Uint8Array {
  const hash = tryHash(value);
  if (hash === null) {
    throw new RpcError(BAD_REQUEST, `${describeValue(value)} should be a transaction hash`);
  }
  return hash;
}

/**
 * A height, count or position. ElectrumX passes the value through Python's int(), so decimal
 * strings are accepted too; fractions, signs and values past 2^53 are refused here.
 */
export function parseNonNegativeInteger(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return Number(value);
  throw new RpcError(BAD_REQUEST, `${describeValue(value)} should be a non-negative integer`);
}

/** An optional non-negative integer: `fallback` when absent or null. */
export function parseOptionalNonNegativeInteger(value: unknown, fallback: number): number {
  return value === undefined || value === null ? fallback : parseNonNegativeInteger(value);
}

/**
 * A flag such as `verbose` or `merkle`; `fallback` when absent. ElectrumX tests `in (True, False)`,
 * which Python also passes for 0 and 1, so those are accepted.
 */
export function parseFlag(value: unknown, name: string, fallback = false): boolean {
  if (value === undefined) return fallback;
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  throw new RpcError(BAD_REQUEST, `"${name}" must be a boolean`);
}
