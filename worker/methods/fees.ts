// Fee handlers: blockchain.estimatefee, blockchain.relayfee, mempool.get_fee_histogram and
// mempool.get_info.
import type { Handler } from '../../core/protocol/dispatch.ts';
import { BAD_REQUEST, describeValue, RpcError } from '../../core/protocol/errors.ts';
import { compactFeeHistogram } from '../../core/protocol/fee-histogram.ts';
import { coinAmount, type RawJson } from '../../core/protocol/json.ts';
import { parseNonNegativeInteger } from '../../core/protocol/validation.ts';
import type { EstimateMode } from '../index-reader.ts';
import type { MethodContext } from './context.ts';

// estimatesmartfee's estimate_mode values (protocol 1.6 passes them through to the node).
const ESTIMATE_MODES: ReadonlySet<string> = new Set<EstimateMode>(['CONSERVATIVE', 'ECONOMICAL']);

function isEstimateMode(mode: string): mode is EstimateMode {
  return ESTIMATE_MODES.has(mode);
}

// No mode (absent or null) asks for the node's default estimate, as ElectrumX's daemon does; any
// other value than the node's two modes is refused, as ElectrumX refuses it.
function parseEstimateMode(mode: unknown): EstimateMode | undefined {
  if (mode === undefined || mode === null) return undefined;
  const name = typeof mode === 'string' ? mode.toUpperCase() : mode;
  if (typeof name === 'string' && isEstimateMode(name)) return name;
  throw new RpcError(BAD_REQUEST, `unknown estimatefee mode: ${describeValue(name)}`);
}

/**
 * blockchain.estimatefee(number, mode=None): the node's estimate in coin per kB for confirmation
 * within `number` blocks, read from fee_estimates, or per `mode` from fee_estimates_by_mode (the
 * Worker cannot ask the node); -1 when unknown.
 */
export const blockchainEstimatefee: Handler<MethodContext> = async ({ index }, [number, mode]) => {
  const targetBlocks = parseNonNegativeInteger(number);
  const feeRate = await index.feeEstimate(targetBlocks, parseEstimateMode(mode));
  return feeRate ?? -1;
};

// The indexer reads the fees from the node at start; before that there is no honest answer.
function notKnownYet(): RpcError {
  return new RpcError(BAD_REQUEST, 'relay fee not known yet');
}

/** blockchain.relayfee (until 1.6): the node's minimum relay fee in coin per kB. */
export const blockchainRelayfee: Handler<MethodContext> = async ({ index }) => {
  const relayFee = await index.relayFee();
  if (relayFee === null) throw notKnownYet();
  return relayFee;
};

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
 * kB, the node's getmempoolinfo fields as ElectrumX's daemon.mempool_info passes them on. Before
 * the indexer's first read of getmempoolinfo, mempoolminfee is the relay fee: the node reports
 * the larger of the two, equal while its mempool is not full. A node that reports no incremental
 * fee (radiant-node fixes it in policy.h as MEMPOOL_FULL_FEE_INCREMENT, 100 photons/kB) gets the
 * relay fee, a larger step that always suffices.
 */
export const mempoolGetInfo: Handler<MethodContext> = async ({ index }) => {
  const fees = await index.mempoolFees();
  if (fees === null) throw notKnownYet();
  const { relayFee, mempoolMinFee, incrementalFee } = fees;
  return {
    mempoolminfee: feeRateJson(mempoolMinFee ?? relayFee),
    minrelaytxfee: feeRateJson(relayFee),
    incrementalrelayfee: feeRateJson(incrementalFee ?? relayFee),
  };
};
