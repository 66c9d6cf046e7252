// Follows the node: applies its blocks in whole-block transactions, unwinds reorgs, then polls.
import { parseBlock, checkMerkleRoot, type Block } from '../core/block.ts';
import { equalBytes, hashToHex } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { BlockError, BlockWriter } from './block-writer.ts';
import { DaemonRpcError, DaemonStoppedError, type Daemon } from './daemon.ts';
import type { IndexDb } from './db.ts';
import { log, logEnabled } from './log.ts';
import { findForkHeight, unwindTo } from './reorg.ts';

export interface SyncOptions {
  db: IndexDb;
  daemon: Daemon;
  coin: Coin;
  reorgLimit: number;
  flushBlocks: number;
  pollIntervalMs: number;
  /** Aborted on SIGINT/SIGTERM: the current transaction commits, then sync returns. */
  signal: AbortSignal;
  /** Blocks per getblockhash/getblock batch. */
  fetchBlocks?: number;
}

const DEFAULT_FETCH_BLOCKS = 16;
const PROGRESS_LOG_MS = 10_000;

interface Unlinked {
  block: Block;
  height: number;
  hashHex: string;
  index: number;
}

interface FetchedBlocks {
  fromHeight: number;
  hashes: string[];
  blocks: Uint8Array[];
}

// TODO(perf): parsing, txids and merkle roots run on the main thread beside the SQLite writes
// (about a third of indexing time); a worker thread could take them while blocks are written.
/**
 * Parses the node's block and checks it is the block asked for with a matching merkle root.
 * @throws BlockError naming height and hash (DESIGN §3: never trust a block blindly).
 */
