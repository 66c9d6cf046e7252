// Fee handlers: blockchain.estimatefee, blockchain.relayfee, mempool.get_fee_histogram and
// mempool.get_info.
import type { Handler } from '../../core/protocol/dispatch.ts';
import { BAD_REQUEST, describeValue, RpcError } from '../../core/protocol/errors.ts';
import { compactFeeHistogram } from '../../core/protocol/fee-histogram.ts';
import { coinAmount, type RawJson } from '../../core/protocol/json.ts';
import { parseNonNegativeInteger } from '../../core/protocol/validation.ts';
import type { MethodContext } from './context.ts';

// estimatesmartfee's estimate_mode values (protocol 1.6 passes them through to the node).
const ESTIMATE_MODES = new Set(['CONSERVATIVE', 'ECONOMICAL']);

/**
 * blockchain.estimatefee(number, mode=None): the node's estimate in coin per kB for confirmation
 * within `number` blocks, read from fee_estimates (the Worker cannot ask the node); -1 when
 * unknown. A `mode` other than the node's two is refused, as ElectrumX refuses it.
 * TODO(soon): the indexer keeps the estimates of the node's default mode only, so a valid `mode`
 * gets those too.
 */
export const blockchainEstimatefee: Handler<MethodContext> = async ({ index }, [number, mode]) => {
  const targetBlocks = parseNonNegativeInteger(number);
  if (typeof mode === 'string' && !ESTIMATE_MODES.has(mode.toUpperCase())) {
    const message = `unknown estimatefee mode: ${describeValue(mode.toUpperCase())}`;
    throw new RpcError(BAD_REQUEST, message);
  }
  const feeRate = await index.feeEstimate(targetBlocks);
  return feeRate ?? -1;
};

async function relayFeeOrThrow({ index }: MethodContext): Promise<number> {
  const relayFee = await index.relayFee();
  // The indexer reads it from getnetworkinfo at start; before that there is no honest answer.
  if (relayFee === null) throw new RpcError(BAD_REQUEST, 'relay fee not known yet');
  return relayFee;
}

/** blockchain.relayfee (until 1.6): the node's minimum relay fee in coin per kB. */
export const blockchainRelayfee: Handler<MethodContext> = (context) => relayFeeOrThrow(context);

/**
 * mempool.get_fee_histogram: [[fee_rate, vsize], ...] over mempool_txs, highest rate first, in
 * ElectrumX's variable-width bins (core/protocol/fee-histogram.ts).
 */
export const mempoolGetFeeHistogram: Handler<MethodContext> = async ({ index }) => {
  return compactFeeHistogram(await index.feeRateBuckets());
};

// A fee rate in coin per kB as the node prints amounts: a number with 8 decimals.
function feeRateJson(coinPerKb: number): RawJson {
  return coinAmount(BigInt(Math.round(coinPerKb * 1e8)));
}

/**
 * mempool.get_info (from 1.6): {mempoolminfee, minrelaytxfee, incrementalrelayfee} in coin per
 * kB. TODO(soon): the index keeps only getnetworkinfo's relayfee, so all three report it. That
 * is the node's answer while its mempool is not full and the operator kept the default
 * incremental fee (equal to the default minimum relay fee in Bitcoin Core and Bitcoin Cash Node).
 */
export const mempoolGetInfo: Handler<MethodContext> = async (context) => {
  const relayFee = feeRateJson(await relayFeeOrThrow(context));
  return { mempoolminfee: relayFee, minrelaytxfee: relayFee, incrementalrelayfee: relayFee };
};
