// Index server settings from the environment, for the standalone entry (main.ts).
import { join } from 'node:path';
import type { IndexServerOptions } from './server.ts';

type Env = Record<string, string | undefined>;

function setting(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number | undefined): number | undefined {
  const raw = setting(env, name);
  if (raw === undefined) return fallback;
  if (!/^[0-9]{1,9}$/.test(raw)) {
    throw new RangeError(`${name} must be a whole number, got "${raw.slice(0, 40)}"`);
  }
  return Number(raw);
}

/**
 * Options from the environment, with the indexer's names (docs/ARCHITECTURE.md "Configuration"):
 * DB_DIRECTORY (the file index.db inside), or INDEX_DB_PATH for any other file;
 * INDEX_SERVER_HOST (127.0.0.1), INDEX_SERVER_PORT (8081), INDEX_SERVER_TOKEN (required);
 * optional INDEX_SERVER_IDLE_STREAM_MS, INDEX_SERVER_MAX_STREAMS, INDEX_SERVER_READERS.
 */
export function optionsFromEnv(env: Env): IndexServerOptions {
  const directory = setting(env, 'DB_DIRECTORY');
  const dbPath =
    setting(env, 'INDEX_DB_PATH') ??
    (directory === undefined ? undefined : join(directory, 'index.db'));
  if (dbPath === undefined) {
    throw new RangeError('set DB_DIRECTORY (or INDEX_DB_PATH) to the index location');
  }
  const authToken = setting(env, 'INDEX_SERVER_TOKEN');
  if (authToken === undefined) {
    throw new RangeError('INDEX_SERVER_TOKEN is required (16 characters or more)');
  }
  return {
    dbPath,
    host: setting(env, 'INDEX_SERVER_HOST') ?? '127.0.0.1',
    port: integer(env, 'INDEX_SERVER_PORT', 8081) ?? 8081,
    authToken,
    idleStreamMs: integer(env, 'INDEX_SERVER_IDLE_STREAM_MS', undefined),
    maxStreams: integer(env, 'INDEX_SERVER_MAX_STREAMS', undefined),
    readerThreads: integer(env, 'INDEX_SERVER_READERS', undefined),
  };
}
