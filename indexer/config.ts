// Indexer settings from the environment (ElectrumX-style names); bad values fail at start.
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getCoin, type Coin } from '../core/coins.ts';
import { likelyTypos, type LikelyTypo } from '../core/typos.ts';
import { adminRpcSettings } from './admin-rpc.ts';
import { metricsSettings } from './metrics.ts';
import { isLoopbackHost } from './unsafe-start.ts';

/** A libSQL server (sqld, Turso) that receives every write of the local index (DB_URL). */
export interface RemoteDbConfig {
  /** The URL @libsql/client is given: https:// (libsql:// rewritten), or http:// on loopback. */
  url: string;
  /** DB_AUTH_TOKEN; never logged. */
  authToken: string | undefined;
}

/** Where the admin RPC listens and the credentials it takes (RPC_*). */
export interface AdminRpcConfig {
  host: string;
  port: number;
  user: string;
  /** Never logged. */
  password: string;
}

/** A base URL and the bearer secret that goes with it. */
export interface AuthorizedUrl {
  url: string;
  /** Never logged. */
  secret: string;
}

/** Everything the indexer reads from its environment, checked. */
export interface IndexerConfig {
  /** Node RPC endpoint without credentials, e.g. http://127.0.0.1:7332; safe to log. */
  daemonUrl: string;
  daemonUser: string;
  /** Never logged. */
  daemonPassword: string;
  coin: Coin;
  /** Path of the SQLite index file (with DB_URL: the local working copy). */
  dbPath: string;
  /** The remote index every write is mirrored to, when DB_URL names one. */
  remoteDb: RemoteDbConfig | undefined;
  reorgLimit: number;
  indexServerHost: string;
  indexServerPort: number;
  /** A read of the index server running longer is abandoned (503 READ_TIMEOUT). */
  indexServerReadTimeoutMs: number;
  /** Bearer token of the index server; never logged. */
  indexServerToken: string;
  pollIntervalMs: number;
  /** Most whole blocks per SQLite transaction during initial sync. */
  flushBlocks: number;
  /** A flush commits once it holds this many txs, even before flushBlocks blocks. */
  flushTxs: number;
  /** UTXO_CACHE_MB in bytes: unspent outputs kept in memory across flushes (0 = off). */
  utxoCacheBytes: number;
  /** Blocks behind the node from which the deferred indexes wait for catch-up (0 = never). */
  deferIndexBlocks: number;
  logLevel: string | undefined;
  adminRpc: AdminRpcConfig;
  /** PROMETHEUS_HOST/PORT; undefined when PROMETHEUS_PORT is unset (metrics off). */
  metrics: { host: string; port: number } | undefined;
  /** WORKER_ADMIN_URL + WORKER_ADMIN_TOKEN: the Worker's /admin API, for sessions and groups. */
  workerAdmin: AuthorizedUrl | undefined;
  /** NOTIFY_URL + NOTIFY_SECRET: where change notices are pushed. */
  notify: AuthorizedUrl | undefined;
  /** RELAY_HOST/PORT + RELAY_SECRET: the broadcast relay (indexer/relay.ts); undefined = off. */
  relay: RelayConfig | undefined;
}

