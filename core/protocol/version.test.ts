// Tests of protocol version negotiation against the rule of the Electrum protocol docs.
// server.version picks the highest version both sides support, or errs and closes the session.
import { describe, expect, it } from 'vitest';
import { RpcError } from './errors.ts';
import {
  compareVersions,
  formatVersion,
  negotiateVersion,
  parseVersion,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  versionAtLeast,
  versionInRange,
} from './version.ts';

describe('parseVersion and compareVersions', () => {
  it('order versions like tuples, a prefix first', () => {
    expect(parseVersion('1.4.2')).toEqual([1, 4, 2]);
    expect(parseVersion('x')).toEqual([0]);
    expect(parseVersion(1.4)).toEqual([0]);
    expect(parseVersion('1..4')).toEqual([0]);
    expect(compareVersions([1, 4], [1, 4, 0])).toBeLessThan(0);
    expect(compareVersions([1, 10], [1, 9])).toBeGreaterThan(0);
    expect(compareVersions([1, 4, 2], [1, 4, 2])).toBe(0);
    expect(formatVersion([1])).toBe('1.0');
    expect(formatVersion([1, 4, 2])).toBe('1.4.2');
  });
});

describe('negotiateVersion (server 1.4 .. 1.6)', () => {
  it('picks the highest common version: min(client max, server max)', () => {
    expect(PROTOCOL_MIN).toBe('1.4');
    expect(PROTOCOL_MAX).toBe('1.6');
    expect(negotiateVersion('1.4')).toBe('1.4');
    expect(negotiateVersion('1.4.1')).toBe('1.4.1');
    expect(negotiateVersion('1.5')).toBe('1.5');
    expect(negotiateVersion('1.6')).toBe('1.6');
    expect(negotiateVersion(['1.4', '1.4.2'])).toBe('1.4.2');
    expect(negotiateVersion(['1.2', '1.6'])).toBe('1.6');
    expect(negotiateVersion(['1.4', '1.7'])).toBe('1.6');
    expect(negotiateVersion(['1.6', '1.6.0'])).toBe('1.6');
    expect(negotiateVersion(['1.4', '1.4'])).toBe('1.4');
    expect(negotiateVersion(undefined)).toBe('1.4');
    expect(negotiateVersion(null)).toBe('1.4');
    // The old server range still works when passed explicitly.
    expect(negotiateVersion(['1.2', '1.6'], '1.4', '1.4.2')).toBe('1.4.2');
  });

  it('refuses versions outside the range and asks to close the session', () => {
    for (const request of ['1.2', '1.7', ['1.7', '2.0'], ['1.0', '1.3'], 'abc', 14, ['1.4']]) {
      let caught: unknown;
      try {
        negotiateVersion(request);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(RpcError);
      if (!(caught instanceof RpcError)) continue;
      expect(caught.code).toBe(1);
      expect(caught.disconnect).toBe(true);
      expect(caught.message.startsWith('unsupported protocol version: ')).toBe(true);
    }
    expect(() => negotiateVersion('1.3')).toThrow('unsupported protocol version: 1.3');
  });
});

describe('versionInRange', () => {
  it('treats since as inclusive and until as exclusive', () => {
    expect(versionInRange('1.4', undefined, '1.6')).toBe(true);
    expect(versionInRange('1.6', undefined, '1.6')).toBe(false);
    expect(versionInRange('1.4.1', '1.4.2')).toBe(false);
    expect(versionInRange('1.4.2', '1.4.2')).toBe(true);
    expect(versionAtLeast('1.6', '1.6')).toBe(true);
    expect(versionAtLeast('1.5', '1.6')).toBe(false);
    expect(versionAtLeast('1.10', '1.6')).toBe(true);
  });
});
