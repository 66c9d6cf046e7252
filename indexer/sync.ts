// Follows the node: applies its blocks in whole-block transactions, unwinds reorgs, then polls.
import { equalBytes, hashToHex } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import type { PreparedBlock } from './block-prep.ts';
import { BlockError } from './block-verify.ts';
import { BlockWriter, TxidIndexNeeded } from './block-writer.ts';
import { BackgroundCheckpointer } from './checkpoint-thread.ts';
import { DaemonRpcError, DaemonStoppedError, type Daemon } from './daemon.ts';
import {
  dropDeferredIndexes,
  restoreDeferredIndexes,
  type DeferredIndexName,
  type IndexDb,
} from './db.ts';
import { diskSpaceWatch, isDiskFull } from './disk-space.ts';
import { log, logEnabled } from './log.ts';
import { mempoolHasTxs } from './mempool-status.ts';
import { BlockParser, fetchBlockHexes } from './parse-thread-client.ts';
import { SyncProgress } from './progress.ts';
import { findForkHeight, ourHashHex, unwindTo } from './reorg.ts';

export { verifyBlock } from './block-verify.ts';

export interface SyncOptions {
  db: IndexDb;
  daemon: Daemon;
  coin: Coin;
  reorgLimit: number;
  /** A flush commits after this many blocks... */
  flushBlocks: number;
  /**
   * ...or once it holds this many txs, whichever comes first (default DEFAULT_FLUSH_TXS). Each
   * commit rewrites the pages of history and status it touches, so few large flushes beat many
   * small ones; counting txs keeps a flush's memory bounded however full the blocks are.
   */
  flushTxs?: number;
  pollIntervalMs: number;
  /** Aborted on SIGINT/SIGTERM: the current transaction commits, then sync returns. */
  signal: AbortSignal;
  /** Blocks per getblockhash/getblock batch. */
  fetchBlocks?: number;
  observer?: SyncObserver;
  /**
   * Blocks behind the node from which utxos_by_hashx and txs_by_txid are dropped until sync
   * catches up, when they are built again in one pass (default 1000; 0 never drops them). See
   * db.ts DEFERRED_INDEXES.
   */
  deferIndexBlocks?: number;
  /** Bytes of the BlockWriter's UtxoCache (default DEFAULT_UTXO_CACHE_BYTES; 0 disables it). */
  utxoCacheBytes?: number;
  /**
   * Prepare blocks (parse, hashes, merkle check) on a worker thread while the main thread writes
   * the previous ones (default true); false does it inline.
   */
  parseThread?: boolean;
}

/** What one commit left in the index: a flush of blocks, or a reorg's unwind (0 blocks). */
export interface SyncCommit {
  height: number;
  blocks: number;
  txs: number;
  /** endFlush and COMMIT (or the whole unwind). */
  durationMs: number;
}

/** Hooks for metrics and notices; called synchronously, so they must be cheap and not throw. */
export interface SyncObserver {
  /** After each poll of the node's tip. */
  nodeHeight?(height: number): void;
  /** After each commit. */
  committed?(commit: SyncCommit): void;
  /** A block the node serves is refused (sync waits below it), or no longer (null). */
  blockRejected?(rejection: BlockRejection | null): void;
}

/** The block sync refuses and waits below; the index serves reads as it stands meanwhile. */
export interface BlockRejection {
  height: number;
  hash: string;
  /** The BlockError's message: "block <height> <hash>: <reason>". */
  error: string;
  /** When it was first refused (ms since the epoch). */
  sinceMs: number;
}

const DEFAULT_FETCH_BLOCKS = 8;
const DEFAULT_FLUSH_TXS = 50_000;
const DEFAULT_DEFER_INDEX_BLOCKS = 1000;
/** The longest wait between two requests for a block sync refused. */
const REJECTED_RETRY_MAX_MS = 300_000;

interface Unlinked {
  block: PreparedBlock;
  height: number;
  hashHex: string;
  index: number;
}

interface FetchedBlocks {
  fromHeight: number;
  hashes: string[];
  /** Each block as the parser prepares it, in height order. */
  blocks: Promise<PreparedBlock>[];
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
  private readonly parser: BlockParser;
  private checkpointer: BackgroundCheckpointer | null = null;
  private readonly progress = new SyncProgress({ bar: process.stderr });
  private readonly fetchBlocks: number;
  private flushOpen = false;
  private blocksInFlush = 0;
  private txsInFlush = 0;
  private flushFirstTxNum = 0;
  private txsApplied = 0;
  private syncStartedMs = Date.now();
  private lastCaughtUpHash = '';
  private lastUnusable = '';
  // The node is below our tip on our own chain (node_behind was logged).
  private nodeBehind = false;
  // Deferred indexes a flush turned out to need: kept from then on (TxidIndexNeeded).
  private readonly keptIndexes = new Set<DeferredIndexName>();
  // Whether this run started from an index without txs (see deferIndexes).
  private startedEmpty = false;
  // The block refused last, and how many times in a row.
  private rejection: BlockRejection | null = null;
  private rejectedAttempts = 0;

