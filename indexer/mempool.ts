// Follows the node's mempool: polls getrawmempool, fetches the new txs, and applies each change as
// one SQLite transaction, only while the index stands at the node's tip.
import { hashToHex, hexToHash } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { parseTx, type Tx } from '../core/tx.ts';
import { DaemonRpcError, DaemonStoppedError, type Daemon } from './daemon.ts';
import type { IndexDb } from './db.ts';
import { diskSpaceWatch, isDiskFull } from './disk-space.ts';
import { log, logEnabled } from './log.ts';
import { applyMempoolDiff, txidsHex, type MempoolApplied } from './mempool-apply.ts';
import { MempoolStore } from './mempool-store.ts';
import { releaseNotices } from './notice-hold.ts';

/** How to follow the mempool. */
export interface MempoolOptions {
  db: IndexDb;
  /** The indexer's node client (shared with sync, so an outage is logged once). */
  daemon: Daemon;
  coin: Coin;
  /** Change-feed rows kept, as for blocks (REORG_LIMIT). */
  reorgLimit: number;
  pollIntervalMs: number;
  /** Aborting it ends the loop (an in-flight node call is cut short). */
  signal: AbortSignal;
  /** Called after each committed mempool change: wake the notifier, update metrics. */
  onChange?: (summary: MempoolSummary) => void;
  /** After a refresh ended a reorg's hold on notices (notice-hold.ts): wake the notifier. */
  onNoticesReleased?: () => void;
  /** Most txs fetched per refresh (default 20,000); the rest come with the next refresh. */
  maxNewTxs?: number;
}

/** The mempool after a committed change. */
export interface MempoolSummary {
  txCount: number;
  sizeBytes: number;
  added: number;
  removed: number;
  /** The changes row naming the touched script hashes. */
  changeSeq: number;
}

/** A running mempool follower. */
export interface MempoolHandle {
  /**
   * Refreshes at once (the broadcast relay calls it after sendrawtransaction succeeded).
   * Resolves when a refresh that started after the call has finished; never rejects.
   */
  refreshNow(): Promise<void>;
  /** Resolves when the loop has ended (after the signal aborted). */
  readonly stopped: Promise<void>;
}

// 'behind': the index is about to move (sync has blocks to apply), look again soon;
// 'node_behind': the node is below our tip on our chain (sync waits for it), look at the poll.
type Outcome = 'applied' | 'unchanged' | 'behind' | 'node_behind' | 'failed';

interface NodeSnapshot {
  tipHex: string;
  txids: string[];
}

/** The mempool txids the index held at chain_state.last_change_seq `changeSeq`. */
interface StoredTxids {
  changeSeq: number;
  /** Internal order. */
  txids: Uint8Array[];
  /** The same txids as display hex. */
  hexes: Set<string>;
}

// getrawtransaction calls per JSON-RPC batch.
const FETCH_BATCH = 500;
const DEFAULT_MAX_NEW_TXS = 20_000;
// While the index is behind the node, look again soon: sync is about to commit...
const BEHIND_RETRY_MS = 250;
// ...unless the index has not moved for this long (a catch-up between flushes, or sync waiting
// below a block it refuses): then at the poll interval, not 4 getrawmempool calls a second.
const BEHIND_PATIENCE_MS = 1_000;
const HASH_HEX = /^[0-9a-fA-F]{64}$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

