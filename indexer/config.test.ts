// Settings: defaults, every documented variable, and one clear error per bad value (no secrets).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, INDEXER_SETTINGS, loadConfig, misspelledSettings } from './config.ts';

const TOKEN = 'k'.repeat(32);
const BASE = {
  DAEMON_URL: 'http://rpcuser:s3cret-pass@127.0.0.1:7332',
  DB_DIRECTORY: '/tmp/edge-index',
  INDEX_SERVER_TOKEN: TOKEN,
};

function failure(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig accepted a bad environment');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(BASE);
    expect(config).toMatchObject({
      daemonUrl: 'http://127.0.0.1:7332',
      daemonUser: 'rpcuser',
      daemonPassword: 's3cret-pass',
      dbPath: join('/tmp/edge-index', 'index.db'),
      reorgLimit: 200,
      indexServerHost: '127.0.0.1',
      indexServerPort: 8081,
      indexServerToken: TOKEN,
      pollIntervalMs: 1000,
      flushBlocks: 1000,
      flushTxs: 50_000,
      utxoCacheBytes: 48 * 1_048_576,
      deferIndexBlocks: 1000,
      logLevel: undefined,
    });
    expect(config.coin.name).toBe('Radiant');
    expect(config.coin.net).toBe('mainnet');
  });

  it('reads every setting', () => {
    const config = loadConfig({
      ...BASE,
      COIN: 'BitcoinCash',
      NET: 'regtest',
      DB_DIRECTORY: undefined,
      DB_URL: 'file:/var/tmp/x/index.db',
      REORG_LIMIT: '70',
      INDEX_SERVER_HOST: '::1',
      INDEX_SERVER_PORT: '0',
      POLL_INTERVAL_MS: '250',
      FLUSH_BLOCKS: '5',
      FLUSH_TXS: '7000',
      UTXO_CACHE_MB: '0',
      DEFER_INDEX_BLOCKS: '250',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      dbPath: '/var/tmp/x/index.db',
      reorgLimit: 70,
      indexServerHost: '::1',
      indexServerPort: 0,
      pollIntervalMs: 250,
      flushBlocks: 5,
      flushTxs: 7000,
      utxoCacheBytes: 0,
      deferIndexBlocks: 250,
      logLevel: 'debug',
    });
    expect(`${config.coin.name} ${config.coin.net}`).toBe('BitcoinCash regtest');
  });

  it('takes the coin default RPC port and decodes escaped credentials', () => {
    const daemonUrl = 'http://u%40x:p%3Aw@localhost';
    const config = loadConfig({ ...BASE, COIN: 'Bitcoin', DAEMON_URL: daemonUrl });
    expect(config.daemonUrl).toBe('http://localhost:8332');
    expect([config.daemonUser, config.daemonPassword]).toEqual(['u@x', 'p:w']);
  });

  it('resolves file: URLs and relative paths', () => {
    const withUrl = (url: string): string =>
      loadConfig({ ...BASE, DB_DIRECTORY: undefined, DB_URL: url }).dbPath;
    expect(withUrl('file:///srv/i.db')).toBe('/srv/i.db');
    expect(withUrl('file:rel/i.db')).toBe(resolve('rel/i.db'));
  });

  it('mirrors to a remote libSQL server from the working copy in DB_DIRECTORY', () => {
    const remote = (url: string) =>
      loadConfig({ ...BASE, DB_URL: url, DB_AUTH_TOKEN: 'db-token-0123456789' });
    expect(remote('libsql://my-db.turso.io')).toMatchObject({
      dbPath: join('/tmp/edge-index', 'index.db'),
      remoteDb: { url: 'https://my-db.turso.io', authToken: 'db-token-0123456789' },
    });
    expect(remote('http://127.0.0.1:9000/').remoteDb?.url).toBe('http://127.0.0.1:9000');
    expect(loadConfig(BASE).remoteDb).toBeUndefined();
  });

  it('reads the admin RPC, metrics, Worker admin API and notify settings', () => {
    const config = loadConfig({
      ...BASE,
      RPC_HOST: '::1',
      RPC_PORT: '0',
      RPC_USER: 'ops-7f3a',
      RPC_PASSWORD: 'admin-pass-0123456789',
      PROMETHEUS_PORT: '9464',
      WORKER_ADMIN_URL: 'https://edge.example/',
      WORKER_ADMIN_TOKEN: 'w'.repeat(30),
      NOTIFY_URL: 'http://127.0.0.1:8787',
      NOTIFY_SECRET: 'n'.repeat(20),
    });
    expect(config).toMatchObject({
      adminRpc: { host: '::1', port: 0, user: 'ops-7f3a', password: 'admin-pass-0123456789' },
      metrics: { host: '127.0.0.1', port: 9464 },
      workerAdmin: { url: 'https://edge.example', secret: 'w'.repeat(30) },
      notify: { url: 'http://127.0.0.1:8787', secret: 'n'.repeat(20) },
    });
    const defaults = loadConfig(BASE);
    expect(defaults.adminRpc).toMatchObject({ host: '127.0.0.1', port: 8000 });
    expect([defaults.metrics, defaults.workerAdmin, defaults.notify]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it.each([
    [{ DAEMON_URL: undefined }, /^DAEMON_URL is required/],
    [{ DAEMON_URL: 'not a url s3cret-pass' }, /^DAEMON_URL is not a URL/],
    [{ DAEMON_URL: 'ftp://u:s3cret-pass@h:1' }, /^DAEMON_URL must start with http/],
    [{ DAEMON_URL: 'http://127.0.0.1:7332' }, /^DAEMON_URL needs credentials/],
    [{ COIN: 'Dogecoin' }, /^COIN\/NET: unknown coin "Dogecoin"; valid: Radiant, BitcoinCash/],
    [{ NET: 'signet' }, /^COIN\/NET: unknown network "signet"/],
    [{ DB_DIRECTORY: undefined }, /^DB_DIRECTORY or DB_URL is required/],
    [{ DB_URL: 'file:/x.db' }, /^set DB_DIRECTORY or DB_URL, not both/],
    [{ DB_URL: 'libsql://db.example?authToken=s3cret-pass' }, /^DB_URL must not carry credentials/],
    [{ DB_URL: 'https://u:s3cret-pass@db.example' }, /^DB_URL must not carry credentials/],
    [{ DB_URL: 'http://db.example:8080' }, /^DB_URL may use http:\/\/ on loopback only/],
    [{ DB_URL: 'ws://db.example' }, /^DB_URL scheme "ws:" is not supported/],
    [
      { DB_DIRECTORY: undefined, DB_URL: 'https://db.example' },
      /^DB_URL of a libSQL server needs DB_DIRECTORY too/,
    ],
    [{ RPC_PORT: 'eighty' }, /^RPC_PORT must be a port from 0 to 65535/],
    [{ PROMETHEUS_PORT: '99999' }, /^PROMETHEUS_PORT must be a port/],
    [
      { WORKER_ADMIN_URL: 'https://edge.example' },
      /^set both WORKER_ADMIN_URL and WORKER_ADMIN_TOKEN/,
    ],
    [
      { WORKER_ADMIN_URL: 'https://a:s3cret-pass@edge', WORKER_ADMIN_TOKEN: 'x'.repeat(30) },
      /^WORKER_ADMIN_URL must be an http\(s\) URL without credentials/,
    ],
    [
      { NOTIFY_URL: 'https://edge.example', NOTIFY_SECRET: 's3cret-pass' },
      /^NOTIFY_SECRET must be at least 16 characters/,
    ],
    [{ REORG_LIMIT: '0' }, /^REORG_LIMIT must be an integer from 1 to 100000, got "0"/],
    [{ REORG_LIMIT: '12abc' }, /^REORG_LIMIT must be an integer/],
    [{ INDEX_SERVER_PORT: '70000' }, /^INDEX_SERVER_PORT must be an integer from 0 to 65535/],
    [{ POLL_INTERVAL_MS: '-5' }, /^POLL_INTERVAL_MS must be an integer/],
    [{ FLUSH_BLOCKS: '1.5' }, /^FLUSH_BLOCKS must be an integer/],
    [{ UTXO_CACHE_MB: '-1' }, /^UTXO_CACHE_MB must be an integer from 0 to 65536/],
    [{ DEFER_INDEX_BLOCKS: 'soon' }, /^DEFER_INDEX_BLOCKS must be an integer/],
    [{ INDEX_SERVER_TOKEN: undefined }, /^INDEX_SERVER_TOKEN is required/],
    [{ INDEX_SERVER_TOKEN: 'short' }, /^INDEX_SERVER_TOKEN must be at least 16 characters/],
  ])('refuses %o naming the setting', (change, message) => {
    const error = failure({ ...BASE, ...change });
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('s3cret-pass');
  });
});

describe('misspelledSettings', () => {
  it('names a variable one typo away from a setting, with the setting', () => {
    const env = { ...BASE, FLUSH_BLOCK: '5', UTXO_CACHE_MG: '64', NETT: 'regtest' };
    expect(misspelledSettings(env)).toEqual([
      { name: 'FLUSH_BLOCK', suggestion: 'FLUSH_BLOCKS' },
      { name: 'UTXO_CACHE_MG', suggestion: 'UTXO_CACHE_MB' },
      { name: 'NETT', suggestion: 'NET' },
    ]);
  });

  it('leaves the settings it reads and an ordinary environment alone', () => {
    const ordinary = {
      PATH: '/usr/bin:/bin',
      HOME: '/home/indexer',
      USER: 'indexer',
      LANG: 'C.UTF-8',
      NODE_ENV: 'production',
      HOSTNAME: 'edge-1',
      TERM: 'xterm',
      SHELL: '/bin/sh',
      PWD: '/srv',
    };
    const env = { ...ordinary, ...BASE, FLUSH_BLOCKS: '5', NET: 'regtest', COIN: 'Radiant' };
    expect(misspelledSettings(env)).toEqual([]);
  });

  it('leaves the settings of other features and systemd NOTIFY_SOCKET alone', () => {
    // Read only when the relay, metrics or a remote DB_URL are on; still settings.
    const env = { ...BASE, RELAY_HOST: '::1', PROMETHEUS_HOST: '::1', DB_AUTH_TOKEN: 'x' };
    expect(misspelledSettings({ ...env, NOTIFY_SOCKET: '/run/systemd/notify' })).toEqual([]);
  });

  it('knows exactly the settings of the README table and every one loadConfig reads', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const start = readme.indexOf('Indexer (environment variables');
    const table = readme.slice(start, readme.indexOf('\n\n', readme.indexOf('| name', start)));
    const documented = table
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z_]+)`/g)])
      .map((match) => match[1]);
    expect(new Set(documented)).toEqual(new Set(INDEXER_SETTINGS));
    // Every feature on, so loadConfig reads every setting it has.
    const read = new Set<string>();
    const full = {
      ...BASE,
      DB_URL: 'https://index.example',
      DB_DIRECTORY: '/tmp/edge-index',
      DB_AUTH_TOKEN: 'token',
      RPC_PORT: '8000',
      RPC_USER: 'admin',
      RPC_PASSWORD: 'admin-password-0123',
      PROMETHEUS_PORT: '9100',
      WORKER_ADMIN_URL: 'http://127.0.0.1:8787/admin',
      WORKER_ADMIN_TOKEN: 'worker-admin-token-0123',
      NOTIFY_URL: 'http://127.0.0.1:8787/internal/notify',
      NOTIFY_SECRET: 'notify-secret-0123456',
      RELAY_PORT: '8082',
      RELAY_SECRET: 'relay-secret-01234567',
    };
    const watched = new Proxy(full as Record<string, string | undefined>, {
      get(target, name) {
        if (typeof name === 'string') read.add(name);
        return Reflect.get(target, name) as string | undefined;
      },
    });
    loadConfig(watched);
    const settings: readonly string[] = INDEXER_SETTINGS;
    const unknown = [...read].filter((name) => !settings.includes(name));
    expect(unknown).toEqual([]);
    expect(read.size).toBeGreaterThan(20);
  });
});
