// Transaction handlers: raw and verbose txs, merkle proofs, txids by block position, broadcast.
import { ParseError } from '../../core/byte-reader.ts';
import { bytesToHex, hashToHex, hexToBytes } from '../../core/bytes.ts';
import { branchFromLevels } from '../../core/merkle.ts';
import type { Handler } from '../../core/protocol/dispatch.ts';
import {
  BAD_REQUEST,
  DAEMON_ERROR,
  describeValue,
  RpcError,
  withThousands,
} from '../../core/protocol/errors.ts';
import { responseTooLarge } from '../../core/protocol/framing.ts';
import { parseFlag, parseNonNegativeInteger, parseTxHash } from '../../core/protocol/validation.ts';
import { verboseTx } from '../../core/protocol/verbose-tx.ts';
import { parseTx } from '../../core/tx.ts';
import { blockTree, leafAt, leafPosition, withBuildCost } from './block-trees.ts';
import type { MethodContext } from './context.ts';
import { cachedAnswer, isFinal, rememberAnswer } from './final-answers.ts';
import { heightOutOfRange } from './headers.ts';

/**
 * What ElectrumX sends for a txid the node does not know: the node's getrawtransaction error
 * (RPC_INVALID_ADDRESS_OR_KEY, -5) wrapped in its DAEMON_ERROR text. Wallets match on the
 * node's sentence, so it is kept word for word.
 */
export const UNKNOWN_TX_MESSAGE =
  "daemon error: DaemonError({'code': -5, 'message': 'No such mempool or blockchain transaction. " +
  "Use gettransaction for wallet transactions.'})";

/** The reply to a broadcast on a Worker without RELAY_URL and RELAY_SECRET. */
export const NO_RELAY_MESSAGE = 'this server does not broadcast transactions';

function noTxAt(position: number, height: number): RpcError {
  const where = `position ${withThousands(position)} in block at height ${withThousands(height)}`;
  return new RpcError(BAD_REQUEST, `no tx at ${where}`);
}

// The fewest bytes the verbose form spends on each input and output beside the raw hex: an
// empty scriptSig ({"txid":"<64>","vout":0,"scriptSig":{"asm":"","hex":""},"sequence":0}, is
// 129), an empty nonstandard scriptPubKey (74 with its comma).
const VERBOSE_INPUT_BYTES = 100;
const VERBOSE_OUTPUT_BYTES = 70;

/**
 * blockchain.transaction.get(tx_hash, verbose=false): the raw tx as hex, confirmed or not; with
 * verbose the node's getrawtransaction JSON built from the index (block fields when confirmed).
 */
export const transactionGet: Handler<MethodContext> = async (context, params, room) => {
  const [txHash, verboseParam] = params;
  const txid = parseTxHash(txHash);
  const verbose = parseFlag(verboseParam, 'verbose');
  const key = `blockchain.transaction.get:${hashToHex(txid)}`;
  const cached = verbose ? undefined : await cachedAnswer(context, key);
  if (cached !== undefined) return cached;
  const record = await context.index.txRecord(txid);
  if (record === null) throw new RpcError(DAEMON_ERROR, UNKNOWN_TX_MESSAGE);
  // Both forms carry the raw tx as hex: one that cannot fit is not encoded.
  if (!room.claim(record.raw.length * 2)) throw responseTooLarge(room.maxSendBytes);
  const { block, tipHeight } = record;
  if (!verbose) {
    const hex = bytesToHex(record.raw);
    if (block !== null && isFinal(context, block.height, tipHeight)) {
      await rememberAnswer(context, key, hex);
    }
    return hex;
  }
  const tx = parseTx(record.raw, context.coin);
  // The verbose form's least size, claimed before its JSON is built.
  const inputsBytes = tx.inputs.length * VERBOSE_INPUT_BYTES;
  const least = record.raw.length * 2 + inputsBytes + tx.outputs.length * VERBOSE_OUTPUT_BYTES;
  if (!room.claim(least)) throw responseTooLarge(room.maxSendBytes);
  const where =
    block === null
      ? null
      : { hash: block.hash, time: block.time, confirmations: tipHeight - block.height + 1 };
  return verboseTx(tx, context.coin, where);
};

/** blockchain.transaction.get_merkle(tx_hash, height): {block_height, merkle, pos}. */
export const transactionGetMerkle: Handler<MethodContext> = async (context, params) => {
  const [txHash, heightParam] = params;
  const txid = parseTxHash(txHash);
  const height = parseNonNegativeInteger(heightParam);
  const key = `blockchain.transaction.get_merkle:${hashToHex(txid)}:${height}`;
  const cached = await cachedAnswer(context, key);
  if (cached !== undefined) return cached;
  const tree = await blockTree(context, height);
  if (tree === null) throw heightOutOfRange(height);
  const pos = leafPosition(tree, txid);
  if (pos < 0) {
    const message = `tx ${hashToHex(txid)} not in block at height ${withThousands(height)}`;
    throw new RpcError(BAD_REQUEST, message);
  }
  // Every supported chain builds its tx merkle tree with SHA-256d, Radiant included (DESIGN §3).
  const merkle = branchFromLevels(tree.levels, pos).map(hashToHex);
  const result = { block_height: height, merkle, pos };
  if (isFinal(context, height, tree.tipHeight)) await rememberAnswer(context, key, result);
  return withBuildCost(result, tree);
};

/**
 * blockchain.transaction.id_from_pos(height, tx_pos, merkle=false): the txid, or
 * {tx_hash, merkle} with its branch.
 */
export const transactionIdFromPos: Handler<MethodContext> = async (context, params) => {
  const [heightParam, posParam, merkleParam] = params;
  // Checked in ElectrumX's order: position, height, then the flag.
  const pos = parseNonNegativeInteger(posParam);
  const height = parseNonNegativeInteger(heightParam);
  const withMerkle = parseFlag(merkleParam, 'merkle');
  if (!withMerkle) {
    const txid = await context.index.txidAt(height, pos);
    if (txid === null) throw heightOutOfRange(height);
    if (txid === undefined) throw noTxAt(pos, height);
    return hashToHex(txid);
  }
  const tree = await blockTree(context, height);
  if (tree === null) throw heightOutOfRange(height);
  const txid = leafAt(tree, pos);
  if (txid === undefined) throw noTxAt(pos, height);
  const merkle = branchFromLevels(tree.levels, pos).map(hashToHex);
  return withBuildCost({ tx_hash: hashToHex(txid), merkle }, tree);
};

/**
 * blockchain.transaction.broadcast(raw_tx): the txid once the node accepted the tx. Hex that is
 * not one transaction is refused here without troubling the node; the node's own rejection
 * comes back in ElectrumX's words with the node's message verbatim.
 */
export const transactionBroadcast: Handler<MethodContext> = async ({ coin, relay }, [rawTx]) => {
  if (typeof rawTx !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(rawTx)) {
    throw new RpcError(BAD_REQUEST, `${describeValue(rawTx)} should be a hex string`);
  }
  try {
    parseTx(hexToBytes(rawTx), coin);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    const message = `${describeValue(rawTx)} is not a valid transaction: ${error.message}`;
    throw new RpcError(BAD_REQUEST, message);
  }
  // Said plainly: a wallet can tell its user to broadcast elsewhere (README: RELAY_URL and
  // RELAY_SECRET).
  if (relay === undefined) throw new RpcError(DAEMON_ERROR, NO_RELAY_MESSAGE);
  return relay.broadcast(rawTx);
};
