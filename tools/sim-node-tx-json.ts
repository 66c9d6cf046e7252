// Verbose JSON of blocks, headers and transactions in radiant-node's shapes (blockchain.cpp,
// core_write.cpp TxToUniv, rawtransaction.cpp TxToJSON).
import type { Coin } from '../core/coins.ts';
import { sha256d } from '../core/hashes.ts';
import type { Tx } from '../core/tx.ts';
import { serializeTx } from './block-builder.ts';
import { displayHex, type ChainBlock, type SimChain } from './sim-node-chain.ts';
import { JsonAmount, type JsonValue } from './sim-node-json.ts';
import { describeOutput, scriptToAsm } from './sim-node-script.ts';

type JsonObject = { [key: string]: JsonValue | undefined };

/** The node's GetDifficulty: the genesis target (0x1d00ffff) divided by the block's target. */
export function difficulty(bits: number): number {
  let shift = (bits >>> 24) & 0xff;
  let value = 0x0000ffff / (bits & 0x00ffffff);
  for (; shift < 29; shift++) value *= 256;
  for (; shift > 29; shift--) value /= 256;
  return value;
}

function hex32(value: bigint): string {
  return value.toString(16).padStart(64, '0');
}

function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

/** Confirmations as the node counts them: -1 for a block off the active chain. */
function confirmations(chain: SimChain, block: ChainBlock): number {
  return chain.isActive(block) ? chain.height - block.height + 1 : -1;
}

function neighbours(chain: SimChain, block: ChainBlock): JsonObject {
  const next = chain.isActive(block) ? chain.blockAt(block.height + 1) : undefined;
  return {
    previousblockhash: block.height > 0 ? displayHex(block.header.prevHash) : undefined,
    nextblockhash: next?.hashHex,
  };
}

/** getblockheader (verbose) of a block. */
export function headerToJson(chain: SimChain, block: ChainBlock): JsonObject {
  const h = block.header;
  return {
    hash: block.hashHex,
    confirmations: confirmations(chain, block),
    height: block.height,
    version: h.version,
    versionHex: hex8(h.version),
    merkleroot: displayHex(h.merkleRoot),
    time: h.time,
    mediantime: block.medianTimeSec,
    nonce: h.nonce,
    bits: hex8(h.bits),
    difficulty: difficulty(h.bits),
    chainwork: hex32(block.chainWork),
    nTx: block.txCount,
    ...neighbours(chain, block),
  };
}

/** getblock, verbosity 1 (txids) or 2 (each tx as getrawtransaction shows it, no block fields). */
export function blockToJson(chain: SimChain, block: ChainBlock, verbosity: number): JsonObject {
  const h = block.header;
  const txs = chain.parsed(block).txs;
  return {
    hash: block.hashHex,
    confirmations: confirmations(chain, block),
    size: block.raw.length,
    height: block.height,
    version: h.version,
    versionHex: hex8(h.version),
    merkleroot: displayHex(h.merkleRoot),
    tx: txs.map((tx) => (verbosity >= 2 ? txToJson(tx, chain.coin) : displayHex(tx.txid))),
    time: h.time,
    mediantime: block.medianTimeSec,
    nonce: h.nonce,
    bits: hex8(h.bits),
    difficulty: difficulty(h.bits),
    chainwork: hex32(block.chainWork),
    nTx: block.txCount,
    ...neighbours(chain, block),
  };
}

/** Where a tx was found, for the block fields of getrawtransaction's verbose form. */
export interface TxBlockContext {
  chain: SimChain;
  block: ChainBlock;
}

function inputsToJson(tx: Tx, coin: Coin): JsonValue[] {
  return tx.inputs.map((input) => {
    if (tx.isCoinbase) return { coinbase: hexOf(input.script), sequence: input.sequence };
    return {
      txid: displayHex(input.prevTxid),
      vout: input.prevVout,
      scriptSig: { asm: scriptToAsm(input.script, coin, true), hex: hexOf(input.script) },
      txinwitness: input.witness?.map(hexOf),
      sequence: input.sequence,
    };
  });
}

function outputsToJson(tx: Tx, coin: Coin): JsonValue[] {
  return tx.outputs.map((output, n) => ({
    value: new JsonAmount(output.value),
    n,
    scriptPubKey: {
      asm: scriptToAsm(output.script, coin),
      hex: hexOf(output.script),
      ...describeOutput(output.script, coin),
    },
  }));
}

/**
 * TxToUniv plus, when the tx is confirmed, TxToJSON's blockhash / confirmations / time /
 * blocktime (confirmations 0 and no times for a block off the active chain).
 */
export function txToJson(tx: Tx, coin: Coin, context?: TxBlockContext): JsonObject {
  const entry: JsonObject = {
    txid: displayHex(tx.txid),
    // The hash covers the witness on segwit coins; elsewhere it equals the txid (v3 included).
    hash: coin.segwit ? displayHex(sha256d(tx.raw)) : displayHex(tx.txid),
    version: tx.version,
    size: tx.raw.length,
    ...segwitSizes(tx, coin),
    locktime: tx.locktime,
    vin: inputsToJson(tx, coin),
    vout: outputsToJson(tx, coin),
    hex: hexOf(tx.raw),
  };
  if (context === undefined) return entry;
  const { chain, block } = context;
  if (!chain.isActive(block)) return { ...entry, blockhash: block.hashHex, confirmations: 0 };
  return {
    ...entry,
    blockhash: block.hashHex,
    confirmations: chain.height - block.height + 1,
    time: block.header.time,
    blocktime: block.header.time,
  };
}

// Bitcoin Core's vsize and weight (BIP141: weight = stripped size * 3 + total size).
function segwitSizes(tx: Tx, coin: Coin): JsonObject {
  if (!coin.segwit) return {};
  const strippedBytes = serializeTx({
    version: tx.version,
    inputs: tx.inputs.map(({ witness: _witness, ...input }) => input),
    outputs: tx.outputs,
    locktime: tx.locktime,
  }).length;
  const weight = strippedBytes * 3 + tx.raw.length;
  return { vsize: Math.ceil(weight / 4), weight };
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}
