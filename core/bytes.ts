// Byte-array helpers: hex, display order of hashes, concatenation, little-endian integers.

const HEX_DIGITS = '0123456789abcdef';
const HEX_PAIRS: string[] = Array.from({ length: 256 }, (_, i) => {
  return (HEX_DIGITS[i >> 4] ?? '') + (HEX_DIGITS[i & 15] ?? '');
});

/** Shortens a value for an error message so that a huge input cannot bloat the message. */
export function truncateForMessage(value: string, maxChars = 80): string {
  return value.length <= maxChars ? value : `${value.slice(0, maxChars)}...`;
}

function hexNibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

/**
 * Decodes hex (either case) into bytes.
 * @throws TypeError on odd length or any non-hex character.
 */
export function hexToBytes(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0) {
    throw new TypeError(`hex string of even length expected, got ${describe(hex)}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexNibble(hex.charCodeAt(2 * i));
    const lo = hexNibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) {
      throw new TypeError(`non-hex character at offset ${2 * i} in "${truncateForMessage(hex)}"`);
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${truncateForMessage(value)}" (length ${value.length})`;
  return typeof value;
}

/** Encodes bytes as lowercase hex. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += HEX_PAIRS[byte];
  return out;
}

/** Returns a new array holding the bytes in reverse order. */
export function reverseBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[bytes.length - 1 - i] ?? 0;
  return out;
}

/**
 * Display hex of a hash (txid, block hash, script hash): the internal-order bytes reversed, as
 * bitcoind and Electrum print them.
 */
export function hashToHex(hash: Uint8Array): string {
  return bytesToHex(reverseBytes(hash));
}

/**
 * Parses a display-hex hash back to internal order.
 * @throws TypeError unless the input is exactly 64 hex characters.
 */
export function hexToHash(displayHex: string): Uint8Array {
  if (typeof displayHex !== 'string' || displayHex.length !== 64) {
    throw new TypeError(`64 hex characters expected for a hash, got ${describe(displayHex)}`);
  }
  return reverseBytes(hexToBytes(displayHex));
}

/** Concatenates byte arrays into one new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let totalBytes = 0;
  for (const part of parts) totalBytes += part.length;
  const out = new Uint8Array(totalBytes);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** True when both arrays have the same length and bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Lexicographic comparison from the first byte (a shorter prefix sorts first), the order SQLite
 * uses for BLOBs. Returns a negative number, zero or a positive number.
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

/** Writes `value` as a u32 little-endian at `offset`. @throws RangeError outside 0..2^32-1. */
export function writeU32LE(target: Uint8Array, offset: number, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`u32 expected, got ${value}`);
  }
  target[offset] = value & 0xff;
  target[offset + 1] = (value >>> 8) & 0xff;
  target[offset + 2] = (value >>> 16) & 0xff;
  target[offset + 3] = (value >>> 24) & 0xff;
}

/** Reads a u32 little-endian at `offset`. @throws RangeError when fewer than 4 bytes remain. */
export function readU32LE(source: Uint8Array, offset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset + 4 > source.length) {
    throw new RangeError(`cannot read u32 at offset ${offset} of ${source.length} bytes`);
  }
  const b0 = source[offset] ?? 0;
  const b1 = source[offset + 1] ?? 0;
  const b2 = source[offset + 2] ?? 0;
  const b3 = source[offset + 3] ?? 0;
  return (b0 | (b1 << 8) | (b2 << 16)) + b3 * 0x1000000;
}

/** A new 4-byte array holding `value` as u32 little-endian. */
export function u32LE(value: number): Uint8Array {
  const out = new Uint8Array(4);
  writeU32LE(out, 0, value);
  return out;
}

/**
 * Writes `value` as a 64-bit little-endian integer at `offset`; negative values are written in
 * two's complement (tx output values are int64 in the node).
 * @throws RangeError outside -2^63..2^64-1.
 */
export function writeU64LE(target: Uint8Array, offset: number, value: bigint): void {
  if (value < -(1n << 63n) || value >= 1n << 64n) {
    throw new RangeError(`64-bit integer expected, got ${value}`);
  }
  let rest = BigInt.asUintN(64, value);
  for (let i = 0; i < 8; i++) {
    target[offset + i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

/** A new 8-byte array holding `value` as 64-bit little-endian. */
export function u64LE(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  writeU64LE(out, 0, value);
  return out;
}

/**
 * Bitcoin's CompactSize encoding of a count or length.
 * @throws RangeError unless `value` is a safe non-negative integer.
 */
export function encodeVarInt(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`non-negative safe integer expected for a varint, got ${value}`);
  }
  if (value < 0xfd) return Uint8Array.of(value);
  if (value <= 0xffff) return Uint8Array.of(0xfd, value & 0xff, value >>> 8);
  if (value <= 0xffffffff) return concatBytes(Uint8Array.of(0xfe), u32LE(value));
  return concatBytes(Uint8Array.of(0xff), u64LE(BigInt(value)));
}
