// The remote libSQL mirror against a real Hrana server (our index server, writable for tests):
// after syncs, reorgs, outages and restarts the remote holds exactly the working copy's rows.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { startSimNode, type SimNode } from '../tools/sim-node.ts';
import { Daemon } from './daemon.ts';
import { openIndexDb, type IndexDb } from './db.ts';
import { startIndexServer, type IndexServer } from './index-server/server.ts';
import { configureLog, log } from './log.ts';
import { RemoteIndexError, startRemoteMirror, type RemoteMirror } from './remote-writer.ts';
import { Sync } from './sync.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const CHAIN = loadChainFile(join(import.meta.dirname, '../data/bitcoincash_regtest_0-103.json'));
const TOKEN = 'remote-test-token-0123456789';
const NODE_PASSWORD = 'sim-pass-0123456789';

let dir: string;
let node: SimNode;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  configureLog({ level: 'warn', destination: { write: () => true } });
  dir = mkdtempSync(join(tmpdir(), 'remote-writer-'));
});

beforeEach(async () => {
  const blocks = CHAIN.slice(0, 60);
  node = await startSimNode({ coin, blocks, user: 'u', password: NODE_PASSWORD });
  cleanups.push(() => node.close());
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** An empty SQLite file in WAL mode served writable over Hrana, as sqld would serve it. */
async function remoteServer(name: string): Promise<{ server: IndexServer; path: string }> {
  const path = join(dir, `${name}.db`);
  const file = new Database(path);
  file.pragma('journal_mode = WAL');
  file.close();
  return { server: await serve(path, 0), path };
}

function serve(path: string, port: number): Promise<IndexServer> {
  return startIndexServer({
    dbPath: path,
    host: '127.0.0.1',
    port,
    authToken: TOKEN,
    readOnly: false,
    readerThreads: 1,
    maxBodyBytes: 64 * 1_048_576,
    log: () => {},
  });
}

function openLocal(name: string): IndexDb {
  const db = openIndexDb(join(dir, name, 'index.db'), coin);
  cleanups.push(() => db.close());
  return db;
}

async function mirrorOf(db: IndexDb, url: string, extra = {}): Promise<RemoteMirror> {
  const dbPath = db.sqlite.name;
  const mirror = await startRemoteMirror({ db, dbPath, url, authToken: TOKEN, log, ...extra });
  cleanups.push(() => mirror.close());
  return mirror;
}

/** The error a mirror of `db` onto `url` fails to start with (the value, when it starts). */
function mirrorRefusal(db: IndexDb, url: string): Promise<unknown> {
  const options = { db, dbPath: db.sqlite.name, url, authToken: TOKEN, log };
  return startRemoteMirror(options).catch((error: unknown) => error);
}

/** Runs the sync until the index holds the node's tip; every commit wakes the mirror. */
async function syncToTip(db: IndexDb, mirror?: RemoteMirror): Promise<void> {
  const height = node.tipHeight();
  const controller = new AbortController();
  const url = `http://127.0.0.1:${node.port}`;
  const daemon = new Daemon({ url, user: 'u', password: NODE_PASSWORD, signal: controller.signal });
  const sync = new Sync({
    db,
    daemon,
    coin,
    reorgLimit: 50,
    flushBlocks: 7,
    pollIntervalMs: 20,
    signal: controller.signal,
    observer: { committed: () => mirror?.wake() },
  });
  const running = sync.run();
  const deadline = Date.now() + 20_000;
  while (db.readChainState().height < height && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 20));
  }
  controller.abort();
  await running;
  expect(db.readChainState().height).toBe(height);
}

/** Row count and SHA-256 of every row of every table but SQLite's own and the outbox. */
function digests(path: string): Record<string, string> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare(
        `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         AND name != 'remote_outbox' ORDER BY name`
      )
      .pluck()
      .all() as string[];
    const out: Record<string, string> = {};
    for (const table of tables) {
      const width = db.prepare(`SELECT * FROM "${table}" LIMIT 0`).columns().length;
      const order = Array.from({ length: width }, (_, i) => i + 1).join(', ');
      const select = `SELECT * FROM "${table}" ORDER BY ${order}`;
      const rows = db.prepare(select).raw(true).safeIntegers(true);
      const hash = createHash('sha256');
      let count = 0;
      for (const row of rows.iterate() as Iterable<unknown[]>) {
        const cells = row.map((value) =>
          value instanceof Uint8Array
            ? `x${Buffer.from(value).toString('hex')}`
            : `${typeof value}:${String(value)}`
        );
        hash.update(`${cells.join('|')}\n`);
        count += 1;
      }
      out[table] = `${count}:${hash.digest('hex').slice(0, 16)}`;
    }
    return out;
  } finally {
    db.close();
  }
}

function expectSameIndex(localPath: string, remotePath: string): void {
  const local = digests(localPath);
  expect(Object.keys(local)).toEqual(expect.arrayContaining(['txs', 'utxos', 'status', 'changes']));
  expect(digests(remotePath)).toEqual(local);
  expect(local['txs']).not.toMatch(/^0:/);
}

