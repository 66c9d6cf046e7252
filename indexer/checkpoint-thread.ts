// WAL checkpoints on a thread of their own, so copying pages into the index file and the fsync
// that ends each checkpoint never stall the thread that writes blocks.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { IndexDb } from './db.ts';
import { log } from './log.ts';

// Plain JavaScript, so the thread needs no TypeScript loader (a tsx thread costs ~30 MB of RSS).
// PASSIVE copies what it can without waiting for the writer or readers; the writer's next commit
// then starts the WAL over from its beginning when everything was copied (SQLite wal.c).
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
parentPort.on('message', () => {
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, row });
  } catch (error) {
    parentPort.postMessage({ ok: false, message: String(error && error.message) });
  }
});
`;

/**
 * A safety net for when checkpoints fall behind (pages): past this the writer checkpoints the WAL
 * itself on commit, as SQLite does by default at 1000 pages.
 */
export const WRITER_AUTOCHECKPOINT_PAGES = 262_144;
/** SQLite's default wal_autocheckpoint, restored when the thread stops. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
const IDLE_CHECKPOINT_MS = 2_000;

/**
 * Runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection in a worker thread after each commit
 * it hears of (and every two seconds, for commits it does not hear of: mempool, reorgs), one at a
 * time. Crash safety is SQLite's: a checkpoint only copies committed pages.
 */
export class BackgroundCheckpointer {
  private readonly db: IndexDb;
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private again = false;
  private failed = false;

  private constructor(db: IndexDb, worker: Worker) {
    this.db = db;
    this.worker = worker;
    worker.unref();
    worker.on('message', (reply: { ok: boolean; message?: string }) => this.done(reply));
    worker.on('error', (error) => this.fail(error.message));
    this.timer = setInterval(() => this.request(), IDLE_CHECKPOINT_MS);
    this.timer.unref();
  }

  /**
   * Starts checkpointing `db`'s file and raises the writer's own autocheckpoint threshold; null
   * for a database without a file.
   */
  static start(db: IndexDb): BackgroundCheckpointer | null {
    if (db.sqlite.memory) return null;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const workerData = { driver, path: db.sqlite.name };
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData });
    db.sqlite.pragma(`wal_autocheckpoint = ${WRITER_AUTOCHECKPOINT_PAGES}`);
    return new BackgroundCheckpointer(db, worker);
  }

  /** A commit happened: checkpoint now, or right after the checkpoint under way. */
  request(): void {
    if (this.failed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.worker.postMessage('checkpoint');
  }

  /** Stops the thread; the writer checkpoints by itself again. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.restoreWriterCheckpoints();
    await this.worker.terminate();
  }

  private restoreWriterCheckpoints(): void {
    if (this.db.sqlite.open) {
      this.db.sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    }
  }

  private done(reply: { ok: boolean; message?: string }): void {
    this.running = false;
    if (!reply.ok) {
      // Busy or locked now: the next request tries again.
      log.debug('checkpoint_skipped', { error: reply.message ?? '' });
    }
    if (this.again) {
      this.again = false;
      this.request();
    }
  }

  // Without the thread the writer checkpoints on commit again, as SQLite does by default.
  private fail(message: string): void {
    this.failed = true;
    this.restoreWriterCheckpoints();
    log.warn('checkpoint_thread_failed', { error: message });
  }
}
