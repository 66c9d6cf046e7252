// Tests of parameter checks: accepted forms and ElectrumX's BAD_REQUEST messages for the rest.
import { describe, expect, it } from 'vitest';
import { RpcError } from './errors.ts';
import {
  parseFlag,
  parseNonNegativeInteger,
  parseOptionalNonNegativeInteger,
  parseScriptHash,
  parseTxHash,
} from './validation.ts';

// DESIGN §3 worked example: the P2PKH script hash of Radiant's genesis coinbase key.
const SCRIPT_HASH = '9932d8a64601168b894a4a2a4fbc72b3e71698a3c09e8010a6f297f7b9bc03fd';

function internalOrder(displayHex: string): Uint8Array {
  return new Uint8Array(Buffer.from(displayHex, 'hex').reverse());
}

function refusal(run: () => unknown): { code: number; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof RpcError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected an RpcError');
}

describe('parseScriptHash and parseTxHash', () => {
  it('return internal byte order for display hex in either case', () => {
    expect(parseScriptHash(SCRIPT_HASH)).toEqual(internalOrder(SCRIPT_HASH));
    expect(parseScriptHash(SCRIPT_HASH.toUpperCase())).toEqual(internalOrder(SCRIPT_HASH));
    expect(parseTxHash(SCRIPT_HASH)).toEqual(internalOrder(SCRIPT_HASH));
  });

  it('refuse anything else with the ElectrumX wording', () => {
    const bads = [SCRIPT_HASH.slice(2), `${SCRIPT_HASH}00`, `${SCRIPT_HASH.slice(1)}g`, 5, null];
    for (const bad of bads) {
      const shown = typeof bad === 'string' ? bad : JSON.stringify(bad);
      expect(refusal(() => parseScriptHash(bad))).toEqual({
        code: 1,
        message: `${shown} is not a valid script hash`,
      });
      expect(refusal(() => parseTxHash(bad))).toEqual({
        code: 1,
        message: `${shown} should be a transaction hash`,
      });
    }
  });

  it('show an empty string visibly', () => {
    expect(refusal(() => parseScriptHash(''))).toEqual({
      code: 1,
      message: '"" is not a valid script hash',
    });
  });

  it('truncate a huge bad value in the message', () => {
    const { message } = refusal(() => parseScriptHash('z'.repeat(10_000)));
    expect(message.length).toBeLessThan(150);
    expect(message.endsWith(' is not a valid script hash')).toBe(true);
  });
});

describe('parseNonNegativeInteger', () => {
  it('accepts integers and decimal strings, as Python int() does', () => {
    expect(parseNonNegativeInteger(0)).toBe(0);
    expect(parseNonNegativeInteger(840000)).toBe(840000);
    expect(parseNonNegativeInteger('26591')).toBe(26591);
    expect(parseOptionalNonNegativeInteger(undefined, 0)).toBe(0);
    expect(parseOptionalNonNegativeInteger(null, 3)).toBe(3);
    expect(parseOptionalNonNegativeInteger(9, 0)).toBe(9);
  });

  it('refuses negatives, fractions, other types and values past 2^53', () => {
    const cases: [unknown, string][] = [
      [-1, '-1'],
      [1.5, '1.5'],
      ['-3', '-3'],
      ['1e3', '1e3'],
      [true, 'true'],
      [null, 'null'],
      [2 ** 53, '9007199254740992'],
    ];
    for (const [value, shown] of cases) {
      expect(refusal(() => parseNonNegativeInteger(value))).toEqual({
        code: 1,
        message: `${shown} should be a non-negative integer`,
      });
    }
  });
});

describe('parseFlag', () => {
  it('accepts booleans and 0/1, and defaults when absent', () => {
    expect(parseFlag(true, 'verbose')).toBe(true);
    expect(parseFlag(1, 'verbose')).toBe(true);
    expect(parseFlag(false, 'verbose')).toBe(false);
    expect(parseFlag(0, 'verbose')).toBe(false);
    expect(parseFlag(undefined, 'merkle')).toBe(false);
  });

  it('refuses other values naming the parameter', () => {
    for (const value of ['true', 2, null, []]) {
      expect(refusal(() => parseFlag(value, 'merkle'))).toEqual({
        code: 1,
        message: '"merkle" must be a boolean',
      });
    }
  });
});