  constructor(options: SyncOptions) {
    this.o = options;
    const { utxoCacheBytes } = options;
    this.writer = new BlockWriter(options.db, options.coin, options.reorgLimit, { utxoCacheBytes });
    this.parser = new BlockParser(options.coin, options.parseThread ?? true);
    const fetchBlocks = options.fetchBlocks ?? DEFAULT_FETCH_BLOCKS;
    this.fetchBlocks = Math.max(1, Math.min(fetchBlocks, options.flushBlocks));
  }

  /**
   * Runs until the signal aborts. Rejects with ChainMismatchError, or BlockError for a genesis
   * block that is not the coin's (the indexer must stop); node outages are retried inside the
   * daemon client, and any other block the node serves that is refused is asked for again.
   */
  async run(): Promise<void> {
    this.startedEmpty = this.o.db.readChainState().txCount === 0;
    this.checkpointer = BackgroundCheckpointer.start(this.o.db);
    try {
      await this.loop();
    } finally {
      this.progress.finish();
      await this.parser.close();
      await this.checkpointer?.close();
      this.checkpointer = null;
    }
  }

  private async loop(): Promise<void> {
    while (!this.o.signal.aborted) {
      try {
        const caughtUp = await this.step();
        this.lastUnusable = '';
        this.rejectionOver();
        diskSpaceWatch(this.o.db).reportWritten('sync');
        if (caughtUp) await sleep(this.o.pollIntervalMs, this.o.signal);
      } catch (error) {
        if (error instanceof DaemonStoppedError && this.o.signal.aborted) return;
        if (error instanceof TxidIndexNeeded) {
          // The flush rolled back; the next step builds the index, then applies its blocks again.
          this.keptIndexes.add('txs_by_txid');
          continue;
        }
        if (isDiskFull(error) && error instanceof Error) {
          // Nothing of the failed flush stays; the next step starts again from chain_state.
          await sleep(diskSpaceWatch(this.o.db).reportFull('sync', error), this.o.signal);
          continue;
        }
        if (error instanceof BlockError && error.height > 0) {
          await sleep(this.rejected(error), this.o.signal);
          continue;
        }
        if (!(error instanceof DaemonRpcError)) throw error;
        // An answer that contradicts an earlier one (e.g. a block gone after a reorg): look
        // again next poll. Logged when the complaint changes, not on every poll.
        if (error.message !== this.lastUnusable) log.warn('node_answer_unusable', { error });
        this.lastUnusable = error.message;
        await sleep(this.o.pollIntervalMs, this.o.signal);
      }
    }
  }

  // A block the node serves that we refuse: nothing of it was written, and the index keeps
  // serving reads as it stands. Stopping would take the index server down with it, and a
  // supervisor restarting us would only fetch the same block again; instead the block is asked
  // for again, less and less often, so a node repaired (or gone to another branch) lets sync go
  // on by itself. Logged once per distinct refusal; returns how long to wait.
  private rejected(error: BlockError): number {
    if (error.message !== this.rejection?.error) {
      const { height, hashHex: hash } = error;
      this.rejection = { height, hash, error: error.message, sinceMs: Date.now() };
      this.rejectedAttempts = 0;
      log.error('block_rejected', { height, hash, error: error.message, retrying: true });
      this.o.observer?.blockRejected?.(this.rejection);
    }
    this.rejectedAttempts += 1;
    const doubling = Math.min(this.rejectedAttempts - 1, 20);
    return Math.min(REJECTED_RETRY_MAX_MS, this.o.pollIntervalMs * 2 ** doubling);
  }

  private rejectionOver(): void {
    if (this.rejection === null) return;
    const { height, hash } = this.rejection;
    const index = this.o.db.readChainState().height;
    log.info('block_rejection_over', { height, hash, index_height: index });
    this.rejection = null;
    this.rejectedAttempts = 0;
    this.o.observer?.blockRejected?.(null);
  }

