// Unit tests of Hrana value decoding and encoding (HRANA_3_SPEC "Values"; RFC 4648 §10 vectors).
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from './values.ts';

describe('decodeValue', () => {
  it('decodes each type', () => {
    expect(decodeValue({ type: 'null' }, 'v')).toBeNull();
    expect(decodeValue({ type: 'integer', value: '-9223372036854775808' }, 'v')).toBe(-(2n ** 63n));
    expect(decodeValue({ type: 'float', value: 0.5 }, 'v')).toBe(0.5);
    expect(decodeValue({ type: 'text', value: 'a' }, 'v')).toBe('a');
    expect(decodeValue({ type: 'blob', base64: 'Zm9vYmE=' }, 'v')).toEqual(Buffer.from('fooba'));
    expect(decodeValue({ type: 'blob', base64: 'Zm9vYmE' }, 'v')).toEqual(Buffer.from('fooba'));
  });

  it('refuses values outside the spec, naming where they were', () => {
    const bad = [
      { type: 'integer', value: 1 },
      { type: 'integer', value: '9223372036854775808' },
      { type: 'integer', value: '1.5' },
      { type: 'float', value: '1' },
      { type: 'blob', base64: 'Zm9v!' },
      { type: 'blob', base64: 'Z' },
      { type: 'date', value: 1 },
      null,
    ];
    for (const raw of bad) {
      const where = JSON.stringify(raw);
      expect(() => decodeValue(raw, 'stmt.args[3]'), where).toThrow(/^stmt\.args\[3\]/);
    }
  });
});

describe('encodeValue', () => {
  it('writes each SQLite value as its Hrana JSON', () => {
    const max = { type: 'integer', value: '9223372036854775807' };
    expect(JSON.parse(encodeValue(2n ** 63n - 1n))).toEqual(max);
    expect(JSON.parse(encodeValue(0.1))).toEqual({ type: 'float', value: 0.1 });
    expect(JSON.parse(encodeValue('q"\n'))).toEqual({ type: 'text', value: 'q"\n' });
    expect(JSON.parse(encodeValue(null))).toEqual({ type: 'null' });
    const foobar = { type: 'blob', base64: 'Zm9vYmFy' };
    expect(JSON.parse(encodeValue(Buffer.from('foobar')))).toEqual(foobar);
  });

  it('keeps infinities as 1e999, which JSON.parse reads back as Infinity', () => {
    expect(JSON.parse(encodeValue(Infinity))).toEqual({ type: 'float', value: Infinity });
    expect(JSON.parse(encodeValue(-Infinity))).toEqual({ type: 'float', value: -Infinity });
  });

  it('encodes only the bytes a Uint8Array view covers', () => {
    const view = new Uint8Array(Buffer.from('xxfoobarxx')).subarray(2, 8);
    expect(JSON.parse(encodeValue(view))).toEqual({ type: 'blob', base64: 'Zm9vYmFy' });
  });
});
