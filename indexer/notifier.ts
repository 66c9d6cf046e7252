// Pushes the committed change feed (`changes` rows, core/schema.ts) to the Worker: POST
// <url>/internal/notify in seq order, retried with capped backoff, never skipping a row, and on
// start resuming from the seq the Worker says it holds (GET <url>/internal/notify).
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Sqlite } from './db.ts';
import { log as indexerLog, type LogFields } from './log.ts';

/** Where the notifier writes its log lines (the indexer's logger by default). */
export interface NotifierLog {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** How to start a notifier. Give `dbPath` (preferred) or `db`. */
export interface NotifierOptions {
  /** The index file: the notifier reads it over its own read-only connection. */
  dbPath?: string;
  /** An open connection instead; rows are read only while it is outside a transaction. */
  db?: Sqlite;
  /** The Worker's base URL, e.g. https://edge.example.com (no trailing path). */
  url: string;
  /** NOTIFY_SECRET of the Worker. */
  secret: string;
  log?: NotifierLog;
  /** Also wake on writes to the index file's directory, e.g. by another process (default true with dbPath). */
  watchFile?: boolean;
  /** Look for new rows this often even without a wake, as a safety net (default 5000 ms; 0 = never). */
  checkIntervalMs?: number;
  /** First retry delay (default 250 ms); doubles per failure up to retryMaxMs (default 30 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** Largest POST body (default 1 MiB; the Worker takes up to 4 MiB). */
  maxBodyBytes?: number;
  /** Called after each acknowledged POST with the rows it completed (benchmarks, tests). */
  onSent?: (sent: SentNotice[]) => void;
}

/** A change row the Worker acknowledged. */
export interface SentNotice {
  seq: number;
  height: number;
  /** When the notifier first saw the row committed (ms since the epoch). */
  commitMs: number;
}

/** A running notifier. */
export interface Notifier {
  /** Call after each commit that may have added change rows; cheap, never throws. */
  wake(): void;
  /** The newest seq the Worker acknowledged, or null before the first answer. */
  ackedSeq(): number | null;
  /** Stops sending (an in-flight request is aborted) and closes its connection. */
  close(): Promise<void>;
}

interface ChangeRow {
  seq: number;
  height: number;
  tip_hash: Uint8Array;
  hashxes: Uint8Array;
  raw: Uint8Array | null;
}

/** One POST: its body and where the feed stands once it is acknowledged. */
interface Batch {
  body: string;
  ackedSeq: number;
  partsSent: number;
  completed: SentNotice[];
}

const HASH_BYTES = 32;
// Bytes of one hash in the body: 64 digits, quotes and a comma.
const HASH_JSON_BYTES = 67;
const NOTICE_OVERHEAD_BYTES = 512;
const ROWS_PER_READ = 256;
const MIN_BODY_BYTES = 64 * 1024;

function displayHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).reverse().toString('hex');
}

function packedHashes(packed: Uint8Array): string[] {
  const out: string[] = [];
  for (let at = 0; at + HASH_BYTES <= packed.length; at += HASH_BYTES) {
    out.push(displayHex(packed.subarray(at, at + HASH_BYTES)));
  }
  return out;
}

class ChangeNotifier implements Notifier {
  readonly #o: Required<Omit<NotifierOptions, 'db' | 'dbPath' | 'onSent' | 'log'>> & NotifierOptions;
  readonly #log: NotifierLog;
  #db: Sqlite | null;
  readonly #ownsDb: boolean;
  #acked: number | null = null;
  #partsSent = 0;
  #reset = false;
  #maxBodyBytes: number;
  #failures = 0;
  #closed = false;
  #woken = false;
  #signal: (() => void) | null = null;
  #lastStampedSeq = 0;
  readonly #seenAtMs = new Map<number, number>();
  readonly #abort = new AbortController();
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #loop: Promise<void> = Promise.resolve();

