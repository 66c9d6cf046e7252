// Streams as the front thread tracks them: single-use batons, idle expiry, the open-stream cap.
import { randomBytes } from 'node:crypto';

/** One open stream. It is pinned to the reader thread that holds its connection. */
export interface StreamEntry {
  readonly key: number;
  readonly reader: number;
  /** The baton that continues the stream; null while a request runs on it. */
  baton: string | null;
  idleSinceMs: number;
}

/** The outcome of presenting a baton; `dropped` is a stream just expired, for its reader to end. */
export type Acquired =
  | { ok: true; entry: StreamEntry }
  | { ok: false; code: 'BATON_INVALID' | 'STREAM_EXPIRED'; dropped: StreamEntry | null };

export interface RegistryOptions {
  idleStreamMs: number;
  maxStreams: number;
  nowMs?: () => number;
  newBaton?: () => string;
}

// An expired stream's last baton is remembered for a while so the client hears "expired" rather
// than "invalid"; the memory of them is bounded in time and count.
const EXPIRED_MEMORY_MS = 5 * 60_000;
const MAX_EXPIRED_REMEMBERED = 10_000;

/**
 * 24 random bytes: the spec asks for unpredictable, unforgeable batons (HTTP_V2_SPEC "Execute
 * requests on a stream"); 192 bits cannot be guessed, so no signature is needed on top.
 */
export function newRandomBaton(): string {
  return randomBytes(24).toString('base64url');
}

/** Open streams by key and by current baton. Each response carries a fresh baton. */
export class StreamRegistry {
  private readonly entries = new Map<number, StreamEntry>();
  private readonly byBaton = new Map<string, StreamEntry>();
  private readonly expired = new Map<string, number>();
  private nextKey = 1;
  private readonly nowMs: () => number;
  private readonly newBaton: () => string;

  constructor(private readonly options: RegistryOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.newBaton = options.newBaton ?? newRandomBaton;
  }

  /** Streams open now, including those with a request running. */
  get openCount(): number {
    return this.entries.size;
  }

  /** Registers a new stream on `reader`, busy with its first request; null at the cap. */
  open(reader: number): StreamEntry | null {
    if (this.entries.size >= this.options.maxStreams) return null;
    const key = this.nextKey++;
    const entry: StreamEntry = { key, reader, baton: null, idleSinceMs: this.nowMs() };
    this.entries.set(entry.key, entry);
    return entry;
  }

  /**
   * Takes the stream a baton continues and marks it busy. The baton is spent at once, so a second
   * request with the same baton (reuse, or a client not waiting for the previous response) fails.
   */
  acquire(baton: string): Acquired {
    const entry = this.byBaton.get(baton);
    if (entry === undefined) {
      const code = this.expired.has(baton) ? 'STREAM_EXPIRED' : 'BATON_INVALID';
      return { ok: false, code, dropped: null };
    }
    if (this.isIdleTooLong(entry, this.nowMs())) {
      this.expire(entry);
      return { ok: false, code: 'STREAM_EXPIRED', dropped: entry };
    }
    this.byBaton.delete(baton);
    entry.baton = null;
    return { ok: true, entry };
  }

  /** Ends a request on the stream; returns the next baton, or null when the stream closed. */
  release(entry: StreamEntry, closed: boolean): string | null {
    if (closed || !this.entries.has(entry.key)) {
      this.entries.delete(entry.key);
      return null;
    }
    const baton = this.newBaton();
    entry.baton = baton;
    entry.idleSinceMs = this.nowMs();
    this.byBaton.set(baton, entry);
    return baton;
  }

  /** Forgets a stream without a new baton (its reader failed or lost it). */
  discard(entry: StreamEntry): void {
    this.entries.delete(entry.key);
    if (entry.baton !== null) this.byBaton.delete(entry.baton);
  }

  /** Forgets every stream of a reader thread that died. */
  forgetReader(reader: number): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.reader === reader) this.discard(entry);
    }
  }

  /** Expires idle streams; returns them so their readers can roll back and free them. */
  expireIdle(): StreamEntry[] {
    const now = this.nowMs();
    const dropped = [...this.entries.values()].filter((e) => this.isIdleTooLong(e, now));
    for (const entry of dropped) this.expire(entry);
    for (const [baton, atMs] of this.expired) {
      if (now - atMs < EXPIRED_MEMORY_MS) break;
      this.expired.delete(baton);
    }
    return dropped;
  }

  /** Every open stream, emptying the registry (server shutdown). */
  drain(): StreamEntry[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    this.byBaton.clear();
    return all;
  }

  // A stream with a request running is never idle, however long the request takes.
  private isIdleTooLong(entry: StreamEntry, now: number): boolean {
    return entry.baton !== null && now - entry.idleSinceMs >= this.options.idleStreamMs;
  }

  private expire(entry: StreamEntry): void {
    this.discard(entry);
    if (entry.baton === null) return;
    this.expired.set(entry.baton, this.nowMs());
    if (this.expired.size > MAX_EXPIRED_REMEMBERED) {
      const oldest = this.expired.keys().next();
      if (oldest.done !== true) this.expired.delete(oldest.value);
    }
  }
}
