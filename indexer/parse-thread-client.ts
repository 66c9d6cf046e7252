// The main thread's side of block preparation: jobs to the parse thread, replies back in order.
import type { ResourceLimits, Worker } from 'node:worker_threads';
import type { Coin } from '../core/coins.ts';
import type { PreparedBlock } from './block-prep.ts';
import { BlockError } from './block-verify.ts';
import { DaemonRpcError, type Daemon } from './daemon.ts';
import { spawnModuleThread } from './thread-spawn.ts';
import { runParseJob, type ParseJob, type ParseReply } from './parse-job.ts';
import type { ParseThreadData } from './parse-thread.ts';

const THREAD_MODULE = new URL('./parse-thread.ts', import.meta.url);
// The thread holds a few blocks at a time and makes only short-lived garbage: a young generation
// smaller than V8's default keeps its share of the process's RSS down (DESIGN §8: < 500 MB).
const THREAD_LIMITS: ResourceLimits = {
  maxYoungGenerationSizeMb: 16,
};

/** Starts the parse thread (bundled when TypeScript, see thread-spawn.ts). */
function startParseThread(data: ParseThreadData): Worker {
  return spawnModuleThread(THREAD_MODULE, data, { resourceLimits: THREAD_LIMITS });
}

/**
 * getblock <hash> 0 for each hash, as the node's hex: decoding waits for the parse thread, so the
 * main thread only reads the JSON. A missing block is a DaemonRpcError, as with Daemon.blocks.
 */
export async function fetchBlockHexes(daemon: Daemon, hashes: string[]): Promise<string[]> {
  const calls = hashes.map((hash) => ({ method: 'getblock', params: [hash, 0] }));
  // The same shape check as Daemon.blocks; non-hex characters are found while decoding.
  const accept = (result: unknown): boolean =>
    typeof result === 'string' && result.length > 0 && result.length % 2 === 0;
  const replies = await daemon.batch(calls, accept);
  return replies.map((reply) => {
    if (reply instanceof DaemonRpcError) throw reply;
    return String(reply);
  });
}

interface Waiting {
  height: number;
  hashHex: string;
  resolve(block: PreparedBlock): void;
  reject(error: Error): void;
}

/**
 * Prepares blocks (hex decode, parse, txids, merkle check, script hashes) on a worker thread, so
 * that with two cores the SQLite writes on the main thread never wait for hashing; or inline,
 * when `threaded` is false. The thread starts on first use and keeps the process alive only while
 * a job is out.
 */
export class BlockParser {
  private readonly coin: Coin;
  private readonly threaded: boolean;
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;

  constructor(coin: Coin, threaded: boolean) {
    this.coin = coin;
    this.threaded = threaded;
  }

  /**
   * The prepared block. Rejects with BlockError (invalid block), DaemonRpcError (the node's
   * answer is not hex) or Error (the thread failed).
   */
  parse(hex: string, height: number, hashHex: string): Promise<PreparedBlock> {
    const job: ParseJob = { id: this.nextId++, height, hashHex, hex };
    if (!this.threaded) {
      try {
        return Promise.resolve(settle(runParseJob(job, this.coin), height, hashHex));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return new Promise((resolve, reject) => {
      const worker = this.thread();
      // Referenced while a job is out, so the process waits for its reply; idle, it never keeps
      // the process alive.
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(job.id, { height, hashHex, resolve, reject });
      worker.postMessage(job);
    });
  }

  /** Stops the thread; pending jobs reject. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.failAll(new Error('block parser closed'));
    if (worker !== null) await worker.terminate();
  }

  private thread(): Worker {
    if (this.worker !== null) return this.worker;
    const data: ParseThreadData = { coin: this.coin.name, net: this.coin.net };
    const worker = startParseThread(data);
    worker.unref();
    worker.on('message', (reply: ParseReply) => this.onReply(reply));
    worker.on('error', (error) => this.lost(worker, error));
    worker.on('exit', (code) => this.lost(worker, new Error(`parse thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private onReply(reply: ParseReply): void {
    const waiting = this.waiting.get(reply.id);
    if (waiting === undefined) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker?.unref();
    try {
      waiting.resolve(settle(reply, waiting.height, waiting.hashHex));
    } catch (error) {
      waiting.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private lost(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.failAll(new Error(`parse thread failed: ${error.message}`, { cause: error }));
  }

  private failAll(error: Error): void {
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}

function settle(reply: ParseReply, height: number, hashHex: string): PreparedBlock {
  if ('prepared' in reply) return reply.prepared;
  const { kind, message } = reply.error;
  if (kind === 'block') throw new BlockError(height, hashHex, message);
  if (kind === 'hex') throw new DaemonRpcError('getblock', 0, message);
  throw new Error(`block ${height} ${hashHex}: preparing failed: ${message}`);
}
