// The Worker's settings, read from its env: chain, server texts and the index connection.
import { createClient } from '@libsql/client/web';
import type { Coin } from '../core/coins.ts';
import { SERVER_SOFTWARE } from '../core/protocol/version.ts';
import { readCoin } from './coin-setting.ts';
import type { Env } from './env.ts';
import { CheckedIndexReader, indexChainCheck } from './index-check.ts';
import type { ServerInfo } from './methods/context.ts';
import type { RelaySettings } from './relay-client.ts';

/** Settings derived from env once per request or per Session object. */
export interface WorkerConfig {
  coin: Coin;
  server: ServerInfo;
  /** REORG_LIMIT: blocks at least this far below the tip are final enough to cache. */
  reorgLimit: number;
  /** RELAY_URL and RELAY_SECRET, or null when broadcasting is not set up. */
  relay: RelaySettings | null;
}

/** DESIGN §3: keep undo data (and treat blocks as mutable) for 200 blocks by default. */
export const DEFAULT_REORG_LIMIT = 200;

function readReorgLimit(value: string | number | undefined): number {
  if (value === undefined || value === '') return DEFAULT_REORG_LIMIT;
  const limit = Number(value);
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new Error(`REORG_LIMIT must be a positive integer, got ${String(value).slice(0, 20)}`);
  }
  return limit;
}

function readRelay(env: Env): RelaySettings | null {
  const url = env.RELAY_URL ?? '';
  const secret = env.RELAY_SECRET ?? '';
  if (url === '' && secret === '') return null;
  if (url === '' || secret === '') {
    throw new Error('set both RELAY_URL and RELAY_SECRET, or neither');
  }
  if (!/^https?:\/\//.test(url)) throw new Error('RELAY_URL must be an http(s) URL');
  return { url, secret };
}

/**
 * Reads COIN, NET, BANNER, DONATION_ADDRESS, REORG_LIMIT and the relay settings.
 * @throws Error naming the bad setting (valid coins and nets, a malformed REORG_LIMIT or relay).
 */
export function loadConfig(env: Env): WorkerConfig {
  const coin = readCoin(env);
  const banner = env.BANNER ?? `${SERVER_SOFTWARE}: Electrum server for ${coin.name} ${coin.net}`;
  return {
    coin,
    server: {
      serverVersion: SERVER_SOFTWARE,
      banner,
      donationAddress: env.DONATION_ADDRESS ?? '',
    },
    reorgLimit: readReorgLimit(env.REORG_LIMIT),
    relay: readRelay(env),
  };
}


/** LIBSQL_URL. @throws Error when it is unset. */
export function readIndexUrl(env: Env): string {
  if (typeof env.LIBSQL_URL !== 'string' || env.LIBSQL_URL === '') {
    throw new Error('LIBSQL_URL is not set');
  }
  return env.LIBSQL_URL;
}

/**
 * An IndexReader over the Hrana HTTP endpoint at LIBSQL_URL, carrying this isolate's check that
 * the index is of COIN and NET (worker/index-check.ts).
 * @throws Error when LIBSQL_URL is unset or COIN/NET are not valid.
 */
export function openIndex(env: Env): CheckedIndexReader {
  const url = readIndexUrl(env);
  // intMode bigint: amounts and tx numbers come back exact (Radiant balances pass 2^53).
  const client = createClient({ url, authToken: env.LIBSQL_AUTH_TOKEN, intMode: 'bigint' });
  const check = indexChainCheck(readCoin(env), url, env.LOG_LEVEL);
  return new CheckedIndexReader(client, check);
}
