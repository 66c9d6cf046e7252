// The front thread's handle on its reader threads: dispatch, load counts, restarts, stuck reads.
import type { Worker } from 'node:worker_threads';
import { HRANA_CODES } from './errors.ts';
import { HttpError } from './http-io.ts';
import type {
  FrontToReader,
  LogMessage,
  ReaderConfig,
  ReaderReply,
  ReaderToFront,
  StreamWork,
} from './messages.ts';
import { spawnModuleThread } from '../thread-spawn.ts';

interface Pending {
  slot: number;
  startedMs: number;
  resolve(reply: ReaderReply): void;
  reject(error: Error): void;
}

/** A reader position; `worker` is null while its thread (re)starts. */
interface Slot {
  worker: Worker | null;
  busy: number;
}

export interface PoolHooks {
  log(message: LogMessage): void;
  /** A reader died or was retired; its streams are gone and must be forgotten. */
  readerLost(slot: number): void;
}

const READER_MODULE = new URL('./reader-thread.ts', import.meta.url);
const START_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;

function startReader(config: ReaderConfig): Promise<Worker> {
  const worker = spawnModuleThread(READER_MODULE, config);
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      clearTimeout(timer);
      void worker.terminate();
      reject(error);
    };
    const late = (): void => fail(new Error('reader did not start in time'));
    const timer = setTimeout(late, START_TIMEOUT_MS);
    worker.once('error', fail);
    worker.on('message', function first(message: ReaderToFront) {
      if (message.kind !== 'ready' && message.kind !== 'failed') return;
      worker.off('message', first);
      worker.off('error', fail);
      clearTimeout(timer);
      if (message.kind === 'ready') resolve(worker);
      else fail(new Error(message.message));
    });
  });
}

/**
 * Reader threads plus the requests each one is working on. better-sqlite3 cannot interrupt a
 * statement (it exposes neither sqlite3_interrupt nor a progress handler), so a read running past
 * `stuckReadMs` is given up: its thread is taken out of rotation and terminated, which takes
 * effect once control returns to JavaScript, and a fresh reader takes its slot.
 * TODO(someday): until then the abandoned statement keeps a core busy; only an interruptible
 * driver would stop it.
 */
export class ReaderPool {
  private readonly slots: Slot[];
  private readonly pending = new Map<number, Pending>();
  private readonly retired = new WeakSet<Worker>();
  private readonly watchdog: NodeJS.Timeout;
  private nextId = 1;
  private closing = false;

  private constructor(
    private readonly configs: ReaderConfig[],
    private readonly stuckReadMs: number,
    private readonly hooks: PoolHooks
  ) {
    this.slots = configs.map(() => ({ worker: null, busy: 0 }));
    const everyMs = Math.max(10, Math.min(1_000, Math.floor(stuckReadMs / 4)));
    this.watchdog = setInterval(() => this.retireStuck(), everyMs);
  }

