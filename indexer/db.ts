// The index file: opened with better-sqlite3, migrated, with cached prepared statements.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Coin } from '../core/coins.ts';
import { syncHeaderTree } from './header-tree.ts';
import { log } from './log.ts';

export type Sqlite = Database.Database;
export type Statement = Database.Statement;

const MIGRATIONS_DIR = resolve(import.meta.dirname, '../migrations');
const MIGRATIONS_TABLE = '__drizzle_migrations';
// Negative cache_size is KiB. Spends no longer walk txs_by_txid (BlockWriter's UtxoCache), so
// 32 MiB of pages measured as fast as 128 MiB at 1M txs (bench:index), and 16 MiB within the
// noise of 32 (53.6-55.7 s of writer CPU against 53.3-53.8) with a peak RSS 20 MiB lower
// (443-462 MiB against 473-480): DESIGN §8 wants under 500 MB with the UtxoCache's own 48 MiB.
const PAGE_CACHE_KIB = 16_384;

/** The single chain_state row. */
export interface ChainState {
  coin: string;
  net: string;
  height: number;
  tipHash: Uint8Array | null;
  txCount: number;
  lastChangeSeq: number;
}

interface ChainStateRow {
  coin: string;
  net: string;
  height: number;
  tip_hash: Uint8Array | null;
  tx_count: number;
  last_change_seq: number;
}

/** An open index: the connection plus a cache of prepared statements keyed by SQL text. */
export class IndexDb {
  readonly sqlite: Sqlite;
  private readonly statements = new Map<string, Statement>();

  constructor(sqlite: Sqlite) {
    this.sqlite = sqlite;
  }

  /** The prepared statement for `sql`, compiled once per connection. */
  prepare(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.sqlite.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `work` inside one SQLite transaction: all of it commits or none of it does. */
  transaction<T>(work: () => T): T {
    return this.sqlite.transaction(work)();
  }

  readChainState(): ChainState {
    const row = this.prepare(
      'SELECT coin, net, height, tip_hash, tx_count, last_change_seq FROM chain_state WHERE id = 0'
    ).get() as ChainStateRow | undefined;
    if (row === undefined) throw new Error('chain_state row missing: index not initialised');
    return {
      coin: row.coin,
      net: row.net,
      height: row.height,
      tipHash: row.tip_hash === null ? null : new Uint8Array(row.tip_hash),
      txCount: row.tx_count,
      lastChangeSeq: row.last_change_seq,
    };
  }

  close(): void {
    this.statements.clear();
    if (this.sqlite.open) this.sqlite.close();
  }
}

interface JournalEntry {
  tag: string;
  when: number;
}

function readJournal(dir: string): JournalEntry[] {
  const journal = JSON.parse(readFileSync(join(dir, 'meta/_journal.json'), 'utf8')) as {
    entries?: JournalEntry[];
  };
  return [...(journal.entries ?? [])].sort((a, b) => a.when - b.when);
}

/**
 * Applies migrations/*.sql in journal order, recording each in drizzle's own bookkeeping table
 * (same columns and rules as drizzle-orm's SQLite migrator), so drizzle-kit sees the same state.
 */
export function migrate(sqlite: Sqlite, dir = MIGRATIONS_DIR): number {
  sqlite.exec(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE}
     (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric)`
  );
  const last = sqlite
    .prepare(`SELECT created_at FROM ${MIGRATIONS_TABLE} ORDER BY created_at DESC LIMIT 1`)
    .get() as { created_at: number } | undefined;
  const pending = readJournal(dir).filter(
    (entry) => last === undefined || entry.when > last.created_at
  );
  const record = sqlite.prepare(`INSERT INTO ${MIGRATIONS_TABLE} (hash, created_at) VALUES (?, ?)`);
  sqlite.transaction(() => {
    for (const entry of pending) {
      const text = readFileSync(join(dir, `${entry.tag}.sql`), 'utf8');
      for (const statement of text.split('--> statement-breakpoint')) {
        if (statement.trim() !== '') sqlite.exec(statement);
      }
      record.run(createHash('sha256').update(text).digest('hex'), entry.when);
    }
  })();
  return pending.length;
}

function ensureChainState(db: IndexDb, coin: Coin): void {
  const existing = db.prepare('SELECT coin, net FROM chain_state WHERE id = 0').get() as
    | { coin: string; net: string }
    | undefined;
  if (existing === undefined) {
    db.prepare(
      `INSERT INTO chain_state
       (id, coin, net, height, tip_hash, tx_count, last_change_seq, relay_fee)
       VALUES (0, ?, ?, -1, NULL, 0, 0, NULL)`
    ).run(coin.name, coin.net);
    return;
  }
  if (existing.coin !== coin.name || existing.net !== coin.net) {
    // Not one block in it yet (a first start with the wrong COIN/NET stopped at the node's
    // genesis): nothing to protect, so it becomes this coin's instead of refusing the fixed one.
    const empty = db.prepare('SELECT 1 FROM headers LIMIT 1').get() === undefined;
    if (empty && db.readChainState().height === -1) {
      db.prepare('UPDATE chain_state SET coin = ?, net = ? WHERE id = 0').run(coin.name, coin.net);
      log.info('empty_index_relabelled', {
        from: `${existing.coin} ${existing.net}`,
        to: `${coin.name} ${coin.net}`,
      });
      return;
    }
    throw new Error(
      `the index holds ${existing.coin} ${existing.net}, not ${coin.name} ${coin.net}; ` +
        'point DB_DIRECTORY elsewhere or fix COIN/NET'
    );
  }
}

// Secondary indexes that initial sync does without: every insert would update them at a random
// place. utxos_by_hashx (migrations/0001) serves listunspent and balances; txs_by_txid serves
// lookups by txid (transaction.get, merkle, and spends the BlockWriter's UtxoCache misses, which
// build it at once: BlockWriter.takeStoredUtxo). Readers still get correct answers meanwhile, by
// a table scan.
export const DEFERRED_INDEXES = [
  {
    name: 'utxos_by_hashx',
    sql: 'CREATE INDEX IF NOT EXISTS `utxos_by_hashx` ON `utxos` (`hashx`)',
  },
  {
    name: 'txs_by_txid',
    sql: 'CREATE INDEX IF NOT EXISTS `txs_by_txid` ON `txs` (`txid`)',
  },
] as const;

export type DeferredIndexName = (typeof DEFERRED_INDEXES)[number]['name'];

/**
 * Drops the deferred indexes (DEFERRED_INDEXES) except those in `keep`; restoreDeferredIndexes
 * brings them back. Returns how many were dropped.
 */
export function dropDeferredIndexes(
  sqlite: Sqlite,
  keep: ReadonlySet<DeferredIndexName> = new Set()
): number {
  let dropped = 0;
  for (const { name } of DEFERRED_INDEXES) {
    if (keep.has(name) || !indexExists(sqlite, name)) continue;
    sqlite.exec(`DROP INDEX \`${name}\``);
    dropped += 1;
  }
  return dropped;
}

