// Index files written by the tests themselves (through migrations/) and the Hrana index server
// serving one from this process on loopback.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createClient } from '@libsql/client/web';
import Database from 'better-sqlite3';
import {
  startIndexServer,
  type IndexServer,
  type IndexServerOptions,
} from '../../indexer/index-server/server.ts';
import {
  createTempIndex,
  TEST_TOKEN,
  type TempIndex,
} from '../../indexer/index-server/test-index.ts';
import { LibsqlIndexReader } from '../../worker/libsql-reader.ts';

const MIGRATIONS_DIR = resolve(import.meta.dirname, '../../migrations');

/** Runs every migration of migrations/ in file order on `db`. */
export function applyMigrations(db: Database.Database): void {
  const files = readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.sql')).sort();
  for (const file of files) {
    const statements = readFileSync(join(MIGRATIONS_DIR, file), 'utf8');
    for (const statement of statements.split('--> statement-breakpoint')) {
      if (statement.trim() !== '') db.exec(statement);
    }
  }
}

/**
 * Creates a WAL index at `dbPath` with the schema of migrations/ and fills it with `write`, in one
 * transaction; returns what `write` returns.
 */
export function writeMigratedIndex<T>(dbPath: string, write: (db: Database.Database) => T): T {
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    applyMigrations(db);
    return db.transaction(() => write(db))();
  } finally {
    db.close();
  }
}

type ServerExtras = Omit<IndexServerOptions, 'dbPath' | 'host' | 'port' | 'authToken' | 'log'>;

/** Serves the index at `dbPath` on a free loopback port with `token`, logging nothing. */
function serveOnLoopback(dbPath: string, token: string, extras: ServerExtras): Promise<IndexServer> {
  const options = { dbPath, host: '127.0.0.1', port: 0, authToken: token };
  return startIndexServer({ ...options, log: () => {}, ...extras });
}

/** Serves the index at `dbPath` on loopback with a fresh token. */
export async function startLoopbackIndexServer(
  dbPath: string,
  extras: ServerExtras = {}
): Promise<{ server: IndexServer; token: string }> {
  const token = randomBytes(24).toString('hex');
  return { server: await serveOnLoopback(dbPath, token, extras), token };
}

/** Serves the index at `dbPath` on loopback with TEST_TOKEN (indexer/index-server/test-index.ts). */
export function serveWithTestToken(dbPath: string, extras: ServerExtras = {}): Promise<IndexServer> {
  return serveOnLoopback(dbPath, TEST_TOKEN, extras);
}

/** The index server on a fresh test index (indexer/index-server/test-index.ts, TEST_TOKEN). */
export interface TempIndexServer {
  readonly index: TempIndex;
  readonly server: IndexServer;
  /** Closes the server, then removes the index. */
  stop(): Promise<void>;
}

export async function startTempIndexServer(extras: ServerExtras = {}): Promise<TempIndexServer> {
  const index = createTempIndex();
  const server = await serveWithTestToken(index.dbPath, extras).catch((error: unknown) => {
    index.remove();
    throw error;
  });
  const stop = async (): Promise<void> => {
    await server.close();
    index.remove();
  };
  return { index, server, stop };
}

/**
 * The Worker's own reader (worker/libsql-reader.ts) over Hrana HTTP, against an index server on
 * `dbPath` with TEST_TOKEN: what the Worker would answer from this index.
 */
export async function startWorkerReader(
  dbPath: string
): Promise<{ server: IndexServer; reader: LibsqlIndexReader }> {
  const server = await serveWithTestToken(dbPath);
  const client = createClient({ url: server.url, authToken: TEST_TOKEN, intMode: 'bigint' });
  return { server, reader: new LibsqlIndexReader(client) };
}