  constructor(options: NotifierOptions) {
    if (options.db === undefined && options.dbPath === undefined) {
      throw new Error('startNotifier needs dbPath or db');
    }
    if (options.secret === '') throw new Error('startNotifier needs the NOTIFY_SECRET');
    this.#o = {
      watchFile: options.dbPath !== undefined,
      checkIntervalMs: 5_000,
      retryBaseMs: 250,
      retryMaxMs: 30_000,
      requestTimeoutMs: 10_000,
      maxBodyBytes: 1024 * 1024,
      ...options,
      url: options.url.replace(/\/+$/, ''),
    };
    this.#log = options.log ?? indexerLog;
    this.#db = options.db ?? null;
    this.#ownsDb = options.db === undefined;
    this.#maxBodyBytes = this.#o.maxBodyBytes;
  }

  start(): void {
    if (this.#o.watchFile && this.#o.dbPath !== undefined) this.#watch(this.#o.dbPath);
    if (this.#o.checkIntervalMs > 0) {
      this.#timer = setInterval(() => this.wake(), this.#o.checkIntervalMs);
      this.#timer.unref();
    }
    this.#loop = this.#run().catch((error: unknown) => {
      this.#log.error('notifier_stopped', { error: error instanceof Error ? error.message : String(error) });
    });
  }

  #watch(dbPath: string): void {
    const name = basename(dbPath);
    try {
      // A commit writes the -wal file (or the file itself in rollback mode).
      this.#watcher = watch(dirname(dbPath), (_event, file) => {
        if (file === null || file.startsWith(name)) this.wake();
      });
      this.#watcher.on('error', (error) => this.#log.warn('notifier_watch_failed', { error: error.message }));
    } catch (error) {
      this.#log.warn('notifier_watch_failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  wake(): void {
    if (this.#closed) return;
    try {
      this.#stampCommits();
    } catch {
      // The file is not readable yet (the indexer is creating it): the loop retries.
    }
    this.#woken = true;
    this.#signal?.();
  }

  ackedSeq(): number | null {
    return this.#acked;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    this.#signal?.();
    this.#watcher?.close();
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#loop;
    if (this.#ownsDb) this.#db?.close();
  }

  // The read connection; null while the index file cannot be opened yet.
  #readDb(): Sqlite | null {
    if (this.#db === null && this.#o.dbPath !== undefined) {
      this.#db = new Database(this.#o.dbPath, { readonly: true, fileMustExist: true });
    }
    // Inside a transaction a shared connection would show rows that are not committed.
    return this.#db === null || this.#db.inTransaction ? null : this.#db;
  }

  // Notes when each new seq was first seen: the commit time notices carry for latency figures.
  #stampCommits(): void {
    const db = this.#readDb();
    if (db === null) return;
    const row = db.prepare('SELECT last_change_seq AS seq FROM chain_state WHERE id = 0').get() as
      | { seq: number }
      | undefined;
    const latest = row?.seq ?? 0;
    const nowMs = Date.now();
    for (let seq = Math.max(this.#lastStampedSeq + 1, latest - ROWS_PER_READ); seq <= latest; seq++) {
      this.#seenAtMs.set(seq, nowMs);
    }
    this.#lastStampedSeq = Math.max(this.#lastStampedSeq, latest);
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      let progressed: boolean;
      try {
        progressed = this.#acked === null ? await this.#resume() : await this.#sendNext();
      } catch (error) {
        this.#failed('notify_read_failed', error);
        progressed = false;
      }
      if (this.#closed) return;
      if (this.#failures > 0) await this.#sleep(this.#retryDelayMs());
      else if (!progressed) await this.#waitForWake();
    }
  }

  #retryDelayMs(): number {
    return Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** Math.min(this.#failures - 1, 20));
  }

  #failed(event: string, error: unknown, fields: LogFields = {}): void {
    this.#failures += 1;
    const message = error instanceof Error ? error.message : String(error);
    const detail = { ...fields, error: message, attempts: this.#failures, retry_ms: this.#retryDelayMs() };
    this.#log.warn(event, detail);
  }

  #succeeded(): void {
    if (this.#failures > 0) this.#log.info('notify_recovered', { attempts: this.#failures });
    this.#failures = 0;
  }

  async #waitForWake(): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return;
    }
    await new Promise<void>((done) => {
      this.#signal = done;
    });
    this.#signal = null;
    this.#woken = false;
  }

  // Backoff sleeps end early only on close: a wake must not turn retries into a busy loop.
  async #sleep(ms: number): Promise<void> {
    await new Promise<void>((done) => {
      const timer = setTimeout(done, ms);
      this.#abort.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        done();
      }, { once: true });
    });
  }

  async #request(method: 'GET' | 'POST', body?: string): Promise<Response> {
    return fetch(`${this.#o.url}/internal/notify`, {
      method,
      body,
      headers: { Authorization: `Bearer ${this.#o.secret}`, 'Content-Type': 'application/json' },
      signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.requestTimeoutMs)]),
    });
  }

  // Asks the Worker where it stands and picks the first row to send. True once decided.
  async #resume(): Promise<boolean> {
    let answer: { seq?: unknown; tip_hash?: unknown };
    try {
      const response = await this.#request('GET');
      if (!response.ok) {
        this.#failed('notify_resume_failed', new Error(`HTTP ${response.status}`), { status: response.status });
        return false;
      }
      answer = (await response.json()) as typeof answer;
    } catch (error) {
      if (!this.#closed) this.#failed('notify_resume_failed', error);
      return false;
    }
    const db = this.#readDb();
    if (db === null) return false;
    this.#succeeded();
    const workerSeq = typeof answer.seq === 'number' ? answer.seq : null;
    const workerTip = typeof answer.tip_hash === 'string' ? answer.tip_hash : null;
    this.#choseStart(db, workerSeq, workerTip);
    return true;
  }

  #choseStart(db: Sqlite, workerSeq: number | null, workerTip: string | null): void {
    const state = db.prepare('SELECT last_change_seq AS seq FROM chain_state WHERE id = 0').get() as
      | { seq: number }
      | undefined;
    const latest = state?.seq ?? 0;
    const row = workerSeq === null ? undefined : (db
      .prepare('SELECT tip_hash FROM changes WHERE seq = ?')
      .get(workerSeq) as { tip_hash: Uint8Array } | undefined);
    const otherIndex =
      workerSeq !== null &&
      (workerSeq > latest || (row !== undefined && workerTip !== null && displayHex(row.tip_hash) !== workerTip));
    // A Worker that never had a notice (or knew another index) needs only the newest row: its
    // sessions read statuses when they subscribe.
    this.#acked = workerSeq === null || otherIndex ? Math.max(0, latest - 1) : workerSeq;
    this.#reset = otherIndex;
    this.#partsSent = 0;
    this.#log.info('notifier_resumed', { worker_seq: workerSeq, from_seq: this.#acked + 1, reset: otherIndex });
  }

  // Sends the next batch of rows. True when it was acknowledged.
  async #sendNext(): Promise<boolean> {
    const db = this.#readDb();
    if (db === null) return false;
    const batch = this.#nextBatch(db);
    if (batch === null) return false;
    const startedMs = Date.now();
    let response: Response;
    try {
      response = await this.#request('POST', batch.body);
      await response.arrayBuffer();
    } catch (error) {
      if (!this.#closed) this.#failed('notify_failed', error, { from_seq: (this.#acked ?? 0) + 1 });
      return false;
    }
    if (!response.ok) return this.#refused(response.status);
    this.#succeeded();
    this.#acked = batch.ackedSeq;
    this.#partsSent = batch.partsSent;
    this.#reset = false;
    for (const sent of batch.completed) {
      this.#seenAtMs.delete(sent.seq);
      this.#log.debug('notify_sent', { seq: sent.seq, height: sent.height, commit_ms: sent.commitMs, ms: Date.now() - startedMs });
    }
    this.#o.onSent?.(batch.completed);
    return true;
  }

  #refused(status: number): boolean {
    if (status === 413 && this.#maxBodyBytes > MIN_BODY_BYTES) {
      this.#maxBodyBytes = Math.max(MIN_BODY_BYTES, Math.floor(this.#maxBodyBytes / 2));
      this.#log.warn('notify_body_too_large', { max_body_bytes: this.#maxBodyBytes });
      return false;
    }
    // 401/403 and 400 are configuration or code faults; they are retried like outages so that
    // fixing the secret or the Worker resumes delivery without losing a row.
    const event = status === 401 || status === 403 ? 'notify_unauthorized' : 'notify_failed';
    this.#failed(event, new Error(`HTTP ${status}`), { status, from_seq: (this.#acked ?? 0) + 1 });
    if (event === 'notify_unauthorized') this.#log.error(event, { status });
    return false;
  }

  #readRows(db: Sqlite, afterSeq: number): ChangeRow[] {
    // The header only when that block is still in the index (a reorg may have replaced it).
    return db
      .prepare(
        'SELECT c.seq, c.height, c.tip_hash, c.hashxes, h.raw FROM changes c ' +
          'LEFT JOIN headers h ON h.height = c.height AND h.hash = c.tip_hash ' +
          'WHERE c.seq > ? ORDER BY c.seq LIMIT ?'
      )
      .all(afterSeq, ROWS_PER_READ) as ChangeRow[];
  }

  // Packs rows after the acknowledged seq into one body of at most maxBodyBytes; a row with too
  // many hashes for one body goes in parts, all but the last marked `more`.
  #nextBatch(db: Sqlite): Batch | null {
    const acked = this.#acked ?? 0;
    const rows = this.#readRows(db, acked);
    if (rows.length === 0) return null;
    const perPart = Math.max(1, Math.floor((this.#maxBodyBytes - NOTICE_OVERHEAD_BYTES) / HASH_JSON_BYTES));
    const items: string[] = [];
    const completed: SentNotice[] = [];
    let bytes = 2;
    let ackedSeq = acked;
    let partsSent = this.#partsSent;
    for (const row of rows) {
      const hashes = packedHashes(row.hashxes);
      const parts = Math.max(1, Math.ceil(hashes.length / perPart));
      const commitMs = this.#seenAtMs.get(row.seq) ?? Date.now();
      for (let part = row.seq === acked + 1 ? this.#partsSent : 0; part < parts; part++) {
        const text = JSON.stringify({
          seq: row.seq,
          height: row.height,
          tip_hash: displayHex(row.tip_hash),
          header_hex: row.raw === null ? null : Buffer.from(row.raw).toString('hex'),
          hashxes: hashes.slice(part * perPart, (part + 1) * perPart),
          commit_ms: commitMs,
          more: part < parts - 1,
          reset: this.#reset && items.length === 0 ? true : undefined,
        });
        if (items.length > 0 && bytes + text.length + 1 > this.#maxBodyBytes) {
          return { body: `[${items.join(',')}]`, ackedSeq, partsSent, completed };
        }
        items.push(text);
        bytes += text.length + 1;
        if (part < parts - 1) {
          partsSent = part + 1;
          continue;
        }
        ackedSeq = row.seq;
        partsSent = 0;
        completed.push({ seq: row.seq, height: row.height, commitMs });
      }
    }
    return { body: `[${items.join(',')}]`, ackedSeq, partsSent, completed };
  }
}

/**
 * Starts pushing the change feed to the Worker. Call `wake()` after every commit; the notifier
 * then reads the new committed rows and sends them. Resolves nothing and never throws on
 * outages: failures are logged and retried with backoff until `close()`.
 */
export function startNotifier(options: NotifierOptions): Notifier {
  const notifier = new ChangeNotifier(options);
  notifier.start();
  return notifier;
}
