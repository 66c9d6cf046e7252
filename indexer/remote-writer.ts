// Remote libSQL (DB_URL: sqld, Turso): every commit of the local working copy reaches the remote
// index as one `client.batch(stmts, 'write')`, carrying exactly the rows the index writers wrote.
import { createClient, type Client } from '@libsql/client';
import Database from 'better-sqlite3';
import { hashToHex } from '../core/bytes.ts';
import type { IndexDb } from './db.ts';
import type { Logger } from './logger.ts';
import {
  OUTBOX_TABLE,
  bootstrapStatements,
  installOutbox,
  readPending,
  type MirroredTable,
} from './remote-writer-sql.ts';

// Why a working copy at all: applying a block looks up every output it spends and the status of
// every script hash it touches; over HTTP each lookup would be a round trip. The local file keeps
// sync at disk speed and the remote receives the same rows, once per commit (Turso's embedded
// replicas make the same trade).

/** The remote index cannot be continued from this working copy; the indexer must not start. */
export class RemoteIndexError extends Error {
  override name = 'RemoteIndexError';
}

/** Settings of `startRemoteMirror`. */
export interface RemoteMirrorOptions {
  db: IndexDb;
  /** The working copy's file, read over a connection of the mirror's own. */
  dbPath: string;
  url: string;
  authToken?: string;
  log: Logger;
  /** Look for commits this often even without a wake (default 1,000 ms). */
  checkIntervalMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** After each successful send (the notifier is woken here in remote mode). */
  onSent?: (rows: number) => void;
  /** A client for tests; one built from `url` and `authToken` otherwise. */
  client?: Client;
}

/** Where the mirror stands, for the admin RPC's getinfo. */
export interface RemoteMirrorStatus {
  url: string;
  state: 'ok' | 'retrying';
  /** Outbox rows committed locally and not yet confirmed by the remote. */
  pending_rows: number;
  sends: number;
  last_sent_at: string | null;
  last_error: string | null;
}

/** A running mirror. */
export interface RemoteMirror {
  /** Call after each local commit; cheap, never throws. */
  wake(): void;
  /** The newest change seq the remote holds (readers of the remote see nothing newer). */
  changeSeq(): number;
  status(): RemoteMirrorStatus;
  /** Sends until nothing is pending or `timeoutMs` passes; true when the remote caught up. */
  drain(timeoutMs: number): Promise<boolean>;
  /** Stops the loop (after the send in flight) and closes both connections. */
  close(): Promise<void>;
}

interface ChainStateRow {
  coin: unknown;
  net: unknown;
  height: unknown;
  tip_hash: unknown;
  tx_count: unknown;
  last_change_seq: unknown;
}

const CHAIN_STATE_SQL =
  'SELECT coin, net, height, tip_hash, tx_count, last_change_seq FROM chain_state WHERE id = 0';

function describeState(row: ChainStateRow | undefined): string {
  if (row === undefined) return 'no chain_state row';
  const tip = row.tip_hash instanceof Uint8Array ? hashToHex(new Uint8Array(row.tip_hash)) : 'none';
  return `${String(row.coin)} ${String(row.net)} height ${String(row.height)} tip ${tip}`;
}

function sameState(a: ChainStateRow, b: ChainStateRow): boolean {
  const text = (row: ChainStateRow): string =>
    [row.coin, row.net, row.height, row.tx_count, row.last_change_seq]
      .map((value) => String(value))
      .concat(row.tip_hash instanceof Uint8Array ? Buffer.from(row.tip_hash).toString('hex') : '')
      .join('|');
  return text(a) === text(b);
}

/** The remote's tables with their columns. */
async function remoteTables(client: Client): Promise<Map<string, Set<string>>> {
  const result = await client.execute(
    'SELECT m.name AS name, c.name AS col FROM sqlite_schema m, pragma_table_info(m.name) c ' +
      "WHERE m.type = 'table'"
  );
  const tables = new Map<string, Set<string>>();
  for (const row of result.rows) {
    const name = String(row['name']);
    const columns = tables.get(name) ?? new Set<string>();
    columns.add(String(row['col']));
    tables.set(name, columns);
  }
  return tables;
}

