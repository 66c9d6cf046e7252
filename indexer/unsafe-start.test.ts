// Tests of the unsafe-start refusals: one per bad setting, each naming it; a safe env passes.
import { describe, expect, it } from 'vitest';
import { checkUnsafeStart, formatRefusals, isLoopbackHost } from './unsafe-start.ts';

const SAFE_ENV: Record<string, string> = {
  RPC_USER: 'ops-7f3a',
  RPC_PASSWORD: '3f9c1e7a2b8d4c60a1e5f7b9',
  INDEX_SERVER_TOKEN: 'c0ffee12d00d4b1ea7e5aa90',
  DAEMON_URL: 'http://radiant:9e8d7c6b5a4f3e2d1c0b@127.0.0.1:7332',
  RPC_HOST: '127.0.0.1',
  PROMETHEUS_HOST: '::1',
  INDEX_SERVER_HOST: 'localhost',
};

function refusedSettings(overrides: Record<string, string | undefined>, uid = 1000): string[] {
  return checkUnsafeStart({ ...SAFE_ENV, ...overrides }, { uid }).map((r) => r.setting);
}

describe('checkUnsafeStart', () => {
  it('accepts a safe setup', () => {
    expect(checkUnsafeStart(SAFE_ENV, { uid: 1000 })).toEqual([]);
  });

  it.each([
    ['empty', ''],
    ['unset', undefined],
    ['an ElectrumX sample value', 'your_secure_password'],
    ['a list entry with digits appended', 'Password1234567890!'],
    ['shorter than 16 characters', 'Xk3!pQ9z'],
    ['16 characters of 2 symbols', 'abababababababab'],
    ['the user name', 'ops-7f3a'],
  ])('refuses RPC_PASSWORD when %s, naming it and not echoing it', (_case, value) => {
    const refusals = checkUnsafeStart({ ...SAFE_ENV, RPC_PASSWORD: value }, { uid: 1000 });
    expect(refusals.map((r) => r.setting)).toEqual(['RPC_PASSWORD']);
    expect(refusals[0]?.message).toMatch(/^RPC_PASSWORD /);
    if (value !== undefined && value !== '') expect(refusals[0]?.message).not.toContain(value);
  });

  it.each(['', 'electrumx_admin', 'your_secure_username', 'user', 'admin', 'rpc', 'RPCUSER'])(
    'refuses RPC_USER %j',
    (value) => {
      expect(refusedSettings({ RPC_USER: value })).toEqual(['RPC_USER']);
    }
  );

  it.each(['', 'changeme', 'short-token', 'token00000000000000'])(
    'refuses INDEX_SERVER_TOKEN %j',
    (value) => {
      expect(refusedSettings({ INDEX_SERVER_TOKEN: value })).toEqual(['INDEX_SERVER_TOKEN']);
    }
  );

  it.each([
    ['without credentials', 'http://127.0.0.1:7332'],
    ['with a user but no password', 'http://rpc@127.0.0.1:7332'],
    ['with a well-known password', 'http://rpcuser:rpcpassword@127.0.0.1:7332'],
    ['with a short password', 'http://radiant:x7Kp2@127.0.0.1:7332'],
    ['that is not a URL', 'not a url'],
    ['unset', undefined],
  ])('refuses a DAEMON_URL %s', (_case, value) => {
    const refusals = checkUnsafeStart({ ...SAFE_ENV, DAEMON_URL: value }, { uid: 1000 });
    expect(refusals.map((r) => r.setting)).toEqual(['DAEMON_URL']);
    expect(refusals[0]?.message).toContain('DAEMON_URL');
    expect(refusals[0]?.message).not.toContain('x7Kp2');
  });

  it('says a DAEMON_URL without http:// needs it, not that it has no credentials', () => {
    const env = { ...SAFE_ENV, DAEMON_URL: 'radiant:9e8d7c6b5a4f3e2d1c0b@127.0.0.1:7332' };
    const refusals = checkUnsafeStart(env, { uid: 1000 });
    expect(refusals).toHaveLength(1);
    expect(refusals[0]?.message).toMatch(/^DAEMON_URL must start with http:\/\/ or https:\/\/;/);
    expect(refusals[0]?.message).not.toContain('9e8d7c6b5a4f3e2d1c0b');
  });

  it.each(['RPC_HOST', 'PROMETHEUS_HOST', 'INDEX_SERVER_HOST'])(
    'refuses %s on a public address unless ALLOW_PUBLIC_RPC=1',
    (name) => {
      for (const host of ['0.0.0.0', '::', '192.0.2.10', 'indexer.example.com']) {
        const refusals = checkUnsafeStart({ ...SAFE_ENV, [name]: host }, { uid: 1000 });
        expect(refusals.map((r) => r.setting)).toEqual([name]);
        expect(refusals[0]?.message).toContain('ALLOW_PUBLIC_RPC=1');
      }
      expect(refusedSettings({ [name]: '0.0.0.0', ALLOW_PUBLIC_RPC: '1' })).toEqual([]);
    }
  );

  it('refuses root unless ALLOW_ROOT=1', () => {
    expect(refusedSettings({}, 0)).toEqual(['ALLOW_ROOT']);
    expect(refusedSettings({ ALLOW_ROOT: '1' }, 0)).toEqual([]);
    expect(refusedSettings({ ALLOW_ROOT: '0' }, 0)).toEqual(['ALLOW_ROOT']);
  });

  it('lists every problem at once', () => {
    const refusals = checkUnsafeStart(
      { RPC_HOST: '0.0.0.0', DAEMON_URL: 'http://127.0.0.1:7332' },
      { uid: 0 }
    );
    const expected = ['ALLOW_ROOT', 'DAEMON_URL', 'INDEX_SERVER_TOKEN', 'RPC_HOST', 'RPC_PASSWORD'];
    expect(refusals.map((r) => r.setting).sort()).toEqual([...expected, 'RPC_USER'].sort());
    const text = formatRefusals(refusals);
    expect(text.split('\n')).toHaveLength(7);
    expect(text).toContain('refusing to start');
  });
});

describe('isLoopbackHost', () => {
  it('knows loopback from public addresses', () => {
    const loopback = ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'];
    for (const host of loopback) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '::2', '']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});