  /** Starts one reader per config; fails if any of them cannot open the index. */
  static async start(
    configs: ReaderConfig[],
    stuckReadMs: number,
    hooks: PoolHooks
  ): Promise<ReaderPool> {
    const started = await Promise.allSettled(configs.map((config) => startReader(config)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.terminate() : 0)));
      throw failed.reason;
    }
    const pool = new ReaderPool(configs, stuckReadMs, hooks);
    started.forEach((s, slot) => {
      if (s.status === 'fulfilled') pool.attach(slot, s.value);
    });
    return pool;
  }

  /** The running reader with the fewest requests in flight, for a new stream. */
  leastBusy(): number {
    let best = 0;
    let bestBusy = Infinity;
    this.slots.forEach((slot, i) => {
      if (slot.worker !== null && slot.busy < bestBusy) [best, bestBusy] = [i, slot.busy];
    });
    return best;
  }

  /** Sends work to a reader and waits for its reply. */
  run(slotIndex: number, work: StreamWork): Promise<ReaderReply> {
    const slot = this.slots[slotIndex];
    const worker = slot?.worker ?? null;
    if (slot === undefined || worker === null) {
      return Promise.reject(new Error(`reader ${slotIndex} is not running`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { slot: slotIndex, startedMs: Date.now(), resolve, reject });
      slot.busy++;
      worker.postMessage({ ...work, id } satisfies FrontToReader);
    });
  }

  /** Ends a stream on its reader (expiry): its transaction is rolled back, its connection kept. */
  drop(slotIndex: number, streamKey: number): void {
    this.slots[slotIndex]?.worker?.postMessage({ kind: 'drop', streamKey } satisfies FrontToReader);
  }

  /** Closes every reader's connections and waits for the threads to end. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.watchdog);
    const workers = this.slots.flatMap((slot) => (slot.worker === null ? [] : [slot.worker]));
    await Promise.all(workers.map((worker) => closeWorker(worker)));
  }

  private attach(slotIndex: number, worker: Worker): void {
    const slot = this.slots[slotIndex];
    if (slot === undefined) return;
    slot.worker = worker;
    slot.busy = 0;
    worker.on('message', (message: ReaderToFront) => this.onMessage(message));
    worker.on('error', (error) => {
      this.logError('index_reader_crashed', { reader: slotIndex, detail: error.message });
    });
    worker.on('exit', () => {
      if (!this.retired.has(worker) && !this.closing) this.replace(slotIndex, 'exited');
    });
  }

  private onMessage(message: ReaderToFront): void {
    if (message.kind === 'log') return this.hooks.log(message);
    if (message.kind !== 'reply' && message.kind !== 'lost') return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    const slot = this.slots[pending.slot];
    if (slot !== undefined) slot.busy = Math.max(0, slot.busy - 1);
    pending.resolve(message);
  }

  private retireStuck(): void {
    const nowMs = Date.now();
    const stuck = new Set<number>();
    for (const pending of this.pending.values()) {
      if (nowMs - pending.startedMs > this.stuckReadMs) stuck.add(pending.slot);
    }
    for (const slotIndex of stuck) this.replace(slotIndex, 'stuck');
  }

  // Takes a reader out of rotation: its requests fail, its streams are forgotten, and a new
  // reader starts in its place so the pool keeps its size.
  private replace(slotIndex: number, why: 'exited' | 'stuck'): void {
    const slot = this.slots[slotIndex];
    const config = this.configs[slotIndex];
    const old = slot?.worker ?? null;
    if (slot === undefined || old === null || config === undefined) return;
    this.retired.add(old);
    slot.worker = null;
    slot.busy = 0;
    const { stuckReadMs } = this;
    this.logError('index_reader_replaced', { reader: slotIndex, why, stuckReadMs });
    this.failPending(slotIndex, why);
    this.hooks.readerLost(slotIndex);
    void old.terminate();
    startReader(config).then(
      (worker) => (this.closing ? void worker.terminate() : this.attach(slotIndex, worker)),
      (error: unknown) => {
        const detail = error instanceof Error ? error.message : String(error);
        this.logError('index_reader_restart_failed', { reader: slotIndex, detail });
      }
    );
  }

  private failPending(slotIndex: number, why: 'exited' | 'stuck'): void {
    const message = `the read ran over ${this.stuckReadMs} ms and was abandoned`;
    const error =
      why === 'stuck'
        ? new HttpError(503, HRANA_CODES.READ_TIMEOUT, message)
        : new Error(`reader ${slotIndex} exited`);
    for (const [id, pending] of this.pending) {
      if (pending.slot !== slotIndex) continue;
      this.pending.delete(id);
      pending.reject(error);
    }
  }

  private logError(event: string, fields: Record<string, unknown>): void {
    this.hooks.log({ kind: 'log', level: 'error', event, fields });
  }
}

// Asks a reader to close its connections and exit; one that does not in time is terminated.
async function closeWorker(worker: Worker): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage({ kind: 'close' } satisfies FrontToReader);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => void worker.terminate().then(() => resolve()), CLOSE_TIMEOUT_MS);
  });
  await Promise.race([exited, late]);
  clearTimeout(timer);
}