describe('remote mirror', () => {
  it('creates the remote index from a fresh working copy and carries every commit', async () => {
    const { server, path } = await remoteServer('fresh');
    cleanups.push(() => server.close());
    const db = openLocal('fresh');
    const mirror = await mirrorOf(db, server.url);
    await syncToTip(db, mirror);
    expect(await mirror.drain(10_000)).toBe(true);
    expectSameIndex(db.sqlite.name, path);
    expect(mirror.status()).toMatchObject({ state: 'ok', pending_rows: 0 });

    // A reorg unwinds (deletes) and re-applies: the remote follows both.
    node.reorgMine(55, 6);
    await syncToTip(db, mirror);
    expect(await mirror.drain(10_000)).toBe(true);
    expectSameIndex(db.sqlite.name, path);
  });

  it('keeps indexing while the remote is down and catches up once it is back', async () => {
    const { server, path } = await remoteServer('outage');
    const port = Number(new URL(server.url).port);
    const db = openLocal('outage');
    const mirror = await mirrorOf(db, server.url, { retryBaseMs: 50, retryMaxMs: 200 });
    await server.close();
    await syncToTip(db, mirror);
    // Waits for the mirror's first failed send rather than a fixed time (a loaded machine may
    // take longer to get there).
    for (let round = 0; round < 500 && mirror.status().state !== 'retrying'; round++) {
      await new Promise((done) => setTimeout(done, 20));
    }
    expect(mirror.status().state).toBe('retrying');
    expect(mirror.status().pending_rows).toBeGreaterThan(0);
    // What notices may name (the notifier's visibleSeq): the remote's change seq, not ours.
    const remoteSeq = (): number => {
      const remote = new Database(path, { readonly: true });
      try {
        const read = remote.prepare('SELECT last_change_seq FROM chain_state WHERE id = 0');
        return read.pluck().get() as number;
      } finally {
        remote.close();
      }
    };
    const localSeq = db.readChainState().lastChangeSeq;
    expect(localSeq).toBeGreaterThan(0);
    expect(mirror.changeSeq()).toBe(remoteSeq());
    expect(mirror.changeSeq()).toBeLessThan(localSeq);
    const again = await serve(path, port);
    cleanups.push(() => again.close());
    expect(await mirror.drain(10_000)).toBe(true);
    expectSameIndex(db.sqlite.name, path);
    expect(mirror.changeSeq()).toBe(localSeq);
    expect(remoteSeq()).toBe(localSeq);
  });

  it('resends what a stopped indexer left unsent, then checks it is the same index', async () => {
    const { server, path } = await remoteServer('restart');
    cleanups.push(() => server.close());
    const first = openIndexDb(join(dir, 'restart', 'index.db'), coin);
    const unsent = await startRemoteMirror({
      db: first,
      dbPath: first.sqlite.name,
      url: server.url,
      authToken: TOKEN,
      log,
      checkIntervalMs: 60_000,
    });
    await syncToTip(first);
    await unsent.close();
    first.close();

    const db = openLocal('restart');
    await mirrorOf(db, server.url);
    expectSameIndex(db.sqlite.name, path);
  });

  it('refuses a remote that holds another index, and an empty remote for a used copy', async () => {
    const { server } = await remoteServer('mismatch');
    cleanups.push(() => server.close());
    const db = openLocal('mismatch');
    await mirrorOf(db, server.url).then((mirror) => mirror.close());
    // The remote now holds a fresh index; this working copy moves on without it.
    await syncToTip(db);
    db.sqlite.exec('DELETE FROM remote_outbox');
    const refused = await mirrorRefusal(db, server.url);
    expect(refused).toBeInstanceOf(RemoteIndexError);
    expect(String(refused)).toMatch(/remote index holds .*height -1.* not the same index/);

    const empty = await remoteServer('empty');
    cleanups.push(() => empty.server.close());
    const fresh = await mirrorRefusal(db, empty.server.url);
    expect(String(fresh)).toMatch(/holds no index and the working copy is at .*height 59/);
    const client = createClient({ url: empty.server.url, authToken: TOKEN });
    const count = "SELECT COUNT(*) AS n FROM sqlite_schema WHERE type = 'table'";
    const tables = await client.execute(count);
    client.close();
    expect(tables.rows[0]?.['n']).toBe(0);
  });

  it('refuses a remote made before a migration, naming what it lacks', async () => {
    const { server, path } = await remoteServer('older');
    cleanups.push(() => server.close());
    const db = openLocal('older');
    await mirrorOf(db, server.url).then((mirror) => mirror.close());
    // As a remote copied from an index of the version before migration 0005 would be.
    const older = new Database(path);
    older.exec('ALTER TABLE chain_state DROP COLUMN notices_held_after');
    older.close();
    const refused = await mirrorRefusal(db, server.url);
    expect(refused).toBeInstanceOf(RemoteIndexError);
    expect(String(refused)).toMatch(/lacks chain_state\.notices_held_after of this version/);
  });
});
