// Client addresses, CIDR lists and the access decision of worker/limits (pure code, in Node).
// Expected texts follow RFC 5952 (IPv6 canonical form), RFC 4291 §2.5.5.2 (IPv4-mapped) and the
// ranges of RFC 1918 / RFC 4193; groups are the /24 and /48 of issue 5.
import { describe, expect, it } from 'vitest';
import { decideAccess, UNKNOWN_GROUP } from '../worker/limits/access-rules.ts';
import { readLimitSettings } from '../worker/limits/budget.ts';
import {
  cidrContains,
  isPrivateOrLoopback,
  parseCidr,
  parseCidrList,
} from '../worker/limits/cidr.ts';
import { formatIp, groupName, parseIp, type IpAddress } from '../worker/limits/ip-address.ts';

function ip(text: string): IpAddress {
  const address = parseIp(text);
  if (address === null) throw new Error(`test address ${text} did not parse`);
  return address;
}

describe('parseIp and formatIp', () => {
  it('reads IPv4 and refuses malformed dotted quads', () => {
    expect(Array.from(ip('203.0.113.7').bytes)).toEqual([203, 0, 113, 7]);
    for (const bad of ['256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.-4', '', 'a.b.c.d']) {
      expect(parseIp(bad), bad).toBeNull();
    }
  });

  it('writes IPv6 in the RFC 5952 form', () => {
    // RFC 5952 §4: lower case, no leading zeros, longest zero run compressed, first on ties.
    expect(formatIp(ip('2001:0DB8:0000:0000:0000:0000:0002:0001'))).toBe('2001:db8::2:1');
    expect(formatIp(ip('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(formatIp(ip('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIp(ip('::1'))).toBe('::1');
    expect(formatIp(ip('::'))).toBe('::');
    expect(formatIp(ip('fe80::'))).toBe('fe80::');
  });

  it('refuses malformed IPv6 and zone ids', () => {
    const malformed = ['1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', ':1'];
    for (const bad of [...malformed, '12345::']) {
      expect(parseIp(bad), bad).toBeNull();
    }
  });

  it('folds IPv4-mapped IPv6 to IPv4', () => {
    const mapped = ip('::ffff:198.51.100.9');
    expect(mapped.family).toBe(4);
    expect(formatIp(mapped)).toBe('198.51.100.9');
    expect(formatIp(ip('::ffff:c633:6409'))).toBe('198.51.100.9');
  });
});

describe('groupName', () => {
  it('groups IPv4 by /24 and IPv6 by /48 by default', () => {
    expect(groupName(ip('203.0.113.77'), 24, 48)).toBe('203.0.113.0/24');
    expect(groupName(ip('2001:db8:abcd:12:1::5'), 24, 48)).toBe('2001:db8:abcd::/48');
  });

  it('follows other prefix lengths, including ones that split a byte', () => {
    expect(groupName(ip('203.0.113.77'), 20, 48)).toBe('203.0.112.0/20');
    expect(groupName(ip('203.0.113.77'), 32, 48)).toBe('203.0.113.77/32');
    expect(groupName(ip('2001:db8:abcd:12ff::1'), 24, 60)).toBe('2001:db8:abcd:12f0::/60');
  });
});

describe('CIDR blocks', () => {
  it('clears host bits and matches members only', () => {
    const block = parseCidr('198.51.100.200/25');
    expect(block.text).toBe('198.51.100.128/25');
    expect(cidrContains(block, ip('198.51.100.129'))).toBe(true);
    expect(cidrContains(block, ip('198.51.100.127'))).toBe(false);
    expect(cidrContains(block, ip('2001:db8::1'))).toBe(false);
    expect(parseCidr('2001:db8::1').text).toBe('2001:db8::1/128');
  });

  it('names the bad entry and the variable', () => {
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/10\.0\.0\.0\/33/);
    const list = () => parseCidrList('10.0.0.0/8, nonsense', 'DENY_CIDRS');
    expect(list).toThrow(/DENY_CIDRS.*nonsense/);
    expect(parseCidrList(' 10.0.0.0/8,192.0.2.1  2001:db8::/32 ', 'X').map((b) => b.text)).toEqual([
      '10.0.0.0/8',
      '192.0.2.1/32',
      '2001:db8::/32',
    ]);
    expect(parseCidrList(undefined, 'X')).toEqual([]);
  });

  it('knows loopback and private ranges, not public or carrier-NAT ones', () => {
    const inside = ['127.0.0.1', '10.1.2.3', '172.31.255.255', '192.168.0.1', '::1', 'fd00::5'];
    for (const text of inside) {
      expect(isPrivateOrLoopback(ip(text)), text).toBe(true);
    }
    for (const text of ['172.32.0.1', '100.64.0.1', '8.8.8.8', '2001:db8::1', '203.0.113.1']) {
      expect(isPrivateOrLoopback(ip(text)), text).toBe(false);
    }
  });
});

describe('decideAccess', () => {
  const lists = {
    deny: [parseCidr('198.51.100.0/24')],
    allow: [parseCidr('192.0.2.0/24')],
    sessionsOpen: 0,
  };

  it('exempts loopback unless EXEMPT_PRIVATE is off', () => {
    const on = readLimitSettings({});
    const off = readLimitSettings({ EXEMPT_PRIVATE: 'false' });
    expect(decideAccess(ip('127.0.0.1'), on, lists)).toEqual({ kind: 'exempt', reason: 'private' });
    const limited = { kind: 'limited', group: '127.0.0.0/24' };
    expect(decideAccess(ip('127.0.0.1'), off, lists)).toEqual(limited);
  });

  it('denies the deny lists (vars and runtime) even for exempt networks', () => {
    const vars = { DENY_CIDRS: '10.9.0.0/16', RATE_LIMIT_EXEMPT: '198.51.100.0/24' };
    const settings = readLimitSettings(vars);
    const denied = { kind: 'denied', entry: '10.9.0.0/16' };
    expect(decideAccess(ip('10.9.1.1'), settings, lists)).toEqual(denied);
    expect(decideAccess(ip('198.51.100.4'), settings, lists).kind).toBe('denied');
  });

  it('exempts the allow lists (vars and runtime) and groups everyone else', () => {
    const settings = readLimitSettings({ RATE_LIMIT_EXEMPT: '2001:db8::/32' });
    const allowlisted = { kind: 'exempt', reason: 'allowlist' };
    expect(decideAccess(ip('2001:db8::9'), settings, lists)).toEqual(allowlisted);
    expect(decideAccess(ip('192.0.2.44'), settings, lists).kind).toBe('exempt');
    const limited = { kind: 'limited', group: '203.0.113.0/24' };
    expect(decideAccess(ip('203.0.113.44'), settings, lists)).toEqual(limited);
    expect(decideAccess(null, settings, lists)).toEqual({ kind: 'limited', group: UNKNOWN_GROUP });
  });
});
