// A full disk under the index: writers pause with one error line, retry with backoff, and resume
// with one info line once SQLite can write again. Nothing half-written stays: SQLite rolls the
// transaction back when it reports SQLITE_FULL.
import type { IndexDb } from './db.ts';
import { log } from './log.ts';

/** Backoff of the retries while the disk is full. */
export interface DiskSpaceRetry {
  firstRetryMs: number;
  maxRetryMs: number;
}

const DEFAULT_RETRY: DiskSpaceRetry = { firstRetryMs: 1_000, maxRetryMs: 30_000 };

/**
 * True for SQLite's "database or disk is full" (SQLITE_FULL): no space left on the device, or
 * the connection's max_page_count reached. SQLite maps ENOSPC on write to this code.
 */
export function isDiskFull(error: unknown): boolean {
  return (
    error instanceof Error &&
    'code' in error &&
    (error as { code: unknown }).code === 'SQLITE_FULL'
  );
}

/** The state of the index's disk as its writers (sync, mempool) see it; one per connection. */
export class DiskSpaceWatch {
  private readonly retry: DiskSpaceRetry;
  private delayMs: number;
  private fullSinceMs: number | null = null;

  constructor(retry: DiskSpaceRetry = DEFAULT_RETRY) {
    this.retry = retry;
    this.delayMs = retry.firstRetryMs;
  }

  get full(): boolean {
    return this.fullSinceMs !== null;
  }

  /**
   * Records a write that failed with SQLITE_FULL; logs only when the disk was fine until now.
   * Returns how long the writer should wait before it tries again.
   */
  reportFull(writer: string, error: Error): number {
    const waitMs = this.delayMs;
    if (this.fullSinceMs === null) {
      this.fullSinceMs = Date.now();
      log.error('disk_full', {
        writer,
        error: error.message,
        retry_ms: waitMs,
        action: 'index writes paused; free disk space and the indexer resumes by itself',
      });
    }
    this.delayMs = Math.min(this.delayMs * 2, this.retry.maxRetryMs);
    return waitMs;
  }

  /** Records a write that went through; logs once when it ends a full-disk pause. */
  reportWritten(writer: string): void {
    if (this.fullSinceMs === null) return;
    log.info('disk_space_available', { writer, paused_ms: Date.now() - this.fullSinceMs });
    this.fullSinceMs = null;
    this.delayMs = this.retry.firstRetryMs;
  }
}

const watches = new WeakMap<IndexDb, DiskSpaceWatch>();

/** The watch shared by every writer of `db`, so a full disk is reported once, not per writer. */
export function diskSpaceWatch(db: IndexDb): DiskSpaceWatch {
  let watch = watches.get(db);
  if (watch === undefined) {
    watch = new DiskSpaceWatch();
    watches.set(db, watch);
  }
  return watch;
}

/** Sets the retry backoff of `db`'s watch (tests use milliseconds); call before writing. */
export function setDiskSpaceRetry(db: IndexDb, retry: DiskSpaceRetry): void {
  watches.set(db, new DiskSpaceWatch(retry));
}
