// Indexer settings from the environment (ElectrumX-style names); bad values fail at start.
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getCoin, type Coin } from '../core/coins.ts';

/** Everything the indexer reads from its environment, checked. */
export interface IndexerConfig {
  /** Node RPC endpoint without credentials, e.g. http://127.0.0.1:7332; safe to log. */
  daemonUrl: string;
  daemonUser: string;
  /** Never logged. */
  daemonPassword: string;
  coin: Coin;
  /** Path of the SQLite index file. */
  dbPath: string;
  reorgLimit: number;
  indexServerHost: string;
  indexServerPort: number;
  /** Bearer token of the index server; never logged. */
  indexServerToken: string;
  pollIntervalMs: number;
  /** Whole blocks per SQLite transaction during initial sync. */
  flushBlocks: number;
  logLevel: string | undefined;
}

/** A setting is missing or malformed; the message names the setting and never a secret. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const MIN_TOKEN_CHARS = 16;

function setting(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function required(env: Env, name: string, hint: string): string {
  const value = setting(env, name);
  if (value === undefined) throw new ConfigError(`${name} is required (${hint})`);
  return value;
}

function integerSetting(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number
): number {
  const raw = setting(env, name);
  if (raw === undefined) return fallback;
  const value = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    const shown = raw.slice(0, 40);
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${shown}"`);
  }
  return value;
}

interface DaemonEndpoint {
  url: string;
  user: string;
  password: string;
}

function parseDaemonUrl(raw: string, coin: Coin): DaemonEndpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value may hold a password: name the setting only.
    throw new ConfigError('DAEMON_URL is not a URL; expected http://user:password@host:port');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`DAEMON_URL must start with http:// or https://, got ${url.protocol}//`);
  }
  if (url.username === '' || url.password === '') {
    throw new ConfigError('DAEMON_URL needs credentials: http://user:password@host:port');
  }
  const port = url.port === '' ? String(coin.defaultRpcPort) : url.port;
  return {
    url: `${url.protocol}//${url.hostname}:${port}`,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

function parseDbPath(env: Env): string {
  const directory = setting(env, 'DB_DIRECTORY');
  const dbUrl = setting(env, 'DB_URL');
  if (directory !== undefined && dbUrl !== undefined) {
    throw new ConfigError('set DB_DIRECTORY or DB_URL, not both');
  }
  if (directory !== undefined) return join(resolve(directory), 'index.db');
  if (dbUrl === undefined) throw new ConfigError('DB_DIRECTORY or DB_URL is required');
  if (!dbUrl.startsWith('file:')) {
    const scheme = dbUrl.split(':')[0]?.slice(0, 20) ?? '';
    // TODO(soon): remote libSQL (sqld, Turso) as the index store; refused until it exists.
    throw new ConfigError(
      `DB_URL scheme "${scheme}:" is not supported yet; use a file: URL or DB_DIRECTORY`
    );
  }
  const path = dbUrl.startsWith('file://') ? fileURLToPath(dbUrl) : dbUrl.slice('file:'.length);
  if (path === '' || path.includes('?')) {
    throw new ConfigError(`DB_URL must name a file, e.g. file:/var/lib/electrum-edge/index.db`);
  }
  return isAbsolute(path) ? path : resolve(path);
}

function parseCoin(env: Env): Coin {
  try {
    return getCoin(setting(env, 'COIN') ?? 'Radiant', setting(env, 'NET') ?? 'mainnet');
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`COIN/NET: ${detail}`);
  }
}

function parseToken(env: Env): string {
  const token = required(env, 'INDEX_SERVER_TOKEN', 'the bearer token the Worker sends');
  if (token.length < MIN_TOKEN_CHARS || /\s/.test(token)) {
    throw new ConfigError(
      `INDEX_SERVER_TOKEN must be at least ${MIN_TOKEN_CHARS} characters without spaces`
    );
  }
  return token;
}

/**
 * Reads and checks the indexer's settings.
 * @throws ConfigError naming the first bad or missing setting.
 */
export function loadConfig(env: Env = process.env): IndexerConfig {
  const coin = parseCoin(env);
  const daemonUrl = required(env, 'DAEMON_URL', 'http://user:password@host:port');
  const daemon = parseDaemonUrl(daemonUrl, coin);
  return {
    daemonUrl: daemon.url,
    daemonUser: daemon.user,
    daemonPassword: daemon.password,
    coin,
    dbPath: parseDbPath(env),
    reorgLimit: integerSetting(env, 'REORG_LIMIT', 200, 1, 100_000),
    indexServerHost: setting(env, 'INDEX_SERVER_HOST') ?? '127.0.0.1',
    indexServerPort: integerSetting(env, 'INDEX_SERVER_PORT', 8081, 0, 65_535),
    indexServerToken: parseToken(env),
    pollIntervalMs: integerSetting(env, 'POLL_INTERVAL_MS', 1_000, 10, 3_600_000),
    flushBlocks: integerSetting(env, 'FLUSH_BLOCKS', 100, 1, 100_000),
    logLevel: setting(env, 'LOG_LEVEL'),
  };
}