async function remoteChainState(client: Client): Promise<ChainStateRow | undefined> {
  const result = await client.execute(CHAIN_STATE_SQL);
  const row = result.rows[0];
  if (row === undefined) return undefined;
  const tip = row['tip_hash'];
  return {
    coin: row['coin'],
    net: row['net'],
    height: row['height'],
    tip_hash: tip instanceof ArrayBuffer ? new Uint8Array(tip) : tip,
    tx_count: row['tx_count'],
    last_change_seq: row['last_change_seq'],
  };
}

function localChainState(reader: Database.Database): ChainStateRow | undefined {
  return reader.prepare(CHAIN_STATE_SQL).safeIntegers(true).get() as ChainStateRow | undefined;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const MOVE_HINT = 'see docs/OPERATIONS.md, "Moving the index to libSQL"';

class Mirror implements RemoteMirror {
  private readonly o: RemoteMirrorOptions;
  private readonly client: Client;
  private readonly reader: Database.Database;
  private readonly tables: MirroredTable[];
  private sentSeq = 0;
  private remoteChangeSeq = 0;
  private sends = 0;
  private lastSentAt: string | null = null;
  private lastError: string | null = null;
  private closed = false;
  private endSleep: (() => void) | null = null;
  private sleepWakeable = false;
  private woken = false;
  private loop: Promise<void> | null = null;
  // Sends run one at a time (the loop and drain() may both ask), so sentSeq only moves forward.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: RemoteMirrorOptions, tables: MirroredTable[]) {
    this.o = options;
    this.tables = tables;
    const { url, authToken } = options;
    this.client = options.client ?? createClient({ url, authToken, intMode: 'bigint' });
    this.reader = new Database(options.dbPath, { readonly: true, fileMustExist: true });
  }

  /** Checks the remote against the working copy (creating it when both are new), then sends. */
  async open(): Promise<void> {
    const tables = await remoteTables(this.client);
    if (!tables.has('chain_state')) await this.bootstrap();
    else this.checkTables(tables);
    await this.sendAll();
    const [remote, local] = [await remoteChainState(this.client), localChainState(this.reader)];
    if (remote === undefined || local === undefined || !sameState(remote, local)) {
      throw new RemoteIndexError(
        `the remote index holds ${describeState(remote)} but the working copy ` +
          `${this.o.dbPath} holds ${describeState(local)}: they are not the same index; copy ` +
          'the working copy to the remote again, or point DB_DIRECTORY at the copy it came ' +
          `from (${MOVE_HINT})`
      );
    }
    this.remoteChangeSeq = Number(remote.last_change_seq);
    this.o.log.info('remote_index_ready', { url: this.o.url, height: Number(local.height) });
    this.loop = this.run();
  }

  // An empty remote is only filled from a fresh working copy: a copy with blocks in it is moved
  // with the tools made for that, not row by row through this mirror.
  private async bootstrap(): Promise<void> {
    const work = this.reader.transaction(() => {
      const state = localChainState(this.reader);
      const lastSeq = this.reader
        .prepare(`SELECT COALESCE(MAX(seq), 0) FROM ${OUTBOX_TABLE}`)
        .pluck()
        .get() as number;
      return { state, lastSeq, statements: bootstrapStatements(this.reader, this.tables) };
    })();
    if (work.state === undefined || Number(work.state.height) !== -1) {
      throw new RemoteIndexError(
        `the remote database at ${this.o.url} holds no index and the working copy is at ` +
          `${describeState(work.state)}: copy the working copy to the remote first (${MOVE_HINT})`
      );
    }
    await this.client.batch(work.statements, 'write');
    this.confirm(work.lastSeq, work.statements.length);
    this.o.log.info('remote_index_created', { url: this.o.url, tables: this.tables.length });
  }

  // Every table and column the mirror writes must be there: a remote made by an older version
  // would refuse each batch, and the mirror would retry it for ever.
  private checkTables(remote: Map<string, Set<string>>): void {
    const missing: string[] = [];
    for (const table of this.tables) {
      const columns = remote.get(table.name);
      if (columns === undefined) {
        missing.push(table.name);
        continue;
      }
      for (const column of table.columns) {
        if (!columns.has(column)) missing.push(`${table.name}.${column}`);
      }
    }
    if (missing.length > 0) {
      throw new RemoteIndexError(
        `the remote index lacks ${missing.join(', ')} of this version (new migrations?): ` +
          `apply migrations/ to it or copy the working copy again (${MOVE_HINT})`
      );
    }
  }

  /** One send of everything committed and not yet sent; false when there was nothing. */
  private sendOnce(): Promise<boolean> {
    const next = this.queue.then(() => this.sendNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async sendNow(): Promise<boolean> {
    const batch = readPending(this.reader, this.tables, this.sentSeq);
    if (batch === null) return false;
    await this.client.batch(batch.statements, 'write');
    this.remoteChangeSeq = Math.max(this.remoteChangeSeq, batch.changeSeq);
    this.confirm(batch.lastSeq, batch.rows);
    return true;
  }

  private async sendAll(): Promise<void> {
    while (await this.sendOnce()) {
      // Commits made while a send was in flight go in the next one.
    }
  }

  // The remote holds everything up to lastSeq: forget those outbox rows. Through the writer's
  // connection, so inside a flush in progress the delete commits with it; were it rolled back,
  // the rows would be sent again after a restart, which changes nothing (readPending).
  private confirm(lastSeq: number, rows: number): void {
    this.sentSeq = Math.max(this.sentSeq, lastSeq);
    this.o.db.prepare(`DELETE FROM ${OUTBOX_TABLE} WHERE seq <= ?`).run(lastSeq);
    this.sends += 1;
    this.lastSentAt = new Date().toISOString();
    if (this.lastError !== null) this.o.log.info('remote_index_available', { url: this.o.url });
    this.lastError = null;
    this.o.onSent?.(rows);
  }

  private async run(): Promise<void> {
    const baseMs = this.o.retryBaseMs ?? 250;
    let delayMs = baseMs;
    while (!this.closed) {
      try {
        await this.sendAll();
        delayMs = baseMs;
        await this.sleep(this.o.checkIntervalMs ?? 1_000, true);
      } catch (error) {
        if (this.closed) return;
        const detail = message(error).slice(0, 300);
        if (detail !== this.lastError) {
          const fields = { url: this.o.url, detail, retry_ms: delayMs };
          this.o.log.warn('remote_index_unavailable', fields);
        }
        this.lastError = detail;
        await this.sleep(delayMs, false);
        delayMs = Math.min(delayMs * 2, this.o.retryMaxMs ?? 30_000);
      }
    }
  }

  // A wake during a send ends the next wakeable sleep at once; close() ends any sleep.
  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.closed || (wakeable && this.woken)) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.endSleep = null;
        this.woken = false;
        done();
      };
      const timer = setTimeout(finish, ms);
      this.endSleep = finish;
      this.sleepWakeable = wakeable;
    });
  }

  changeSeq(): number {
    return this.remoteChangeSeq;
  }

  wake(): void {
    this.woken = true;
    if (this.sleepWakeable) this.endSleep?.();
  }

  status(): RemoteMirrorStatus {
    const pending = this.reader
      .prepare(`SELECT COUNT(*) FROM ${OUTBOX_TABLE} WHERE seq > ?`)
      .pluck()
      .get(this.sentSeq) as number;
    return {
      url: this.o.url,
      state: this.lastError === null ? 'ok' : 'retrying',
      pending_rows: pending,
      sends: this.sends,
      last_sent_at: this.lastSentAt,
      last_error: this.lastError,
    };
  }

  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        if (!(await this.sendOnce())) return true;
      } catch (error) {
        this.lastError = message(error).slice(0, 300);
        const waitMs = Math.min(500, Math.max(0, deadline - Date.now()));
        await new Promise((done) => setTimeout(done, waitMs));
      }
    }
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.endSleep?.();
    await this.loop;
    await this.queue;
    this.client.close();
    this.reader.close();
  }
}

/**
 * Starts mirroring the working copy to the libSQL server at `url`: installs the outbox
 * (remote-writer-sql.ts), reads the remote's chain state back and checks it is the working
 * copy's (creating the remote index when both are new), then sends each commit as one batch.
 * A remote that is down is retried with backoff while the local index goes on.
 * @throws RemoteIndexError when the remote holds another index or lacks tables.
 */
export async function startRemoteMirror(options: RemoteMirrorOptions): Promise<RemoteMirror> {
  const tables = installOutbox(options.db.sqlite);
  const mirror = new Mirror(options, tables);
  try {
    await mirror.open();
  } catch (error) {
    await mirror.close();
    throw error;
  }
  return mirror;
}