function isHash(value: unknown): value is string {
  return typeof value === 'string' && HASH_HEX.test(value);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The tx the node sent as hex, or the reason it cannot be used. */
function decodeTx(reply: unknown, txidHex: string, coin: Coin): Tx | string {
  if (typeof reply !== 'string' || !HEX.test(reply)) return 'not hex';
  try {
    // A copy, not a Buffer view: core code may slice and edit scripts (see Daemon.blocks).
    const tx = parseTx(new Uint8Array(Buffer.from(reply, 'hex')), coin);
    const actual = hashToHex(tx.txid);
    return actual === txidHex ? tx : `the node sent tx ${actual} instead`;
  } catch (error) {
    return `does not parse: ${errorMessage(error)}`;
  }
}

class MempoolFollower implements MempoolHandle {
  readonly stopped: Promise<void>;
  private readonly o: MempoolOptions;
  private readonly store: MempoolStore;
  private waiters: (() => void)[] = [];
  private wake: (() => void) | null = null;
  /** Fetched txs the tables could not take yet (inputs unknown here), retried each refresh. */
  private readonly held = new Map<string, Tx>();
  /** Txids whose bytes were unusable, not asked for again while the node holds them. */
  private readonly unusable = new Map<string, string>();
  private synced = false;
  private lastFailure = '';
  /** The index tip the last 'behind' refreshes found, and since when. */
  private behind: { tip: string; sinceMs: number } | null = null;

  constructor(options: MempoolOptions) {
    this.o = options;
    this.store = new MempoolStore(options.db, options.coin);
    this.stopped = this.run();
  }

  refreshNow(): Promise<void> {
    if (this.o.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.wake?.();
    });
  }

  private async run(): Promise<void> {
    const { signal, pollIntervalMs } = this.o;
    while (!signal.aborted) {
      const serving = this.waiters.splice(0);
      let waitMs = pollIntervalMs;
      try {
        const outcome = await this.refresh();
        if (outcome === 'behind') waitMs = this.behindWaitMs();
        else this.behind = null;
        this.lastFailure = '';
      } catch (error) {
        if (error instanceof DaemonStoppedError && signal.aborted) break;
        waitMs = this.failed(error);
      }
      for (const done of serving) done();
      if (this.waiters.length === 0) await this.pause(waitMs);
    }
    for (const done of this.waiters.splice(0)) done();
  }

  // The quick retry while the index moves; the poll interval once it has stood still a while.
  private behindWaitMs(): number {
    const { pollIntervalMs } = this.o;
    const state = this.o.db.readChainState();
    const tip = `${state.height}:${state.tipHash === null ? '' : hashToHex(state.tipHash)}`;
    const nowMs = Date.now();
    if (this.behind?.tip !== tip) this.behind = { tip, sinceMs: nowMs };
    if (nowMs - this.behind.sinceMs >= BEHIND_PATIENCE_MS) return pollIntervalMs;
    return Math.min(BEHIND_RETRY_MS, pollIntervalMs);
  }

  // Logs a failed refresh (once per distinct complaint) and says how long to wait.
  private failed(error: unknown): number {
    if (isDiskFull(error) && error instanceof Error) {
      return diskSpaceWatch(this.o.db).reportFull('mempool', error);
    }
    const message = errorMessage(error);
    if (message !== this.lastFailure) {
      // A node error (e.g. a method it lacks) is the node's answer; anything else is ours.
      if (error instanceof DaemonRpcError) log.warn('mempool_node_error', { error: message });
      else log.error('mempool_refresh_failed', { error: message });
    }
    this.lastFailure = message;
    return this.o.pollIntervalMs;
  }

  private pause(ms: number): Promise<void> {
    const { signal } = this.o;
    return new Promise((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        this.wake = null;
        done();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
      this.wake = finish;
    });
  }

  /** One refresh: snapshot of the node's mempool, fetch of new txs, one transaction. */
  private async refresh(): Promise<Outcome> {
    const ours = this.o.db.readChainState();
    if (ours.tipHash === null) return 'behind';
    const snapshot = await this.snapshot();
    if (snapshot === null) return 'behind';
    if (snapshot.tipHex !== hashToHex(ours.tipHash)) {
      return this.belowOurTip(snapshot.tipHex, ours.height) ? 'node_behind' : 'behind';
    }
    const inNode = new Set(snapshot.txids);
    this.forgetGone(inNode);
    const stored = this.readStored(ours.lastChangeSeq);
    const wanted = snapshot.txids.filter(
      (txid) => !stored.hexes.has(txid) && !this.held.has(txid) && !this.unusable.has(txid)
    );
    const maxNewTxs = this.o.maxNewTxs ?? DEFAULT_MAX_NEW_TXS;
    const fetched = await this.fetchTxs(wanted.slice(0, maxNewTxs));
    if (fetched === null || fetched !== snapshot.tipHex) return 'behind';
    return this.apply(snapshot, inNode, stored, wanted.length <= maxNewTxs);
  }

  // The mempool txids in the index, read once per refresh: every write to the mempool tables
  // (ours, a block's, a reorg's) records a changes row, so the seq says when they went stale.
  private readStored(changeSeq: number): StoredTxids {
    const txids = [...this.store.txids().values()];
    return { changeSeq, txids, hexes: new Set(txids.map(hashToHex)) };
  }

  // True when `tipHex` (display) is one of our blocks below `ourHeight`.
  private belowOurTip(tipHex: string, ourHeight: number): boolean {
    const row = this.o.db
      .prepare('SELECT height FROM headers WHERE hash = ?')
      .get(hexToHash(tipHex)) as { height: number } | undefined;
    return row !== undefined && row.height < ourHeight;
  }

  // The node's tip and mempool txids, read between two looks at its tip; null when the tip
  // moved while we looked.
  private async snapshot(): Promise<NodeSnapshot | null> {
    const accept = (result: unknown): boolean =>
      isHash(result) || (Array.isArray(result) && result.every(isHash));
    const [before, txids, after] = await this.o.daemon.batch(
      [
        { method: 'getbestblockhash', params: [] },
        { method: 'getrawmempool', params: [false] },
        { method: 'getbestblockhash', params: [] },
      ],
      accept
    );
    for (const reply of [before, txids, after]) if (reply instanceof DaemonRpcError) throw reply;
    if (!isHash(before) || !isHash(after)) {
      throw new DaemonRpcError('getbestblockhash', 0, 'not a block hash');
    }
    const tipHex = before.toLowerCase();
    if (tipHex !== after.toLowerCase()) return null;
    if (!Array.isArray(txids)) throw new DaemonRpcError('getrawmempool', 0, 'not a txid list');
    return { tipHex, txids: (txids as string[]).map((txid) => txid.toLowerCase()) };
  }

  private forgetGone(inNode: Set<string>): void {
    for (const txid of this.held.keys()) if (!inNode.has(txid)) this.held.delete(txid);
    for (const txid of this.unusable.keys()) if (!inNode.has(txid)) this.unusable.delete(txid);
  }

  // Fetches txs into `held`; returns the node's tip after the last batch (a block may have come
  // meanwhile), or null for a node tip that is not a hash.
  private async fetchTxs(txids: string[]): Promise<string | null> {
    let tipHex: unknown = null;
    const fresh: string[] = [];
    // At least one batch: its getbestblockhash says whether a block came since the snapshot.
    for (let at = 0; at === 0 || at < txids.length; at += FETCH_BATCH) {
      const chunk = txids.slice(at, at + FETCH_BATCH);
      const calls = chunk.map((txid) => ({ method: 'getrawtransaction', params: [txid, false] }));
      calls.push({ method: 'getbestblockhash', params: [] });
      const replies = await this.o.daemon.batch(calls, (result) => typeof result === 'string');
      tipHex = replies[chunk.length];
      chunk.forEach((txid, i) => {
        const reply = replies[i];
        // "No such mempool transaction": it left between getrawmempool and now.
        if (reply instanceof DaemonRpcError) return;
        const tx = decodeTx(reply, txid, this.o.coin);
        if (typeof tx === 'string') {
          this.unusable.set(txid, tx);
          fresh.push(txid);
        } else {
          this.held.set(txid, tx);
        }
      });
    }
    if (fresh.length > 0) {
      const reason = this.unusable.get(fresh[0] ?? '');
      log.warn('mempool_tx_unusable', { count: fresh.length, txids: fresh.slice(0, 5), reason });
    }
    return isHash(tipHex) ? tipHex.toLowerCase() : null;
  }

  // Writes the change when the index still stands where the snapshot was taken.
  // `whole`: every tx the node listed was fetched (not only the first maxNewTxs).
  private apply(
    snapshot: NodeSnapshot,
    inNode: Set<string>,
    stored: StoredTxids,
    whole: boolean
  ): Outcome {
    const { db, reorgLimit } = this.o;
    // A flush of blocks is open across node calls (sync.ts): never write into it.
    if (db.sqlite.inTransaction) return 'behind';
    const state = db.readChainState();
    if (state.tipHash === null || hashToHex(state.tipHash) !== snapshot.tipHex) return 'behind';
    // The tables changed since `stored` was read (a block and its reorg back, say): read again.
    if (state.lastChangeSeq !== stored.changeSeq) return 'behind';
    const started = Date.now();
    const added = [...this.held.values()];
    let released = false;
    const applied = db.transaction(() => {
      const removed = stored.txids.filter((txid) => !inNode.has(hashToHex(txid)));
      const nowSec = Math.floor(Date.now() / 1000);
      const diff = applyMempoolDiff(this.store, { removed, added, nowSec }, reorgLimit);
      // At the node's tip with its whole mempool read: a reorg's held notices may go now.
      released = whole && releaseNotices(db);
      return diff;
    });
    diskSpaceWatch(db).reportWritten('mempool');
    for (const tx of added) this.held.delete(hashToHex(tx.txid));
    for (const tx of applied.skipped) this.held.set(hashToHex(tx.txid), tx);
    this.report(applied, Date.now() - started);
    if (released) {
      log.info('notices_released', { height: state.height, last_change_seq: state.lastChangeSeq });
      this.o.onNoticesReleased?.();
    }
    return applied.changeSeq === null ? 'unchanged' : 'applied';
  }

  private report(applied: MempoolApplied, ms: number): void {
    const { db } = this.o;
    if (applied.skipped.length > 0 && logEnabled('debug')) {
      log.debug('mempool_txs_waiting', {
        count: applied.skipped.length,
        txids: txidsHex(applied.skipped),
        reason: 'inputs not in the index yet, already spent in the mempool, or worth too little',
      });
    }
    const firstSync = !this.synced;
    this.synced = true;
    if (applied.changeSeq === null && !firstSync) return;
    const totals = db
      .prepare('SELECT COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes FROM mempool_txs')
      .get() as { count: number; bytes: number };
    if (firstSync) log.info('mempool_synced', { tx_count: totals.count, bytes: totals.bytes, ms });
    if (applied.changeSeq === null) return;
    if (logEnabled('debug')) {
      const { added, removed, touched } = applied;
      log.debug('mempool_updated', { added, removed, touched, tx_count: totals.count, ms });
    }
    this.o.onChange?.({
      txCount: totals.count,
      sizeBytes: totals.bytes,
      added: applied.added,
      removed: applied.removed,
      changeSeq: applied.changeSeq,
    });
  }
}

/**
 * Starts following the node's mempool into the index: a refresh every `pollIntervalMs`, sooner
 * while sync is catching up or when refreshNow() asks. Node outages are retried inside the
 * daemon client; a full disk pauses writes (disk-space.ts); other failures are logged once each
 * and retried at the next poll, so the mempool never stops block indexing.
 */
export function startMempool(options: MempoolOptions): MempoolHandle {
  return new MempoolFollower(options);
}