export function verifyBlock(bytes: Uint8Array, height: number, hashHex: string, coin: Coin): Block {
  let block: Block;
  try {
    block = parseBlock(bytes, coin);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BlockError(height, hashHex, `does not parse: ${reason}`, { cause: error });
  }
  const actual = hashToHex(block.header.hash);
  if (actual !== hashHex) {
    throw new BlockError(height, hashHex, `the node sent block ${actual} instead`);
  }
  try {
    checkMerkleRoot(block);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BlockError(height, hashHex, reason, { cause: error });
  }
  return block;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((done) => {
    const timer = setTimeout(finish, ms);
    function finish(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      done();
    }
    signal.addEventListener('abort', finish, { once: true });
  });

/** Keeps the index on the node's best chain until the signal aborts. */
export class Sync {
  private readonly o: SyncOptions;
  private readonly writer: BlockWriter;
  private readonly fetchBlocks: number;
  private flushOpen = false;
  private blocksInFlush = 0;
  private txsApplied = 0;
  private syncStartedMs = Date.now();
  private lastProgressMs = Date.now();
  private lastCaughtUpHash = '';
  private lastUnusable = '';

  constructor(options: SyncOptions) {
    this.o = options;
    this.writer = new BlockWriter(options.db, options.coin, options.reorgLimit);
    const fetchBlocks = options.fetchBlocks ?? DEFAULT_FETCH_BLOCKS;
    this.fetchBlocks = Math.max(1, Math.min(fetchBlocks, options.flushBlocks));
  }

  /**
   * Runs until the signal aborts. Rejects with BlockError or ChainMismatchError (the indexer
   * must stop); node outages are retried inside the daemon client.
   */
  async run(): Promise<void> {
    while (!this.o.signal.aborted) {
      try {
        const caughtUp = await this.step();
        this.lastUnusable = '';
        if (caughtUp) await sleep(this.o.pollIntervalMs, this.o.signal);
      } catch (error) {
        if (error instanceof DaemonStoppedError && this.o.signal.aborted) return;
        if (!(error instanceof DaemonRpcError)) throw error;
        // An answer that contradicts an earlier one (e.g. a block gone after a reorg): look
        // again next poll. Logged when the complaint changes, not on every poll.
        if (error.message !== this.lastUnusable) log.warn('node_answer_unusable', { error });
        this.lastUnusable = error.message;
        await sleep(this.o.pollIntervalMs, this.o.signal);
      }
    }
  }

  /** One pass: reorg check, then blocks up to the node's tip. True when at the node's tip. */
  async step(): Promise<boolean> {
    const nodeHeight = await this.o.daemon.blockCount();
    const ours = this.o.db.readChainState();
    if (ours.height >= 0 && ours.tipHash !== null) {
      const nodeHash =
        ours.height <= nodeHeight ? (await this.o.daemon.blockHashes(ours.height, 1))[0] : '';
      if (nodeHash !== hashToHex(ours.tipHash)) {
        await this.reorg(ours.height, nodeHeight);
        return false;
      }
    }
    if (nodeHeight > ours.height) {
      await this.applyRange(ours.height + 1, nodeHeight);
      return false;
    }
    this.reportCaughtUp(ours.height, ours.tipHash, ours.txCount);
    return true;
  }

  private async reorg(ourHeight: number, nodeHeight: number): Promise<void> {
    const { db, daemon, coin, reorgLimit } = this.o;
    const fork = await findForkHeight(db, daemon, ourHeight, nodeHeight, reorgLimit);
    unwindTo(db, coin, reorgLimit, fork);
  }

  private reportCaughtUp(height: number, tipHash: Uint8Array | null, txCount: number): void {
    const hash = tipHash === null ? '' : hashToHex(tipHash);
    if (hash === this.lastCaughtUpHash) return;
    this.lastCaughtUpHash = hash;
    const seconds = (Date.now() - this.syncStartedMs) / 1000;
    log.info('caught_up', {
      height,
      hash,
      tx_count: txCount,
      txs_applied: this.txsApplied,
      tx_per_s: seconds > 0 ? Math.round(this.txsApplied / seconds) : 0,
    });
    this.txsApplied = 0;
    this.syncStartedMs = Date.now();
  }

  private async fetch(fromHeight: number, count: number): Promise<FetchedBlocks> {
    const hashes = await this.o.daemon.blockHashes(fromHeight, count);
    const blocks = await this.o.daemon.blocks(hashes);
    return { fromHeight, hashes, blocks };
  }

  // Applies heights from..to, fetching the next batch while the current one is written.
  private async applyRange(fromHeight: number, toHeight: number): Promise<void> {
    const batchOf = (start: number): number => Math.min(this.fetchBlocks, toHeight - start + 1);
    let next: Promise<FetchedBlocks> | null = this.fetch(fromHeight, batchOf(fromHeight));
    try {
      while (next !== null && !this.o.signal.aborted) {
        const batch: FetchedBlocks = await next;
        const following = batch.fromHeight + batch.hashes.length;
        next = following <= toHeight ? this.fetch(following, batchOf(following)) : null;
        next?.catch(() => {}); // awaited on the next turn; a stop in between must not leak it
        const unlinked = this.applyBatch(batch);
        if (unlinked !== null) {
          await this.checkNotBroken(unlinked, batch);
          break;
        }
        this.maybeLogProgress(toHeight);
      }
    } finally {
      this.commitFlush();
    }
  }

  // Verifies and applies each block; returns the first one whose parent is not our tip, if any.
  private applyBatch(batch: FetchedBlocks): Unlinked | null {
    for (let i = 0; i < batch.hashes.length; i++) {
      if (this.o.signal.aborted) return null;
      const height = batch.fromHeight + i;
      const hashHex = batch.hashes[i] ?? '';
      const block = verifyBlock(batch.blocks[i] ?? new Uint8Array(0), height, hashHex, this.o.coin);
      const tipHash = this.currentTipHash();
      if (height > 0 && (tipHash === null || !equalBytes(block.header.prevHash, tipHash))) {
        return { block, height, hashHex, index: i };
      }
      this.applyOne(block);
    }
    return null;
  }

  private currentTipHash(): Uint8Array | null {
    return this.flushOpen ? this.writer.tip.hash : this.o.db.readChainState().tipHash;
  }

  // A block whose parent is not our tip means a reorg only if the node's own chain says so: when
  // the node names our tip as the block below, its block contradicts its own chain: stop.
  private async checkNotBroken(unlinked: Unlinked, batch: FetchedBlocks): Promise<void> {
    const { block, height, hashHex, index } = unlinked;
    const parentHex =
      index > 0 ? batch.hashes[index - 1] : (await this.o.daemon.blockHashes(height - 1, 1))[0];
    const tip = this.currentTipHash();
    const ourTipHex = tip === null ? 'none' : hashToHex(tip);
    if (parentHex === ourTipHex) {
      const prev = hashToHex(block.header.prevHash);
      const reason = `does not link: prev hash ${prev}, our tip ${ourTipHex}`;
      throw new BlockError(height, hashHex, reason);
    }
  }

  private applyOne(block: Block): void {
    const { db } = this.o;
    if (!this.flushOpen) {
      db.sqlite.exec('BEGIN');
      this.flushOpen = true;
      this.blocksInFlush = 0;
      this.writer.beginFlush();
    }
    try {
      this.writer.applyBlock(block);
    } catch (error) {
      // A block half-applied cannot be committed: drop the whole flush.
      db.sqlite.exec('ROLLBACK');
      this.flushOpen = false;
      throw error;
    }
    this.blocksInFlush += 1;
    this.txsApplied += this.writer.tip.height === 0 ? 0 : block.txs.length;
    if (this.blocksInFlush >= this.o.flushBlocks) this.commitFlush();
  }

  private commitFlush(): void {
    if (!this.flushOpen) return;
    const { db } = this.o;
    try {
      this.writer.endFlush();
      db.sqlite.exec('COMMIT');
    } catch (error) {
      if (db.sqlite.inTransaction) db.sqlite.exec('ROLLBACK');
      throw error;
    } finally {
      this.flushOpen = false;
    }
    if (logEnabled('debug')) {
      const tip = this.writer.tip;
      const blocks = this.blocksInFlush;
      log.debug('flushed', { height: tip.height, blocks, tx_count: tip.txCount });
    }
  }

  private maybeLogProgress(toHeight: number): void {
    const now = Date.now();
    if (now - this.lastProgressMs < PROGRESS_LOG_MS) return;
    this.lastProgressMs = now;
    const seconds = (now - this.syncStartedMs) / 1000;
    log.info('sync_progress', {
      height: this.writer.tip.height,
      node_height: toHeight,
      tx_per_s: Math.round(this.txsApplied / seconds),
      rss_mb: Math.round(process.memoryUsage().rss / 1_048_576),
    });
  }
}
