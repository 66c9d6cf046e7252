// The node's relay fee, mempool fee floors and fee estimates (per estimate mode), copied into the
// index for the Worker every minute.
import { DaemonRpcError, type Daemon } from './daemon.ts';
import type { IndexDb } from './db.ts';
import { log } from './log.ts';

export const FEE_TARGETS_BLOCKS = 25;
export const NODE_INFO_REFRESH_MS = 60_000;
/** estimatesmartfee's estimate_mode values, as fee_estimates_by_mode.mode stores them. */
export const ESTIMATE_MODES = ['CONSERVATIVE', 'ECONOMICAL'] as const;
export type EstimateMode = (typeof ESTIMATE_MODES)[number];
const NO_ESTIMATE = -1;
// bitcoind's "method not found": Bitcoin Cash Node and Radiant dropped estimatesmartfee.
const RPC_METHOD_NOT_FOUND = -32601;

/** What one refresh read from the node. Rates are coin per kB. */
export interface NodeFees {
  /** getnetworkinfo relayfee. */
  relayFee: number;
  /** The node's incremental relay fee, or null when it reports none (radiant-node). */
  incrementalFee: number | null;
  /** getmempoolinfo mempoolminfee, or null when the node refused getmempoolinfo. */
  mempoolMinFee: number | null;
  /** fee_rate (-1 when none) for targets 1..25, estimatesmartfee without a mode. */
  estimates: number[];
  /** The same per estimate mode; the no-mode figure where the node refused the mode. */
  estimatesByMode: Record<EstimateMode, number[]>;
}

function nonNegativeOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

function feeRateOf(reply: unknown): number {
  if (reply instanceof DaemonRpcError) return NO_ESTIMATE;
  if (typeof reply === 'number') return reply > 0 ? reply : NO_ESTIMATE;
  if (typeof reply === 'object' && reply !== null && 'feerate' in reply) {
    const rate = (reply as { feerate: unknown }).feerate;
    if (typeof rate === 'number' && rate > 0) return rate;
  }
  return NO_ESTIMATE;
}

const TARGETS = Array.from({ length: FEE_TARGETS_BLOCKS }, (_, i) => i + 1);

/**
 * estimatesmartfee for targets 1..25 without a mode, then with each mode, in one batch. Where the
 * node refuses a mode (an error reply), the no-mode figure stands for it. A node without
 * estimatesmartfee gets estimatefee's one figure everywhere (ElectrumX's daemon.estimatefee).
 */
async function readEstimates(
  daemon: Daemon
): Promise<Pick<NodeFees, 'estimates' | 'estimatesByMode'>> {
  const modes: (EstimateMode | null)[] = [null, ...ESTIMATE_MODES];
  const calls = modes.flatMap((mode) =>
    TARGETS.map((target) => ({
      method: 'estimatesmartfee',
      params: mode === null ? [target] : [target, mode],
    }))
  );
  const replies = await daemon.batch(calls);
  const plain = replies.slice(0, FEE_TARGETS_BLOCKS);
  const unsupported = plain.every(
    (reply) => reply instanceof DaemonRpcError && reply.code === RPC_METHOD_NOT_FOUND
  );
  if (unsupported) {
    const [single] = await daemon.batch([{ method: 'estimatefee', params: [] }]);
    const estimates = TARGETS.map(() => feeRateOf(single));
    return { estimates, estimatesByMode: { CONSERVATIVE: estimates, ECONOMICAL: estimates } };
  }
  const estimates = plain.map(feeRateOf);
  const forMode = (slot: number): number[] =>
    TARGETS.map((_, i) => {
      const reply = replies[slot * FEE_TARGETS_BLOCKS + i];
      return reply instanceof DaemonRpcError ? (estimates[i] ?? NO_ESTIMATE) : feeRateOf(reply);
    });
  return { estimates, estimatesByMode: { CONSERVATIVE: forMode(1), ECONOMICAL: forMode(2) } };
}

interface NetworkInfo {
  relayfee?: unknown;
  incrementalfee?: unknown;
}

interface MempoolInfo {
  mempoolminfee?: unknown;
  incrementalrelayfee?: unknown;
}

/**
 * Asks the node for its fees: getnetworkinfo relayfee and incrementalfee, getmempoolinfo
 * mempoolminfee and incrementalrelayfee (Bitcoin Core 24+, which ElectrumX's mempool_info reads
 * first), and the estimates (readEstimates).
 */
