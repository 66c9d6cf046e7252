// The handler of each Electrum method, by the names of core/protocol/methods.ts.
import type { Handler } from '../core/protocol/dispatch.ts';
import { refusingOtherChains } from './index-check.ts';
import type { MethodContext } from './methods/context.ts';
import {
  blockchainEstimatefee,
  blockchainRelayfee,
  mempoolGetFeeHistogram,
  mempoolGetInfo,
} from './methods/fees.ts';
import { blockHeader, blockHeaders, headersSubscribe } from './methods/headers.ts';
import { refGet } from './methods/refs.ts';
import {
  scripthashGetBalance,
  scripthashGetHistory,
  scripthashGetMempool,
  scripthashListunspent,
  scripthashSubscribe,
  scripthashUnsubscribe,
} from './methods/scripthash.ts';
import {
  serverAddPeer,
  serverBanner,
  serverDonationAddress,
  serverFeatures,
  serverPeersSubscribe,
  serverPing,
  serverVersion,
} from './methods/server.ts';
import {
  transactionBroadcast,
  transactionGet,
  transactionGetMerkle,
  transactionIdFromPos,
} from './methods/transaction.ts';

const METHOD_HANDLERS: Readonly<Record<string, Handler<MethodContext>>> = {
  'server.version': serverVersion,
  'server.features': serverFeatures,
  'server.banner': serverBanner,
  'server.donation_address': serverDonationAddress,
  'server.ping': serverPing,
  'server.peers.subscribe': serverPeersSubscribe,
  'server.add_peer': serverAddPeer,
  'blockchain.headers.subscribe': headersSubscribe,
  'blockchain.block.header': blockHeader,
  'blockchain.block.headers': blockHeaders,
  'blockchain.estimatefee': blockchainEstimatefee,
  'blockchain.relayfee': blockchainRelayfee,
  'blockchain.scripthash.get_balance': scripthashGetBalance,
  'blockchain.scripthash.get_history': scripthashGetHistory,
  'blockchain.scripthash.get_mempool': scripthashGetMempool,
  'blockchain.scripthash.listunspent': scripthashListunspent,
  'blockchain.scripthash.subscribe': scripthashSubscribe,
  'blockchain.scripthash.unsubscribe': scripthashUnsubscribe,
  'blockchain.transaction.broadcast': transactionBroadcast,
  'blockchain.transaction.get': transactionGet,
  'blockchain.transaction.get_merkle': transactionGetMerkle,
  'blockchain.transaction.id_from_pos': transactionIdFromPos,
  'blockchain.ref.get': refGet,
  'mempool.get_fee_histogram': mempoolGetFeeHistogram,
  'mempool.get_info': mempoolGetInfo,
};

/**
 * Method name to handler; a name missing here is answered as an unknown method. Each refuses to
 * answer while the index is of another chain than COIN/NET (worker/index-check.ts).
 */
export const HANDLERS: Readonly<Record<string, Handler<MethodContext>>> = Object.fromEntries(
  Object.entries(METHOD_HANDLERS).map(([name, handler]) => [name, refusingOtherChains(handler)])
);
