// The Worker's settings, read from its env: chain, server texts and the index connection.
import { createClient } from '@libsql/client/web';
import { getCoin, type Coin } from '../core/coins.ts';
import { SERVER_SOFTWARE } from '../core/protocol/version.ts';
import type { Env } from './env.ts';
import type { IndexReader } from './index-reader.ts';
import { LibsqlIndexReader } from './libsql-reader.ts';
import type { ServerInfo } from './methods/context.ts';

/** Settings derived from env once per request or per Session object. */
export interface WorkerConfig {
  coin: Coin;
  server: ServerInfo;
}

/** Reads COIN, NET, BANNER and DONATION_ADDRESS. @throws Error naming the valid coins and nets. */
export function loadConfig(env: Env): WorkerConfig {
  const coin = getCoin(env.COIN, env.NET);
  const banner = env.BANNER ?? `${SERVER_SOFTWARE}: Electrum server for ${coin.name} ${coin.net}`;
  return {
    coin,
    server: {
      serverVersion: SERVER_SOFTWARE,
      banner,
      donationAddress: env.DONATION_ADDRESS ?? '',
    },
  };
}

/** An IndexReader over the Hrana HTTP endpoint at LIBSQL_URL. */
export function openIndex(env: Env): IndexReader {
  if (typeof env.LIBSQL_URL !== 'string' || env.LIBSQL_URL === '') {
    throw new Error('LIBSQL_URL is not set');
  }
  // intMode bigint: amounts and tx numbers come back exact (Radiant balances pass 2^53).
  const client = createClient({
    url: env.LIBSQL_URL,
    authToken: env.LIBSQL_AUTH_TOKEN,
    intMode: 'bigint',
  });
  return new LibsqlIndexReader(client);
}
