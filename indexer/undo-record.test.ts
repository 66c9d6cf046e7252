// Undo records: the byte layout of core/schema.ts (undo), round trips and damaged data.
import { describe, expect, it } from 'vitest';
import { decodeUndo, encodeUndo, type IndexedOutput } from './undo-record.ts';

const hashx = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

describe('undo records', () => {
  it('packs tx_num u64 LE | vout u32 LE | hashx | value i64 LE | refs length u16 LE | refs', () => {
    const refs = new Uint8Array(37).fill(9);
    const value = 2n ** 62n + 3n;
    const data = encodeUndo([{ txNum: 0x0102030405, vout: 7, hashx: hashx(0xab), value, refs }]);
    const expected = Buffer.concat([
      Buffer.from('0504030201000000', 'hex'),
      Buffer.from('07000000', 'hex'),
      Buffer.alloc(32, 0xab),
      Buffer.from('0300000000000040', 'hex'),
      Buffer.from('2500', 'hex'),
      Buffer.alloc(37, 9),
    ]);
    expect(Buffer.from(data).toString('hex')).toBe(expected.toString('hex'));
  });

  it('round-trips several records, amounts above 2^53 and NULL refs included', () => {
    const outputs: IndexedOutput[] = [
      { txNum: 0, vout: 0, hashx: hashx(1), value: 0n, refs: null },
      {
        txNum: 2 ** 40,
        vout: 0xffffffff,
        hashx: hashx(2),
        value: 21_000_000_000n * 100_000_000n,
        refs: null,
      },
      { txNum: 5, vout: 1, hashx: hashx(3), value: 1n, refs: new Uint8Array(74).fill(4) },
    ];
    expect(decodeUndo(encodeUndo(outputs))).toEqual(outputs);
    expect(decodeUndo(new Uint8Array(0))).toEqual([]);
  });

  it('throws on truncated data instead of inventing records', () => {
    const refs = new Uint8Array(37);
    const data = encodeUndo([{ txNum: 1, vout: 1, hashx: hashx(1), value: 1n, refs }]);
    expect(() => decodeUndo(data.subarray(0, 20))).toThrow(/truncated at byte 0/);
    expect(() => decodeUndo(data.subarray(0, data.length - 1))).toThrow(/truncated in the refs/);
  });
});