  /** One pass: reorg check, then blocks up to the node's tip. True when at the node's tip. */
  async step(): Promise<boolean> {
    this.buildKeptIndexes();
    const nodeHeight = await this.o.daemon.blockCount();
    this.o.observer?.nodeHeight?.(nodeHeight);
    const ours = this.o.db.readChainState();
    if (nodeHeight < ours.height && (await this.nodeBehindOnOurChain(nodeHeight))) {
      this.restoreIndexes();
      return true;
    }
    if (this.nodeBehind) log.info('node_behind_over', { node_height: nodeHeight });
    this.nodeBehind = false;
    if (ours.height >= 0 && ours.tipHash !== null) {
      const nodeHash =
        ours.height <= nodeHeight ? (await this.o.daemon.blockHashes(ours.height, 1))[0] : '';
      if (nodeHash !== hashToHex(ours.tipHash)) {
        await this.reorg(ours.height, nodeHeight);
        return false;
      }
    }
    if (nodeHeight > ours.height) {
      this.deferIndexes(nodeHeight - ours.height);
      await this.applyRange(ours.height + 1, nodeHeight);
      return false;
    }
    this.restoreIndexes();
    this.reportCaughtUp(ours.height, ours.tipHash, ours.txCount);
    return true;
  }

  // A node lower than the index whose tip is one of our blocks is catching up (restarted with
  // -reindex, still loading its block files): wait for it, as ElectrumX does, rather than unwind
  // blocks that are still valid. Logged once per episode.
  private async nodeBehindOnOurChain(nodeHeight: number): Promise<boolean> {
    const [nodeHash] = await this.o.daemon.blockHashes(nodeHeight, 1);
    if (nodeHash !== ourHashHex(this.o.db, nodeHeight)) return false;
    if (!this.nodeBehind) {
      const height = this.o.db.readChainState().height;
      log.warn('node_behind', { node_height: nodeHeight, height, waiting: true });
    }
    this.nodeBehind = true;
    return true;
  }

  private async reorg(ourHeight: number, nodeHeight: number): Promise<void> {
    const { db, daemon, coin, reorgLimit } = this.o;
    const fork = await findForkHeight(db, daemon, ourHeight, nodeHeight, reorgLimit);
    // Rebuilding a missing undo row looks spent txs up by txid: not with a table scan each.
    this.restoreIndexes();
    const startedMs = performance.now();
    unwindTo(db, coin, reorgLimit, fork, nodeHeight);
    const durationMs = performance.now() - startedMs;
    this.o.observer?.committed?.({ height: fork, blocks: 0, txs: 0, durationMs });
  }

  // Far behind the node, writes skip the deferred indexes (utxos_by_hashx, txs_by_txid; DDL
  // commits on its own, between flushes). A crash leaves them out until the next catch-up or open
  // rebuilds them.
  private deferIndexes(blocksBehind: number): void {
    const threshold = this.o.deferIndexBlocks ?? DEFAULT_DEFER_INDEX_BLOCKS;
    if (threshold <= 0 || blocksBehind < threshold) return;
    const keep = new Set(this.keptIndexes);
    // Spends miss the UtxoCache less often the more of the chain it saw: only a sync that started
    // from an empty index does without txs_by_txid; after a restart every older output would
    // miss. Stored mempool txs (left by an earlier run) are settled at every flush by queries
    // that look txs up by txid.
    if (!this.startedEmpty || mempoolHasTxs(this.o.db)) keep.add('txs_by_txid');
    const dropped = dropDeferredIndexes(this.o.db.sqlite, keep);
    if (dropped > 0) log.info('indexes_deferred', { blocks_behind: blocksBehind });
  }

  // Builds the deferred indexes a flush turned out to need (TxidIndexNeeded), between
  // transactions; they stay until the indexer restarts. A failure (disk full) is the step's.
  private buildKeptIndexes(): void {
    for (const name of this.keptIndexes) {
      const startedMs = performance.now();
      if (restoreDeferredIndexes(this.o.db.sqlite, name) === 0) continue;
      log.info('index_kept', { index: name, ms: Math.round(performance.now() - startedMs) });
    }
  }

  private restoreIndexes(): void {
    const startedMs = performance.now();
    const built = restoreDeferredIndexes(this.o.db.sqlite);
    if (built === 0) return;
    log.info('indexes_rebuilt', { ms: Math.round(performance.now() - startedMs) });
  }

