// Bounds-checked cursor over serialized chain data (txs, blocks, headers).

/** A serialization that is truncated, has trailing bytes or holds an impossible value. */
export class ParseError extends Error {
  override name = 'ParseError';
}

/**
 * Reads little-endian integers, varints and byte strings from a buffer. Every read checks the
 * bounds first and throws ParseError naming what was being read and where.
 */
export class ByteReader {
  /** The whole buffer being read (reads return views into it). */
  readonly bytes: Uint8Array;
  private pos: number;

  /** A reader over `bytes` starting at `offset`. @throws RangeError outside the buffer. */
  constructor(bytes: Uint8Array, offset = 0) {
    if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) {
      throw new RangeError(`offset ${offset} outside a buffer of ${bytes.length} bytes`);
    }
    this.bytes = bytes;
    this.pos = offset;
  }

  /** Position of the next byte to read. */
  get offset(): number {
    return this.pos;
  }

  /** Bytes left after the cursor. */
  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** True when every byte has been read. */
  get done(): boolean {
    return this.pos === this.bytes.length;
  }

  private need(countBytes: number, what: string): number {
    if (countBytes > this.bytes.length - this.pos) {
      throw new ParseError(
        `truncated ${what} at offset ${this.pos}: need ${countBytes} bytes, ` +
          `${this.bytes.length - this.pos} left`
      );
    }
    const start = this.pos;
    this.pos += countBytes;
    return start;
  }

  /** One byte; `what` names the field in a ParseError, as in every read below. */
  readU8(what = 'u8'): number {
    const at = this.need(1, what);
    return this.bytes[at] ?? 0;
  }

  /** Unsigned 16-bit little-endian. */
  readU16LE(what = 'u16'): number {
    const at = this.need(2, what);
    return (this.bytes[at] ?? 0) | ((this.bytes[at + 1] ?? 0) << 8);
  }

  /** Unsigned 32-bit little-endian. */
  readU32LE(what = 'u32'): number {
    const at = this.need(4, what);
    const b = this.bytes;
    const low24 = (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16);
    return low24 + (b[at + 3] ?? 0) * 0x1000000;
  }

  /** Signed 32-bit little-endian (tx and header versions). */
  readI32LE(what = 'i32'): number {
    return this.readU32LE(what) | 0;
  }

  /** Unsigned 64-bit little-endian as bigint. */
  readU64LE(what = 'u64'): bigint {
    const lo = this.readU32LE(what);
    const hi = this.readU32LE(what);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Signed 64-bit little-endian as bigint (tx output values are int64 in the node). */
  readI64LE(what = 'i64'): bigint {
    return BigInt.asIntN(64, this.readU64LE(what));
  }

  /** The next `countBytes` bytes as a view into the buffer (no copy). */
  readBytes(countBytes: number, what = 'bytes'): Uint8Array {
    if (!Number.isInteger(countBytes) || countBytes < 0) {
      throw new ParseError(`invalid length ${countBytes} for ${what} at offset ${this.pos}`);
    }
    const at = this.need(countBytes, what);
    return this.bytes.subarray(at, at + countBytes);
  }

  /**
   * A CompactSize varint. Values above 2^53-1 cannot be a count or length of anything in a buffer,
   * so they are rejected rather than rounded.
   */
  readVarInt(what = 'varint'): number {
    const start = this.pos;
    const first = this.readU8(what);
    if (first < 0xfd) return first;
    if (first === 0xfd) return this.readU16LE(what);
    if (first === 0xfe) return this.readU32LE(what);
    const value = this.readU64LE(what);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ParseError(`${what} at offset ${start} is too large: ${value}`);
    }
    return Number(value);
  }

  /** A varint length followed by that many bytes (view, no copy). */
  readVarBytes(what = 'var bytes'): Uint8Array {
    const start = this.pos;
    const lengthBytes = this.readVarInt(`${what} length`);
    if (lengthBytes > this.remaining) {
      throw new ParseError(
        `${what} at offset ${start} claims ${lengthBytes} bytes, ${this.remaining} left`
      );
    }
    return this.readBytes(lengthBytes, what);
  }
}

/**
 * Reads a varint item count and rejects it when `count * minItemBytes` exceeds the bytes left,
 * before the caller allocates anything for the items (a forged count of 2^32 in a tiny buffer
 * must fail fast).
 */
export function readCount(reader: ByteReader, minItemBytes: number, what: string): number {
  const start = reader.offset;
  const count = reader.readVarInt(`${what} count`);
  if (count * minItemBytes > reader.remaining) {
    throw new ParseError(
      `${what} count ${count} at offset ${start} needs at least ${count * minItemBytes} bytes, ` +
        `${reader.remaining} left`
    );
  }
  return count;
}
