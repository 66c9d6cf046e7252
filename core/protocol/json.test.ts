// Tests of the reply serializer: same text as JSON.stringify, plus exact bigint amounts.
import { describe, expect, it } from 'vitest';
import { coinAmount, encodeJson, RawJson } from './json.ts';

describe('encodeJson', () => {
  it('writes what JSON.stringify writes for plain JSON values', () => {
    const values: unknown[] = [
      null,
      true,
      0,
      -1.25,
      1e21,
      'quote " backslash \\ newline \n tab \t nul \u0000 emoji 😀',
      [],
      {},
      [1, [2, [3]], { a: null }],
      { z: 1, a: [true, false], 'k"ey': 'v' },
    ];
    for (const value of values) expect(encodeJson(value)).toBe(JSON.stringify(value));
  });

  it('drops undefined members and writes undefined array items as null, as JSON.stringify', () => {
    const value = { a: undefined, b: [undefined, 1] };
    expect(encodeJson(value)).toBe(JSON.stringify(value));
    expect(encodeJson(value)).toBe('{"b":[null,1]}');
  });

  it('writes bigints as exact integers', () => {
    expect(encodeJson(9007199254740993n)).toBe('9007199254740993');
    expect(encodeJson({ unconfirmed: -(2n ** 63n) })).toBe('{"unconfirmed":-9223372036854775808}');
    expect(encodeJson([0n, 21000000n * 100000000n])).toBe('[0,2100000000000000]');
  });

  it('refuses values JSON cannot hold', () => {
    for (const value of [NaN, Infinity, () => 1, Symbol('s'), new Uint8Array(2)]) {
      expect(() => encodeJson(value)).toThrow(TypeError);
    }
    expect(() => encodeJson(undefined)).toThrow(TypeError);
  });

  it('writes raw JSON text and coin amounts with 8 decimals, exactly', () => {
    expect(encodeJson({ cached: new RawJson('{"a":[1,2]}') })).toBe('{"cached":{"a":[1,2]}}');
    // The fixture electrumx-tx-bitcoin_regtest_001_p2wpkh.json prints 30,000,000 sats so.
    expect(encodeJson(coinAmount(30_000_000n))).toBe('0.30000000');
    expect(encodeJson(coinAmount(0n))).toBe('0.00000000');
    expect(encodeJson(coinAmount(1n))).toBe('0.00000001');
    expect(encodeJson(coinAmount(-150_000_000n))).toBe('-1.50000000');
    // Past 2^53 photons a double would round; the text keeps every digit.
    expect(encodeJson(coinAmount(2n ** 63n - 1n))).toBe('92233720368.54775807');
    expect(JSON.parse(encodeJson([coinAmount(79_999_200n)]))).toEqual([0.799992]);
  });
});