export async function readNodeFees(daemon: Daemon): Promise<NodeFees> {
  const info = await daemon.call<NetworkInfo>('getnetworkinfo');
  const relayFee = typeof info.relayfee === 'number' ? info.relayfee : 0;
  const [reply] = await daemon.batch([{ method: 'getmempoolinfo', params: [] }]);
  const answered = typeof reply === 'object' && reply !== null;
  const mempool = answered && !(reply instanceof DaemonRpcError) ? (reply as MempoolInfo) : {};
  const incrementalFee =
    nonNegativeOrNull(mempool.incrementalrelayfee) ?? nonNegativeOrNull(info.incrementalfee);
  const mempoolMinFee = nonNegativeOrNull(mempool.mempoolminfee);
  return { relayFee, incrementalFee, mempoolMinFee, ...(await readEstimates(daemon)) };
}

/**
 * Writes the fees into chain_state.relay_fee, node_fees, fee_estimates and
 * fee_estimates_by_mode, in one transaction.
 */
export function writeNodeFees(db: IndexDb, fees: NodeFees): void {
  db.transaction(() => {
    db.prepare('UPDATE chain_state SET relay_fee = ? WHERE id = 0').run(fees.relayFee);
    db.prepare(
      'INSERT OR REPLACE INTO node_fees (id, incremental_fee, mempool_min_fee) VALUES (0, ?, ?)'
    ).run(fees.incrementalFee, fees.mempoolMinFee);
    const plain = db.prepare(
      'INSERT OR REPLACE INTO fee_estimates (target_blocks, fee_rate) VALUES (?, ?)'
    );
    fees.estimates.forEach((rate, i) => plain.run(i + 1, rate));
    const byMode = db.prepare(
      'INSERT OR REPLACE INTO fee_estimates_by_mode (mode, target_blocks, fee_rate) ' +
        'VALUES (?, ?, ?)'
    );
    for (const mode of ESTIMATE_MODES) {
      fees.estimatesByMode[mode].forEach((rate, i) => byMode.run(mode, i + 1, rate));
    }
  });
}

/** Fewest milliseconds between two refreshes that new blocks asked for. */
export const NEW_TIP_REFRESH_GAP_MS = 1_000;

/**
 * Cuts runNodeInfo's wait short when a block arrives at the node's tip: the node's estimates
 * move per block, and ElectrumX asks again for each one.
 */
export class NodeInfoWake {
  #asked = false;
  #wake: (() => void) | null = null;

  /** A new tip: refresh soon (at most once per NEW_TIP_REFRESH_GAP_MS). */
  newTip(): void {
    this.#asked = true;
    this.#wake?.();
  }

  /**
   * Waits `delayMs`, or until a new tip once `minMs` have passed, or until the signal aborts.
   * The signal may have fired while the refresh was in flight (the node down, a wrong
   * password): an abort listener added after that would never run.
   */
  wait(delayMs: number, minMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    const startedMs = Date.now();
    return new Promise<void>((done) => {
      let timer = setTimeout(finish, delayMs);
      const early = (): void => {
        clearTimeout(timer);
        timer = setTimeout(finish, Math.max(0, startedMs + minMs - Date.now()));
      };
      function finish(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        done();
      }
      this.#wake = early;
      if (this.#asked) early();
      signal.addEventListener('abort', finish, { once: true });
    }).finally(() => {
      this.#wake = null;
      this.#asked = false;
    });
  }
}

/**
 * Refreshes the fees now and then every `intervalMs`, or sooner after `wake.newTip()`, until the
 * signal aborts. A failed refresh is logged and tried again at the next interval; the previous
 * figures stay meanwhile.
 */
export async function runNodeInfo(
  db: IndexDb,
  daemon: Daemon,
  signal: AbortSignal,
  intervalMs = NODE_INFO_REFRESH_MS,
  wake = new NodeInfoWake()
): Promise<void> {
  while (!signal.aborted) {
    try {
      const fees = await readNodeFees(daemon);
      // During initial sync a flush transaction stays open across node calls; these rows then
      // commit with it (better-sqlite3 nests through a savepoint), which is harmless.
      if (!signal.aborted) writeNodeFees(db, fees);
    } catch (error) {
      if (!signal.aborted) log.warn('node_info_failed', { error });
    }
    await wake.wait(intervalMs, NEW_TIP_REFRESH_GAP_MS, signal);
  }
}