/** Where the broadcast relay listens and the bearer secret the Worker sends it. */
export interface RelayConfig {
  host: string;
  port: number;
  /** Never logged. */
  secret: string;
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

const DAEMON_URL_SCHEME_MESSAGE =
  'DAEMON_URL must start with http:// or https://, e.g. http://user:password@host:port';

/**
 * The problem with a DAEMON_URL that lacks http:// or https:// (`user:pass@host:port` parses as a
 * URL whose scheme is the user name), or undefined. Shared by the start checks and doctor.
 */
export function daemonUrlSchemeProblem(raw: string | undefined): string | undefined {
  let url: URL;
  try {
    url = new URL(raw?.trim() ?? '');
  } catch {
    return undefined;
  }
  const http = url.protocol === 'http:' || url.protocol === 'https:';
  return http ? undefined : DAEMON_URL_SCHEME_MESSAGE;
}

function parseDaemonUrl(raw: string, coin: Coin): DaemonEndpoint {
  const schemeProblem = daemonUrlSchemeProblem(raw);
  if (schemeProblem !== undefined) throw new ConfigError(schemeProblem);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value may hold a password: name the setting only.
    throw new ConfigError('DAEMON_URL is not a URL; expected http://user:password@host:port');
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

function filePath(dbUrl: string): string {
  const path = dbUrl.startsWith('file://') ? fileURLToPath(dbUrl) : dbUrl.slice('file:'.length);
  if (path === '' || path.includes('?')) {
    throw new ConfigError(`DB_URL must name a file, e.g. file:/var/lib/electrum-edge/index.db`);
  }
  return isAbsolute(path) ? path : resolve(path);
}

// libsql:// goes over HTTPS: the Hrana-over-HTTP transport is the one tested here (DESIGN §9);
// plain http:// would send DB_AUTH_TOKEN in clear, so only a loopback server may use it.
function remoteUrl(dbUrl: string): string {
  let url: URL;
  try {
    url = new URL(dbUrl);
  } catch {
    throw new ConfigError('DB_URL is not a URL; expected libsql://host, https://host or file:path');
  }
  if (url.username !== '' || url.password !== '' || url.search !== '') {
    throw new ConfigError(
      'DB_URL must not carry credentials or a query: put the token in DB_AUTH_TOKEN'
    );
  }
  if (url.protocol === 'libsql:') url = new URL(`https://${url.host}${url.pathname}`);
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new ConfigError('DB_URL may use http:// on loopback only; use libsql:// or https://');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    const scheme = url.protocol.slice(0, 20);
    const message = `DB_URL scheme "${scheme}" is not supported; use libsql:, https: or file:`;
    throw new ConfigError(message);
  }
  return url.href.replace(/\/$/, '');
}

interface DbLocation {
  dbPath: string;
  remoteDb: RemoteDbConfig | undefined;
}

/**
 * DB_DIRECTORY alone: the local index. DB_URL=file:...: the same, named by URL. DB_URL of a
 * libSQL server: a mirror of the local working copy in DB_DIRECTORY (remote-writer.ts), since
 * every spent output is looked up while blocks are applied and that must not cross a network.
 */
function parseDbLocation(env: Env): DbLocation {
  const directory = setting(env, 'DB_DIRECTORY');
  const dbUrl = setting(env, 'DB_URL');
  if (dbUrl !== undefined && dbUrl.startsWith('file:')) {
    if (directory !== undefined) throw new ConfigError('set DB_DIRECTORY or DB_URL, not both');
    return { dbPath: filePath(dbUrl), remoteDb: undefined };
  }
  const remoteDb =
    dbUrl === undefined
      ? undefined
      : { url: remoteUrl(dbUrl), authToken: setting(env, 'DB_AUTH_TOKEN') };
  if (directory === undefined) {
    throw new ConfigError(
      remoteDb === undefined
        ? 'DB_DIRECTORY or DB_URL is required'
        : 'DB_URL of a libSQL server needs DB_DIRECTORY too, for the local working copy'
    );
  }
  return { dbPath: join(resolve(directory), 'index.db'), remoteDb };
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

/** A base URL and its secret, both set or neither; the URL must be http(s). */
function authorizedUrl(env: Env, urlName: string, secretName: string): AuthorizedUrl | undefined {
  const url = setting(env, urlName);
  const secret = setting(env, secretName);
  if (url === undefined && secret === undefined) return undefined;
  if (url === undefined || secret === undefined) {
    throw new ConfigError(`set both ${urlName} and ${secretName}, or neither`);
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  const httpUrl = parsed?.protocol === 'http:' || parsed?.protocol === 'https:';
  if (parsed === undefined || !httpUrl || parsed.username !== '' || parsed.password !== '') {
    throw new ConfigError(`${urlName} must be an http(s) URL without credentials`);
  }
  if (secret.length < MIN_TOKEN_CHARS) {
    throw new ConfigError(`${secretName} must be at least ${MIN_TOKEN_CHARS} characters`);
  }
  return { url: url.replace(/\/+$/, ''), secret };
}

// The relay runs when RELAY_PORT and RELAY_SECRET are both set; one without the other is a mistake.
// The secret's strength is checked before this, by the start checks (unsafe-start.ts).
function relaySettings(env: Env): RelayConfig | undefined {
  const portText = setting(env, 'RELAY_PORT');
  const secret = setting(env, 'RELAY_SECRET');
  if (portText === undefined && secret === undefined) return undefined;
  if (portText === undefined || secret === undefined) {
    throw new ConfigError('set both RELAY_PORT and RELAY_SECRET, or neither');
  }
  if (secret.length < MIN_TOKEN_CHARS || /\s/.test(secret)) {
    const rule = `at least ${MIN_TOKEN_CHARS} characters without spaces`;
    throw new ConfigError(`RELAY_SECRET must be ${rule}`);
  }
  const host = setting(env, 'RELAY_HOST') ?? '127.0.0.1';
  return { host, port: integerSetting(env, 'RELAY_PORT', 0, 0, 65_535), secret };
}

// admin-rpc.ts and metrics.ts read their own settings; their errors become ConfigErrors here.
function fromModule<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
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
    ...parseDbLocation(env),
    reorgLimit: integerSetting(env, 'REORG_LIMIT', 200, 1, 100_000),
    indexServerHost: setting(env, 'INDEX_SERVER_HOST') ?? '127.0.0.1',
    indexServerPort: integerSetting(env, 'INDEX_SERVER_PORT', 8081, 0, 65_535),
    indexServerReadTimeoutMs: integerSetting(
      env,
      'INDEX_SERVER_READ_TIMEOUT_MS',
      30_000,
      100,
      3_600_000
    ),
    indexServerToken: parseToken(env),
    pollIntervalMs: integerSetting(env, 'POLL_INTERVAL_MS', 1_000, 10, 3_600_000),
    flushBlocks: integerSetting(env, 'FLUSH_BLOCKS', 1_000, 1, 100_000),
    flushTxs: integerSetting(env, 'FLUSH_TXS', 50_000, 1, 10_000_000),
    utxoCacheBytes: integerSetting(env, 'UTXO_CACHE_MB', 48, 0, 65_536) * 1_048_576,
    deferIndexBlocks: integerSetting(env, 'DEFER_INDEX_BLOCKS', 1_000, 0, 100_000_000),
    logLevel: setting(env, 'LOG_LEVEL'),
    adminRpc: fromModule(() => adminRpcSettings(env)),
    metrics: fromModule(() => metricsSettings(env)),
    workerAdmin: authorizedUrl(env, 'WORKER_ADMIN_URL', 'WORKER_ADMIN_TOKEN'),
    notify: authorizedUrl(env, 'NOTIFY_URL', 'NOTIFY_SECRET'),
    relay: relaySettings(env),
  };
}

/** Every variable the indexer and its tools read: the README's settings table, row for row. */
export const INDEXER_SETTINGS = [
  'DAEMON_URL',
  'COIN',
  'NET',
  'DB_DIRECTORY',
  'DB_URL',
  'DB_AUTH_TOKEN',
  'REORG_LIMIT',
  'FLUSH_BLOCKS',
  'FLUSH_TXS',
  'UTXO_CACHE_MB',
  'DEFER_INDEX_BLOCKS',
  'POLL_INTERVAL_MS',
  'INDEX_SERVER_HOST',
  'INDEX_SERVER_PORT',
  'INDEX_SERVER_READ_TIMEOUT_MS',
  'INDEX_SERVER_TOKEN',
  'RPC_USER',
  'RPC_PASSWORD',
  'RPC_HOST',
  'RPC_PORT',
  'PROMETHEUS_PORT',
  'PROMETHEUS_HOST',
  'WORKER_ADMIN_URL',
  'WORKER_ADMIN_TOKEN',
  'NOTIFY_URL',
  'NOTIFY_SECRET',
  'RELAY_PORT',
  'RELAY_SECRET',
  'RELAY_HOST',
  'ALLOW_ROOT',
  'ALLOW_PUBLIC_RPC',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'ANON_LOGS',
  'BACKUP_DIRECTORY',
  'BACKUP_KEEP',
  'BACKUP_RETENTION_DAYS',
] as const;

// Variables of other software that lie within a typo of one of ours (systemd's Type=notify).
const FOREIGN_VARIABLES = new Set(['NOTIFY_SOCKET']);

/**
 * Variables of `env` that are no setting but lie within a typo of one (core/typos.ts):
 * `FLUSH_BLOCK=5` would otherwise be ignored without a word.
 */
export function misspelledSettings(env: Env = process.env): LikelyTypo[] {
  const names = Object.keys(env).filter(
    (name) => env[name] !== undefined && !FOREIGN_VARIABLES.has(name)
  );
  return likelyTypos(names, INDEXER_SETTINGS);
}
