// Tests of the error helpers: codes of DESIGN §5, value display and Python-style digit grouping.
import { describe, expect, it } from 'vitest';
import {
  BAD_REQUEST,
  DAEMON_ERROR,
  describeValue,
  EXCESSIVE_RESOURCE_USAGE,
  HISTORY_TOO_LARGE,
  INTERNAL_ERROR,
  internalError,
  INVALID_PARAMS,
  INVALID_REQUEST,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  RpcError,
  SERVER_BUSY,
  withThousands,
} from './errors.ts';

describe('error codes', () => {
  it('match the table of DESIGN §5', () => {
    expect([PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND]).toEqual([-32700, -32600, -32601]);
    expect([INVALID_PARAMS, INTERNAL_ERROR]).toEqual([-32602, -32603]);
    expect([BAD_REQUEST, DAEMON_ERROR, HISTORY_TOO_LARGE]).toEqual([1, 2, 10001]);
    expect([EXCESSIVE_RESOURCE_USAGE, SERVER_BUSY]).toEqual([-101, -102]);
  });

  it('hide the cause of an internal error from the message', () => {
    const error = internalError(new Error('SELECT secret FROM keys'));
    expect([error.code, error.message]).toEqual([-32603, 'internal server error']);
    expect(error).toBeInstanceOf(RpcError);
    expect(new RpcError(1, 'x', { disconnect: true }).disconnect).toBe(true);
    expect(new RpcError(1, 'x').disconnect).toBe(false);
  });
});

describe('withThousands', () => {
  it('groups digits as Python {:,d} and Intl en-US do', () => {
    const format = new Intl.NumberFormat('en-US');
    for (const value of [0, 7, 999, 1000, 123456, 1000000, 8100000, -4567, 2 ** 53 - 1]) {
      expect(withThousands(value)).toBe(format.format(value));
    }
    expect(withThousands(1000000)).toBe('1,000,000');
  });
});

describe('describeValue', () => {
  it('shows strings raw, other values as JSON, and truncates long ones', () => {
    expect(describeValue('abc')).toBe('abc');
    expect(describeValue(12)).toBe('12');
    expect(describeValue(null)).toBe('null');
    expect(describeValue([1, 'a'])).toBe('[1,"a"]');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(5n)).toBe('5');
    const shown = describeValue('f'.repeat(500));
    expect(shown.length).toBeLessThan(100);
    expect(shown.startsWith('f'.repeat(80))).toBe(true);
  });

  it('quotes a string whose value would not show: empty, spaces at an end, control chars', () => {
    expect(describeValue('')).toBe('""');
    expect(describeValue(' ab')).toBe('" ab"');
    expect(describeValue('ab\n')).toBe('"ab\\n"');
    expect(describeValue('a\u0000b')).toBe('"a\\u0000b"');
    expect(describeValue('a b')).toBe('a b');
  });
});
