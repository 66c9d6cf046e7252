// Fee handlers: blockchain.estimatefee, blockchain.relayfee and mempool.get_fee_histogram.
import type { Handler } from '../../core/protocol/dispatch.ts';
import { BAD_REQUEST, RpcError } from '../../core/protocol/errors.ts';
import { parseNonNegativeInteger } from '../../core/protocol/validation.ts';
import type { MethodContext } from './context.ts';

/**
 * blockchain.estimatefee(number): the node's estimate in coin per kB for confirmation within
 * `number` blocks, read from fee_estimates (the Worker cannot ask the node); -1 when unknown.
 */
export const blockchainEstimatefee: Handler<MethodContext> = async ({ index }, [number]) => {
  const targetBlocks = parseNonNegativeInteger(number);
  const feeRate = await index.feeEstimate(targetBlocks);
  return feeRate ?? -1;
};

/** blockchain.relayfee: the node's minimum relay fee in coin per kB (chain_state.relay_fee). */
export const blockchainRelayfee: Handler<MethodContext> = async ({ index }) => {
  const relayFee = await index.relayFee();
  // The indexer reads it from getnetworkinfo at start; before that there is no honest answer.
  if (relayFee === null) throw new RpcError(BAD_REQUEST, 'relay fee not known yet');
  return relayFee;
};

/**
 * mempool.get_fee_histogram: [[fee_rate, vsize], ...].
 * TODO(soon): the mempool task fills mempool_txs; until then the histogram is empty, which is
 * also the true answer for an empty mempool.
 */
export const mempoolGetFeeHistogram: Handler<MethodContext> = () => [];
