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
  /** Also wake on writes to the index file by any process (default: when dbPath is given). */
  watchFile?: boolean;
  /** Look for new rows this often without a wake, a safety net (default 5000 ms; 0 = never). */
  checkIntervalMs?: number;
  /** First retry delay (default 250 ms); doubles per failure up to retryMaxMs (default 30 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** Largest POST body (default 1 MiB; the Worker takes up to 4 MiB). */
  maxBodyBytes?: number;
  /**
   * Longest a reorg's hold (chain_state.notices_held_after, indexer/notice-hold.ts) keeps rows
   * back; past it they go anyway, with a warning (default 30 s).
   */
  maxHoldMs?: number;
  /** Called after each acknowledged POST with the rows it completed (benchmarks, tests). */
  onSent?: (sent: SentNotice[]) => void;
  /**
   * The newest seq the Worker's index can show (with a remote DB_URL, what the remote holds);
   * rows after it wait, so no notice names a commit the Worker cannot read yet. Default: every
   * committed row.
   */
  visibleSeq?: () => number;
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

/** A change row as sent: display-hex hashes with their current cached statuses. */
interface ReadRow extends ChangeRow {
  hashHexes: string[];
  statuses: (string | null)[];
}

/** One POST: its body and where the feed stands once it is acknowledged. */
interface Batch {
  body: string;
  ackedSeq: number;
  partsSent: number;
  completed: SentNotice[];
}

const HASH_BYTES = 32;
// Bytes of one hash and its status in the body: two times 64 digits, quotes and a comma.
const HASH_JSON_BYTES = 134;
const NOTICE_OVERHEAD_BYTES = 512;
const ROWS_PER_READ = 256;
const MIN_BODY_BYTES = 64 * 1024;

function displayHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).reverse().toString('hex');
}

function latestSeq(db: Sqlite): number {
  const row = db.prepare('SELECT last_change_seq AS seq FROM chain_state WHERE id = 0').get() as
    | { seq: number }
    | undefined;
  return row?.seq ?? 0;
}

function splitHashes(packed: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at + HASH_BYTES <= packed.length; at += HASH_BYTES) {
    out.push(packed.subarray(at, at + HASH_BYTES));
  }
  return out;
}

type Settings = Required<Omit<NotifierOptions, 'db' | 'dbPath' | 'onSent' | 'log' | 'visibleSeq'>>;

function settingsOf(options: NotifierOptions): Settings {
  return {
    url: options.url.replace(/\/+$/, ''),
    secret: options.secret,
    watchFile: options.watchFile ?? options.dbPath !== undefined,
    checkIntervalMs: options.checkIntervalMs ?? 5_000,
    retryBaseMs: options.retryBaseMs ?? 250,
    retryMaxMs: options.retryMaxMs ?? 30_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    maxHoldMs: options.maxHoldMs ?? 30_000,
  };
}

