// The node's relay fee and fee estimates, copied into the index for the Worker every minute.
import { DaemonRpcError, type Daemon } from './daemon.ts';
import type { IndexDb } from './db.ts';
import { log } from './log.ts';

export const FEE_TARGETS_BLOCKS = 25;
export const NODE_INFO_REFRESH_MS = 60_000;
const NO_ESTIMATE = -1;
// bitcoind's "method not found": Bitcoin Cash Node and Radiant dropped estimatesmartfee.
const RPC_METHOD_NOT_FOUND = -32601;

/** What one refresh read from the node. */
export interface NodeFees {
  /** Coin per kB. */
  relayFee: number;
  /** fee_rate (coin per kB, -1 when none) for targets 1..25. */
  estimates: number[];
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

/** Asks the node for its relay fee and estimatesmartfee 1..25 (estimatefee where that is gone). */
export async function readNodeFees(daemon: Daemon): Promise<NodeFees> {
  const info = await daemon.call<{ relayfee?: unknown }>('getnetworkinfo');
  const relayFee = typeof info.relayfee === 'number' ? info.relayfee : 0;
  const targets = Array.from({ length: FEE_TARGETS_BLOCKS }, (_, i) => i + 1);
  const replies = await daemon.batch(
    targets.map((target) => ({ method: 'estimatesmartfee', params: [target] }))
  );
  const unsupported = replies.every(
    (reply) => reply instanceof DaemonRpcError && reply.code === RPC_METHOD_NOT_FOUND
  );
  if (!unsupported) return { relayFee, estimates: replies.map(feeRateOf) };
  const single = await daemon.batch([{ method: 'estimatefee', params: [] }]);
  return { relayFee, estimates: targets.map(() => feeRateOf(single[0])) };
}

/** Writes the fees into chain_state.relay_fee and fee_estimates, in one transaction. */
export function writeNodeFees(db: IndexDb, fees: NodeFees): void {
  db.transaction(() => {
    db.prepare('UPDATE chain_state SET relay_fee = ? WHERE id = 0').run(fees.relayFee);
    const upsert = db.prepare(
      'INSERT OR REPLACE INTO fee_estimates (target_blocks, fee_rate) VALUES (?, ?)'
    );
    fees.estimates.forEach((rate, i) => upsert.run(i + 1, rate));
  });
}

/**
 * Refreshes the fees now and then every `intervalMs` until the signal aborts. A failed refresh
 * is logged and tried again at the next interval; the previous figures stay meanwhile.
 */
export async function runNodeInfo(
  db: IndexDb,
  daemon: Daemon,
  signal: AbortSignal,
  intervalMs = NODE_INFO_REFRESH_MS
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
    await new Promise<void>((done) => {
      const timer = setTimeout(finish, intervalMs);
      function finish(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        done();
      }
      signal.addEventListener('abort', finish, { once: true });
    });
  }
}