/** Creates the deferred indexes that are missing (only `only` when given); returns how many. */
export function restoreDeferredIndexes(sqlite: Sqlite, only?: DeferredIndexName): number {
  if (sqlite.inTransaction) throw new Error('deferred indexes are built between transactions');
  const missing = DEFERRED_INDEXES.filter(
    ({ name }) => (only === undefined || name === only) && !indexExists(sqlite, name)
  );
  if (missing.length === 0) return 0;
  // The build sorts every row; in temporary files it does not add the table's size to RSS
  // (~7 MiB for utxos at 1M txs). Changing temp_store deletes every TEMP object of the
  // connection, so it is only done when there is none (the remote mirror keeps TEMP triggers).
  const sortOnDisk = !hasTempObjects(sqlite);
  if (sortOnDisk) sqlite.pragma('temp_store = FILE');
  try {
    for (const { sql } of missing) sqlite.exec(sql);
  } finally {
    if (sortOnDisk) sqlite.pragma('temp_store = MEMORY');
  }
  return missing.length;
}

function hasTempObjects(sqlite: Sqlite): boolean {
  return sqlite.prepare('SELECT 1 FROM temp.sqlite_master LIMIT 1').get() !== undefined;
}

function tableExists(sqlite: Sqlite, name: string): boolean {
  const row = sqlite
    .prepare("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?")
    .get(name);
  return row !== undefined;
}

export function indexExists(sqlite: Sqlite, name: string): boolean {
  const row = sqlite
    .prepare("SELECT 1 AS found FROM sqlite_master WHERE type = 'index' AND name = ?")
    .get(name);
  return row !== undefined;
}