// fetch's own message is "fetch failed"; what failed is in its cause (ECONNREFUSED and so on).
function message(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

class ChangeNotifier implements Notifier {
  readonly #options: NotifierOptions;
  readonly #o: Settings;
  readonly #log: NotifierLog;
  #db: Sqlite | null;
  readonly #ownsDb: boolean;
  #acked: number | null = null;
  #partsSent = 0;
  #reset = false;
  #maxBodyBytes: number;
  #failures = 0;
  #lastFailure = '';
  #closed = false;
  #woken = false;
  #signal: (() => void) | null = null;
  #lastStampedSeq: number | null = null;
  readonly #seenAtMs = new Map<number, number>();
  readonly #abort = new AbortController();
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  // The hold the index last showed, and since when this notifier has seen it.
  #hold: { after: number; sinceMs: number; overdue: boolean } | null = null;
  #holdTimer: NodeJS.Timeout | null = null;
  #loop: Promise<void> = Promise.resolve();

  constructor(options: NotifierOptions) {
    if (options.db === undefined && options.dbPath === undefined) {
      throw new Error('startNotifier needs dbPath or db');
    }
    if (options.secret === '') throw new Error('startNotifier needs the NOTIFY_SECRET');
    this.#options = options;
    this.#o = settingsOf(options);
    this.#log = options.log ?? indexerLog;
    this.#db = options.db ?? null;
    this.#ownsDb = options.db === undefined;
    this.#maxBodyBytes = this.#o.maxBodyBytes;
  }

  start(): void {
    const { dbPath } = this.#options;
    if (this.#o.watchFile && dbPath !== undefined) this.#watch(dbPath);
    if (this.#o.checkIntervalMs > 0) {
      this.#timer = setInterval(() => this.wake(), this.#o.checkIntervalMs);
      this.#timer.unref();
    }
    this.#loop = this.#run().catch((error: unknown) => {
      this.#log.error('notifier_stopped', { error: message(error) });
    });
  }

  #watch(dbPath: string): void {
    // A commit writes the -wal file (the file itself, or its journal, in rollback mode); -shm
    // changes come from readers too, this one included, so they are not a sign of a commit.
    const name = basename(dbPath);
    const written = new Set([name, `${name}-wal`, `${name}-journal`]);
    try {
      this.#watcher = watch(dirname(dbPath), (_event, file) => {
        if (file === null || written.has(file)) this.wake();
      });
      this.#watcher.on('error', (error) => {
        this.#log.warn('notifier_watch_failed', { error: error.message });
      });
    } catch (error) {
      this.#log.warn('notifier_watch_failed', { error: message(error) });
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
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#signal?.();
    this.#watcher?.close();
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#holdTimer !== null) clearTimeout(this.#holdTimer);
    await this.#loop;
    if (this.#ownsDb) this.#db?.close();
  }

  // The read connection; null while the index file cannot be opened yet.
  // The newest seq the Worker can read (NotifierOptions.visibleSeq).
  #visibleSeq(): number {
    return this.#options.visibleSeq?.() ?? Number.MAX_SAFE_INTEGER;
  }

  #readDb(): Sqlite | null {
    const { dbPath } = this.#options;
    if (this.#db === null && dbPath !== undefined) {
      this.#db = new Database(dbPath, { readonly: true, fileMustExist: true });
    }
    // Inside a transaction a shared connection would show rows that are not committed.
    return this.#db === null || this.#db.inTransaction ? null : this.#db;
  }

  // Notes when each new seq was first seen: the commit time notices carry for latency figures.
  // Rows committed before the notifier started get no stamp.
  #stampCommits(): void {
    const db = this.#readDb();
    if (db === null) return;
    const latest = latestSeq(db);
    const nowMs = Date.now();
    const from = Math.max((this.#lastStampedSeq ?? latest) + 1, latest - ROWS_PER_READ);
    for (let seq = from; seq <= latest; seq++) this.#seenAtMs.set(seq, nowMs);
    this.#lastStampedSeq = Math.max(this.#lastStampedSeq ?? latest, latest);
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
    const doublings = Math.min(this.#failures - 1, 20);
    return Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** doublings);
  }

  // Logged when the complaint changes, not on every retry: the Worker can be away for hours.
  #failed(event: string, error: unknown, fields: LogFields = {}, level: 'warn' | 'error' = 'warn') {
    this.#failures += 1;
    const reason = `${event}: ${message(error)}`;
    if (reason === this.#lastFailure) return;
    this.#lastFailure = reason;
    const detail = { ...fields, url: this.#o.url, error: message(error), attempts: this.#failures };
    this.#log[level](event, { ...detail, retry_ms: this.#retryDelayMs() });
  }

  #succeeded(): void {
    if (this.#failures > 0) this.#log.info('notify_recovered', { attempts: this.#failures });
    this.#failures = 0;
    this.#lastFailure = '';
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
    const { signal } = this.#abort;
    await new Promise<void>((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        done();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
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
        const { status } = response;
        const problem = refusalMessage(status, await response.text().catch(() => ''));
        this.#failed('notify_resume_failed', new Error(problem), { status });
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
    const latest = Math.min(latestSeq(db), this.#visibleSeq());
    const row =
      workerSeq === null
        ? undefined
        : (db.prepare('SELECT tip_hash FROM changes WHERE seq = ?').get(workerSeq) as
            | { tip_hash: Uint8Array }
            | undefined);
    const tipDiffers =
      row !== undefined && workerTip !== null && displayHex(row.tip_hash) !== workerTip;
    const otherIndex = workerSeq !== null && (workerSeq > latest || tipDiffers);
    // A Worker that never had a notice (or knew another index) needs only the newest row: its
    // sessions read statuses when they subscribe.
    this.#acked = workerSeq === null || otherIndex ? Math.max(0, latest - 1) : workerSeq;
    this.#reset = otherIndex;
    this.#partsSent = 0;
    const fields = { worker_seq: workerSeq, from_seq: this.#acked + 1, reset: otherIndex };
    this.#log.info('notifier_resumed', fields);
  }

  // Sends the next batch of rows. True when it was acknowledged.
  async #sendNext(): Promise<boolean> {
    const db = this.#readDb();
    if (db === null) return false;
    const batch = this.#nextBatch(db);
    if (batch === null) return false;
    const startedMs = Date.now();
    let response: Response;
    let answer: string;
    try {
      response = await this.#request('POST', batch.body);
      answer = await response.text();
    } catch (error) {
      if (!this.#closed) this.#failed('notify_failed', error, { from_seq: (this.#acked ?? 0) + 1 });
      return false;
    }
    if (!response.ok) return this.#refused(response.status, answer);
    this.#succeeded();
    this.#acked = batch.ackedSeq;
    this.#partsSent = batch.partsSent;
    this.#reset = false;
    const ms = Date.now() - startedMs;
    for (const seq of this.#seenAtMs.keys()) if (seq <= batch.ackedSeq) this.#seenAtMs.delete(seq);
    for (const sent of batch.completed) {
      // post_lag_ms: from the commit to the POST; ms: the POST until the Worker's answer.
      const postLagMs = startedMs - sent.commitMs;
      const fields = { seq: sent.seq, height: sent.height, commit_ms: sent.commitMs };
      this.#log.debug('notify_sent', { ...fields, post_lag_ms: postLagMs, ms });
    }
    this.#options.onSent?.(batch.completed);
    return true;
  }

  // A refused POST. True when it can be sent again at once (smaller), false to back off.
  #refused(status: number, answer: string): boolean {
    if (status === 413 && this.#maxBodyBytes > MIN_BODY_BYTES) {
      this.#maxBodyBytes = Math.max(MIN_BODY_BYTES, Math.floor(this.#maxBodyBytes / 2));
      this.#log.warn('notify_body_too_large', { max_body_bytes: this.#maxBodyBytes });
      return true;
    }
    // 401/403 and 400 are configuration or code faults; they are retried like outages so that
    // fixing the secret or the Worker resumes delivery without losing a row.
    const unauthorized = status === 401 || status === 403;
    const fields = { status, from_seq: (this.#acked ?? 0) + 1 };
    const event = unauthorized ? 'notify_unauthorized' : 'notify_failed';
    const problem = refusalMessage(status, answer);
    this.#failed(event, new Error(problem), fields, unauthorized ? 'error' : 'warn');
    return false;
  }

  // Rows after `afterSeq` with the current status of each hash, all from one snapshot. Sending
  // the statuses spares the Worker an index read per notice (the status cache, core/schema.ts).
  #readRows(db: Sqlite, afterSeq: number): ReadRow[] {
    const readStatus = db.prepare('SELECT status FROM status WHERE hashx = ?').pluck();
    const readHold = db.prepare('SELECT notices_held_after FROM chain_state WHERE id = 0').pluck();
    const read = db.transaction((): ReadRow[] => {
      const held = (readHold.get() as number | null | undefined) ?? null;
      const upToSeq = Math.min(this.#visibleSeq(), this.#holdBound(held));
      // The header only when that block is still in the index (a reorg may have replaced it).
      const rows = db
        .prepare(
          'SELECT c.seq, c.height, c.tip_hash, c.hashxes, h.raw FROM changes c ' +
            'LEFT JOIN headers h ON h.height = c.height AND h.hash = c.tip_hash ' +
            'WHERE c.seq > ? AND c.seq <= ? ORDER BY c.seq LIMIT ?'
        )
        .all(afterSeq, upToSeq, ROWS_PER_READ) as ChangeRow[];
      return rows.map((row) => {
        const hashes = splitHashes(row.hashxes);
        const statuses = hashes.map((hashx) => {
          const status = (readStatus.get(hashx) as Uint8Array | null | undefined) ?? null;
          return status === null ? null : Buffer.from(status).toString('hex');
        });
        return { ...row, hashHexes: hashes.map(displayHex), statuses };
      });
    });
    return read();
  }

  // The next batch after the acknowledged seq, or null when there is none or it must wait.
  #nextBatch(db: Sqlite): Batch | null {
    const acked = this.#acked ?? 0;
    const rows = this.#readRows(db, acked);
    if (rows.length === 0) return null;
    return packBatch(rows, {
      acked,
      partsSent: this.#partsSent,
      maxBodyBytes: this.#maxBodyBytes,
      reset: this.#reset,
      commitMsOf: (seq) => this.#seenAtMs.get(seq) ?? Date.now(),
    });
  }

  // The newest seq a reorg's hold lets out: `held` while it lasts, everything once it ends or
  // has lasted maxHoldMs (a hold that never ends must not silence the feed).
  #holdBound(held: number | null): number {
    if (held === null) {
      this.#hold = null;
      return Number.MAX_SAFE_INTEGER;
    }
    const nowMs = Date.now();
    if (this.#hold?.after !== held) {
      this.#hold = { after: held, sinceMs: nowMs, overdue: false };
      this.#log.debug('notices_held', { after_seq: held });
    }
    const hold = this.#hold;
    const dueMs = hold.sinceMs + this.#o.maxHoldMs;
    if (nowMs >= dueMs) {
      if (!hold.overdue) {
        hold.overdue = true;
        this.#log.warn('notices_hold_overdue', { after_seq: held, held_ms: nowMs - hold.sinceMs });
      }
      return Number.MAX_SAFE_INTEGER;
    }
    if (this.#holdTimer === null) {
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = null;
        this.wake();
      }, dueMs - nowMs);
    }
    return held;
  }
}

/** Where packing starts and how much one body may hold. */
interface PackState {
  acked: number;
  /** Parts of row acked + 1 the Worker already has. */
  partsSent: number;
  maxBodyBytes: number;
  /** Mark the first notice `reset` (the Worker knew another index). */
  reset: boolean;
  commitMsOf: (seq: number) => number;
}

/**
 * Packs rows into one body of at most maxBodyBytes (snake_case notices, worker/notify-wire.ts);
 * a row with too many hashes for one body goes in parts, all but the last marked `more`.
 */
function packBatch(rows: ReadRow[], state: PackState): Batch {
  const hashBudgetBytes = state.maxBodyBytes - NOTICE_OVERHEAD_BYTES;
  const perPart = Math.max(1, Math.floor(hashBudgetBytes / HASH_JSON_BYTES));
  const items: string[] = [];
  const { acked: ackedSeq, partsSent } = state;
  const batch: Batch = { body: '', ackedSeq, partsSent, completed: [] };
  let bytes = 2;
  for (const row of rows) {
    const hashes = row.hashHexes;
    const parts = Math.max(1, Math.ceil(hashes.length / perPart));
    const commitMs = state.commitMsOf(row.seq);
    for (let part = row.seq === state.acked + 1 ? state.partsSent : 0; part < parts; part++) {
      const text = JSON.stringify({
        seq: row.seq,
        height: row.height,
        tip_hash: displayHex(row.tip_hash),
        header_hex: row.raw === null ? null : Buffer.from(row.raw).toString('hex'),
        hashxes: hashes.slice(part * perPart, (part + 1) * perPart),
        statuses: row.statuses.slice(part * perPart, (part + 1) * perPart),
        commit_ms: commitMs,
        more: part < parts - 1,
        reset: state.reset && items.length === 0 ? true : undefined,
      });
      if (items.length > 0 && bytes + text.length + 1 > state.maxBodyBytes) {
        return { ...batch, body: `[${items.join(',')}]` };
      }
      items.push(text);
      bytes += text.length + 1;
      const final = part === parts - 1;
      batch.ackedSeq = final ? row.seq : batch.ackedSeq;
      batch.partsSent = final ? 0 : part + 1;
      if (final) batch.completed.push({ seq: row.seq, height: row.height, commitMs });
    }
  }
  return { ...batch, body: `[${items.join(',')}]` };
}

/**
 * Starts pushing the change feed to the Worker. Call `wake()` after every commit; the notifier
 * then reads the new committed rows and sends them. Resolves nothing and never throws on
 * outages: failures are logged and retried with backoff until `close()`.
 */
/**
 * "HTTP <status>: <why>", the why being the Worker's `error` (e.g. "notifications are not
 * configured": it has no NOTIFY_SECRET) or the first line of another answer, cut short; for a
 * refused secret, what to check.
 */
function refusalMessage(status: number, answer: string): string {
  let said = answer.trim().split('\n', 1)[0]?.slice(0, 200) ?? '';
  try {
    const parsed: unknown = JSON.parse(answer);
    if (typeof parsed === 'object' && parsed !== null) {
      const { error } = parsed as { error?: unknown };
      said = typeof error === 'string' ? error.slice(0, 200) : '';
    }
  } catch {
    // Not JSON (a proxy's page): its first line stands.
  }
  const text = said === '' ? `HTTP ${status}` : `HTTP ${status}: ${said}`;
  if (status !== 401 && status !== 403) return text;
  return `${text} (check that NOTIFY_SECRET is the Worker's NOTIFY_SECRET)`;
}

export function startNotifier(options: NotifierOptions): Notifier {
  const notifier = new ChangeNotifier(options);
  notifier.start();
  return notifier;
}