  private reportCaughtUp(height: number, tipHash: Uint8Array | null, txCount: number): void {
    this.progress.finish();
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

  // The blocks go to the parser as soon as they arrive, so they are prepared while earlier
  // ones are still being written.
  private async fetch(fromHeight: number, count: number): Promise<FetchedBlocks> {
    const hashes = await this.o.daemon.blockHashes(fromHeight, count);
    const hexes = await fetchBlockHexes(this.o.daemon, hashes);
    const blocks = hexes.map((hex, i) => {
      const prepared = this.parser.parse(hex, fromHeight + i, hashes[i] ?? '');
      prepared.catch(() => {}); // awaited in order by applyBatch, or dropped after a stop
      return prepared;
    });
    return { fromHeight, hashes, blocks };
  }

  // Applies heights from..to, fetching the next batch while the current one is written.
  private async applyRange(fromHeight: number, toHeight: number): Promise<void> {
    // The node is at toHeight: undo rows of blocks REORG_LIMIT below it would only be pruned.
    this.writer.undoFloor = toHeight - this.o.reorgLimit;
    const batchOf = (start: number): number => Math.min(this.fetchBlocks, toHeight - start + 1);
    let next: Promise<FetchedBlocks> | null = this.fetch(fromHeight, batchOf(fromHeight));
    try {
      while (next !== null && !this.o.signal.aborted) {
        const batch: FetchedBlocks = await next;
        const following = batch.fromHeight + batch.hashes.length;
        next = following <= toHeight ? this.fetch(following, batchOf(following)) : null;
        next?.catch(() => {}); // awaited on the next turn; a stop in between must not leak it
        const unlinked = await this.applyBatch(batch, toHeight);
        if (unlinked !== null) {
          await this.checkNotBroken(unlinked, batch);
          break;
        }
      }
    } finally {
      this.commitFlush();
    }
  }

  // Applies each verified block; returns the first one whose parent is not our tip, if any.
  private async applyBatch(batch: FetchedBlocks, toHeight: number): Promise<Unlinked | null> {
    for (let i = 0; i < batch.hashes.length; i++) {
      if (this.o.signal.aborted) return null;
      const height = batch.fromHeight + i;
      const hashHex = batch.hashes[i] ?? '';
      const pending = batch.blocks[i];
      if (pending === undefined) throw new Error(`block ${height} missing from its batch`);
      const block = await pending;
      const tipHash = this.currentTipHash();
      if (height > 0 && (tipHash === null || !equalBytes(block.prevHash, tipHash))) {
        return { block, height, hashHex, index: i };
      }
      this.applyOne(block);
      this.progress.blockApplied(height, toHeight, height === 0 ? 0 : block.txCount);
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
      const prev = hashToHex(block.prevHash);
      const reason = `does not link: prev hash ${prev}, our tip ${ourTipHex}`;
      throw new BlockError(height, hashHex, reason);
    }
  }

  private applyOne(block: PreparedBlock): void {
    const { db } = this.o;
    if (!this.flushOpen) {
      db.sqlite.exec('BEGIN');
      this.flushOpen = true;
      this.blocksInFlush = 0;
      this.txsInFlush = 0;
      this.writer.beginFlush();
      this.flushFirstTxNum = this.writer.tip.txCount;
    }
    try {
      this.writer.applyPrepared(block);
    } catch (error) {
      // A block half-applied cannot be committed: drop the whole flush (SQLITE_FULL has already
      // rolled it back, and a second ROLLBACK would hide that error).
      if (db.sqlite.inTransaction) db.sqlite.exec('ROLLBACK');
      this.flushOpen = false;
      throw error;
    }
    const txs = this.writer.tip.height === 0 ? 0 : block.txCount;
    this.blocksInFlush += 1;
    this.txsInFlush += txs;
    this.txsApplied += txs;
    const flushTxs = this.o.flushTxs ?? DEFAULT_FLUSH_TXS;
    if (this.blocksInFlush >= this.o.flushBlocks || this.txsInFlush >= flushTxs) {
      this.commitFlush();
    }
  }

  private commitFlush(): void {
    if (!this.flushOpen) return;
    const { db } = this.o;
    const startedMs = performance.now();
    try {
      this.writer.endFlush();
      db.sqlite.exec('COMMIT');
      this.checkpointer?.request();
    } catch (error) {
      if (db.sqlite.inTransaction) db.sqlite.exec('ROLLBACK');
      throw error;
    } finally {
      this.flushOpen = false;
    }
    const { height, txCount } = this.writer.tip;
    this.o.observer?.committed?.({
      height,
      blocks: this.blocksInFlush,
      txs: txCount - this.flushFirstTxNum,
      durationMs: performance.now() - startedMs,
    });
    if (logEnabled('debug')) {
      const tip = this.writer.tip;
      const blocks = this.blocksInFlush;
      log.debug('flushed', { height: tip.height, blocks, tx_count: tip.txCount });
    }
  }
}