// The index holds no secret, but doctor (cli/doctor.ts) wants the directory 0700 and the files
// 0600: modes are set after creating, so a loose umask does not matter. A directory the operator
// made stays as it is.
const DIRECTORY_MODE = 0o700;
const FILE_MODE = 0o600;

/** Creates the index's directory (0700) when it is missing; an existing one is left alone. */
export function ensureIndexDirectory(dbPath: string): void {
  const directory = dirname(dbPath);
  if (existsSync(directory)) return;
  mkdirSync(directory, { recursive: true, mode: DIRECTORY_MODE });
  chmodSync(directory, DIRECTORY_MODE);
}

// SQLite gives -wal and -shm the database file's mode; they are set too in case they existed.
function restrictNewIndexFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(`${path}${suffix}`)) chmodSync(`${path}${suffix}`, FILE_MODE);
  }
}

/** Opens (creating if needed) the index at `path` for `coin`, migrated and tuned for writing. */
export function openIndexDb(path: string, coin: Coin): IndexDb {
  ensureIndexDirectory(path);
  const created = !existsSync(path);
  const sqlite = new Database(path);
  try {
    if (created) chmodSync(path, FILE_MODE);
    sqlite.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a power cut may lose the last commits but never corrupts the file,
    // and every commit still ends on a block boundary.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    sqlite.pragma('temp_store = MEMORY');
    sqlite.pragma('busy_timeout = 5000');
    // A sync stopped before it caught up left them out: migrations expect the full schema.
    if (tableExists(sqlite, 'utxos')) restoreDeferredIndexes(sqlite);
    migrate(sqlite);
    const db = new IndexDb(sqlite);
    ensureChainState(db, coin);
    // Indexes written before the header tree existed get it filled in once (cheap when complete).
    db.transaction(() => syncHeaderTree(sqlite));
    if (created) restrictNewIndexFiles(path);
    return db;
  } catch (error) {
    sqlite.close();
    throw error;
  }
}

/** Another live process holds the index's lock file. */
export class IndexLockedError extends Error {
  override name = 'IndexLockedError';
  constructor(
    readonly directory: string,
    readonly pid: number
  ) {
    super(
      `${directory} is in use by another indexer (pid ${pid}); stop it first, ` +
        'or give this one its own DB_DIRECTORY'
    );
  }
}

/** The held lock of one index: release it at a clean stop. */
export interface IndexLock {
  path: string;
  /** The pid of a dead process whose lock was taken over, if any (to be logged as a warning). */
  stalePid: number | undefined;
  release(): void;
}

/** index.db.lock, beside the index: one writer per DB_DIRECTORY. */
export function lockPathOf(dbPath: string): string {
  return `${dbPath}.lock`;
}

/** The pid written in a lock file, or undefined when there is none or it is unreadable. */
export function readLockPid(lockPath: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(lockPath, 'utf8').trim();
  } catch {
    return undefined;
  }
  return /^[0-9]{1,10}$/.test(text) ? Number(text) : undefined;
}

/** True when a process with this pid exists (EPERM: it exists but belongs to another user). */
export function isProcessAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function createLockFile(lockPath: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx', FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(lockPath, FILE_MODE);
  return true;
}

/**
 * Takes the index's lock file (created exclusively, holding this pid). A lock left by a process
 * that is gone is taken over and reported in `stalePid`; an unreadable one counts as stale.
 * @throws IndexLockedError when a live process holds it.
 */
export function acquireIndexLock(dbPath: string): IndexLock {
  ensureIndexDirectory(dbPath);
  const path = lockPathOf(dbPath);
  let stalePid: number | undefined;
  // Two rounds: the first may find a stale lock, the second must then win or meet a new owner.
  for (let round = 0; round < 2; round++) {
    if (createLockFile(path)) {
      const release = (): void => {
        if (readLockPid(path) === process.pid) rmSync(path, { force: true });
      };
      return { path, stalePid, release };
    }
    const pid = readLockPid(path);
    // A lock naming this very process was left by an earlier one with the same PID: in a
    // container the indexer is PID 1 (or another fixed number) on every start.
    const held = pid !== undefined && pid !== process.pid && isProcessAlive(pid);
    if (held) throw new IndexLockedError(dirname(dbPath), pid);
    stalePid = pid ?? 0;
    // Only the lock as read is removed: a racing indexer may just have replaced it.
    if (readLockPid(path) === pid) rmSync(path, { force: true });
  }
  const owner = readLockPid(path) ?? 0;
  throw new IndexLockedError(dirname(dbPath), owner);
}
