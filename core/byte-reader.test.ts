// Tests for core/byte-reader.ts: bounds checks, varints, counts checked before allocation.
import { describe, expect, it } from 'vitest';
import { ByteReader, ParseError, readCount } from './byte-reader.ts';
import { hexToBytes } from './bytes.ts';

describe('ByteReader', () => {
  it('reads little-endian integers', () => {
    const hex = '01' + '0201' + '04030201' + 'ffffffff' + '0807060504030201';
    const reader = new ByteReader(hexToBytes(hex));
    expect(reader.readU8()).toBe(1);
    expect(reader.readU16LE()).toBe(0x0102);
    expect(reader.readU32LE()).toBe(0x01020304);
    expect(reader.readI32LE()).toBe(-1);
    expect(reader.readU64LE()).toBe(0x0102030405060708n);
    expect(reader.done).toBe(true);
    expect(reader.remaining).toBe(0);
  });

  it('reads signed 64-bit values', () => {
    expect(new ByteReader(hexToBytes('ffffffffffffffff')).readI64LE()).toBe(-1n);
    expect(new ByteReader(hexToBytes('ffffffffffffffff')).readU64LE()).toBe(2n ** 64n - 1n);
  });

  it('reads CompactSize varints of every width', () => {
    const hex = 'fc' + 'fdfd00' + 'fe00000100' + 'ff0000000001000000';
    const reader = new ByteReader(hexToBytes(hex));
    expect(reader.readVarInt()).toBe(0xfc);
    expect(reader.readVarInt()).toBe(0xfd);
    expect(reader.readVarInt()).toBe(0x10000);
    expect(reader.readVarInt()).toBe(0x100000000);
  });

  it('rejects a 64-bit varint above 2^53-1', () => {
    expect(() => new ByteReader(hexToBytes('ffffffffffffffffff')).readVarInt()).toThrow(ParseError);
  });

  it('readBytes returns a view without copying', () => {
    const bytes = hexToBytes('0a0b0c0d');
    const view = new ByteReader(bytes, 1).readBytes(2);
    expect(view.buffer).toBe(bytes.buffer);
    expect(view).toEqual(hexToBytes('0b0c'));
  });

  it('throws ParseError naming the field and the offset when truncated', () => {
    const reader = new ByteReader(hexToBytes('010203'));
    reader.readU8();
    expect(() => reader.readU32LE('tx locktime')).toThrow(ParseError);
    expect(() => reader.readU32LE('tx locktime')).toThrow(/tx locktime at offset 1/);
    expect(reader.offset).toBe(1);
  });

  it('rejects a var-bytes length longer than what remains', () => {
    expect(() => new ByteReader(hexToBytes('0501020304')).readVarBytes('script')).toThrow(
      /script at offset 0 claims 5 bytes, 4 left/
    );
    expect(() => new ByteReader(hexToBytes('feffffffff00')).readVarBytes()).toThrow(ParseError);
  });

  it('refuses an out-of-range start offset', () => {
    expect(() => new ByteReader(new Uint8Array(2), 3)).toThrow(RangeError);
  });
});

describe('readCount', () => {
  it('accepts a count that fits and rejects one that cannot', () => {
    expect(readCount(new ByteReader(hexToBytes('02aabb')), 1, 'item')).toBe(2);
    expect(() => readCount(new ByteReader(hexToBytes('03aabb')), 1, 'item')).toThrow(ParseError);
  });

  it('rejects a 2^32-1 count in a tiny buffer at once', () => {
    const bytes = new Uint8Array(100);
    bytes.set(hexToBytes('feffffffff'));
    const startMs = performance.now();
    expect(() => readCount(new ByteReader(bytes), 41, 'tx input')).toThrow(
      /tx input count 4294967295/
    );
    // Work sized by the forged count would take seconds; the slack is for a loaded machine.
    expect(performance.now() - startMs).toBeLessThan(500);
  });
});
