// Tests for core/bytes.ts: hex, display order, comparisons and little-endian helpers.
import { describe, expect, it } from 'vitest';
import {
  bytesToHex,
  compareBytes,
  concatBytes,
  encodeVarInt,
  equalBytes,
  hashToHex,
  hexToBytes,
  hexToHash,
  readU32LE,
  reverseBytes,
  u64LE,
  writeU32LE,
} from './bytes.ts';

describe('hex', () => {
  it('round-trips every byte value and matches Buffer', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const hex = bytesToHex(all);
    expect(hex).toBe(Buffer.from(all).toString('hex'));
    expect(hexToBytes(hex)).toEqual(all);
    expect(hexToBytes(hex.toUpperCase())).toEqual(all);
  });

  it('rejects odd length and non-hex characters with TypeError', () => {
    expect(() => hexToBytes('abc')).toThrow(TypeError);
    expect(() => hexToBytes('zz')).toThrow(TypeError);
    expect(() => hexToBytes('0g')).toThrow(/offset 0/);
    expect(() => hexToBytes(' 0')).toThrow(TypeError);
  });

  it('truncates a huge bad input in the message', () => {
    const huge = 'x'.repeat(10_000);
    let message = '';
    try {
      hexToBytes(huge);
    } catch (error) {
      message = String(error);
    }
    expect(message.length).toBeLessThan(300);
  });
});

describe('display hashes', () => {
  // Bitcoin genesis: its merkle root in display hex and in header (internal) order.
  const displayHex = '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b';
  const internalHex = '3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a';

  it('converts between display hex and internal order', () => {
    expect(bytesToHex(hexToHash(displayHex))).toBe(internalHex);
    expect(hashToHex(hexToBytes(internalHex))).toBe(displayHex);
  });

  it('requires exactly 64 hex characters', () => {
    expect(() => hexToHash(displayHex.slice(2))).toThrow(TypeError);
    expect(() => hexToHash(`${displayHex}00`)).toThrow(TypeError);
    expect(() => hexToHash(`${displayHex.slice(2)}zz`)).toThrow(TypeError);
  });

  it('reverseBytes returns a new array', () => {
    const input = Uint8Array.of(1, 2, 3);
    const out = reverseBytes(input);
    expect(out).toEqual(Uint8Array.of(3, 2, 1));
    expect(input).toEqual(Uint8Array.of(1, 2, 3));
  });
});

describe('concat, equal, compare', () => {
  it('concatenates', () => {
    expect(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))).toEqual(
      Uint8Array.of(1, 2, 3)
    );
    expect(concatBytes()).toEqual(new Uint8Array(0));
  });

  it('compares like Buffer.compare', () => {
    const arrays = [[], [0], [0, 0], [1], [0, 255], [255], [1, 2, 3]];
    const samples = arrays.map((a) => Uint8Array.from(a));
    for (const a of samples) {
      for (const b of samples) {
        expect(Math.sign(compareBytes(a, b))).toBe(Buffer.compare(a, b));
        expect(equalBytes(a, b)).toBe(Buffer.compare(a, b) === 0);
      }
    }
  });
});

describe('little-endian integers', () => {
  it('writes and reads u32 like Buffer', () => {
    for (const value of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678]) {
      const out = new Uint8Array(6);
      writeU32LE(out, 1, value);
      const expected = Buffer.alloc(4);
      expected.writeUInt32LE(value);
      expect(out.subarray(1, 5)).toEqual(new Uint8Array(expected));
      expect(readU32LE(out, 1)).toBe(value);
    }
    expect(() => writeU32LE(new Uint8Array(4), 0, 2 ** 32)).toThrow(RangeError);
    expect(() => readU32LE(new Uint8Array(3), 0)).toThrow(RangeError);
  });

  it('writes 64-bit values, negative ones in two\'s complement', () => {
    for (const value of [0n, 1n, 2n ** 63n - 1n, -1n, -(2n ** 63n), 2n ** 64n - 1n]) {
      const expected = Buffer.alloc(8);
      if (value < 0n) expected.writeBigInt64LE(value);
      else expected.writeBigUInt64LE(value);
      expect(u64LE(value)).toEqual(new Uint8Array(expected));
    }
    expect(() => u64LE(2n ** 64n)).toThrow(RangeError);
  });

  it('encodes CompactSize varints at each width boundary', () => {
    expect(bytesToHex(encodeVarInt(0))).toBe('00');
    expect(bytesToHex(encodeVarInt(0xfc))).toBe('fc');
    expect(bytesToHex(encodeVarInt(0xfd))).toBe('fdfd00');
    expect(bytesToHex(encodeVarInt(0xffff))).toBe('fdffff');
    expect(bytesToHex(encodeVarInt(0x10000))).toBe('fe00000100');
    expect(bytesToHex(encodeVarInt(0x100000000))).toBe('ff0000000001000000');
    expect(() => encodeVarInt(-1)).toThrow(RangeError);
  });
});
