// The node's verbose transaction JSON (getrawtransaction verbose), built from the raw tx alone.
import { encodeAddress } from '../address.ts';
import { bytesToHex, encodeVarInt, hashToHex } from '../bytes.ts';
import type { Coin } from '../coins.ts';
import { inferDescriptor } from '../descriptor.ts';
import { sha256d } from '../hashes.ts';
import { scriptAsm } from '../script-asm.ts';
import { classifyOutput } from '../script-type.ts';
import type { Tx, TxInput, TxOutput } from '../tx.ts';
import { coinAmount } from './json.ts';

/** Where a confirmed tx sits; absent for a mempool tx, which has no block fields. */
export interface TxBlockContext {
  /** Block hash, internal order. */
  hash: Uint8Array;
  /** The header's time (seconds): both `time` and `blocktime`. */
  time: number;
  /** Tip height - block height + 1. */
  confirmations: number;
}

type Json = Record<string, unknown>;

/**
 * scriptPubKey as the node prints it. Bitcoin Core (22+): asm, desc, hex, address (when there is
 * one), type. Bitcoin Cash Node and radiant-node (core_write.cpp ScriptPubKeyToUniv): asm, hex,
 * reqSigs, type, addresses; reqSigs and addresses only when the output has addresses.
 */
export function scriptPubKeyJson(script: Uint8Array, coin: Coin): Json {
  const output = classifyOutput(script, coin);
  const addresses = output.destinations
    .map((destination) => encodeAddress(destination, coin))
    .filter((address): address is string => address !== null);
  const asm = scriptAsm(script, coin);
  const hex = bytesToHex(script);
  if (coin.name === 'Bitcoin') {
    const address = addresses.length === 1 ? addresses[0] : undefined;
    const desc = inferDescriptor(script, output, address ?? null);
    return { asm, desc, hex, address, type: output.type };
  }
  if (addresses.length === 0) return { asm, hex, type: output.type };
  return { asm, hex, reqSigs: output.required, type: output.type, addresses };
}

function inputJson(input: TxInput, coinbase: boolean, coin: Coin): Json {
  const txinwitness = input.witness?.map(bytesToHex);
  if (coinbase) {
    return { coinbase: bytesToHex(input.script), txinwitness, sequence: input.sequence };
  }
  return {
    txid: hashToHex(input.prevTxid),
    vout: input.prevVout,
    scriptSig: { asm: scriptAsm(input.script, coin, true), hex: bytesToHex(input.script) },
    txinwitness,
    sequence: input.sequence,
  };
}

function outputJson(output: TxOutput, n: number, coin: Coin): Json {
  const scriptPubKey = scriptPubKeyJson(output.script, coin);
  return { value: coinAmount(output.value), n, scriptPubKey };
}

// BIP141: weight = stripped size * 3 + total size, where the stripped serialization lacks the
// marker, flag and witness stacks.
function witnessBytes(tx: Tx): number {
  let bytes = 0;
  for (const input of tx.inputs) {
    if (input.witness === undefined) continue;
    bytes += encodeVarInt(input.witness.length).length;
    for (const item of input.witness) bytes += encodeVarInt(item.length).length + item.length;
  }
  return bytes === 0 ? 0 : bytes + 2;
}

/**
 * getrawtransaction's verbose object for `tx` (rawtransaction.cpp TxToJSON over TxToUniv): txid,
 * hash, version, size (+ vsize and weight on Bitcoin), locktime, vin, vout, hex, then blockhash,
 * confirmations, time and blocktime for a tx in the active chain. Amounts are exact 8-decimal
 * numbers. `hash` is the wtxid on Bitcoin and the txid elsewhere (radiant-node's GetHash and GetId
 * agree, version 3 included).
 */
export function verboseTx(tx: Tx, coin: Coin, block: TxBlockContext | null): Json {
  const size = tx.raw.length;
  const core = coin.name === 'Bitcoin';
  const weight = (size - witnessBytes(tx)) * 3 + size;
  const json: Json = {
    txid: hashToHex(tx.txid),
    hash: core ? hashToHex(sha256d(tx.raw)) : hashToHex(tx.txid),
    version: tx.version,
    size,
    vsize: core ? Math.ceil(weight / 4) : undefined,
    weight: core ? weight : undefined,
    locktime: tx.locktime,
    vin: tx.inputs.map((input) => inputJson(input, tx.isCoinbase, coin)),
    vout: tx.outputs.map((output, n) => outputJson(output, n, coin)),
    hex: bytesToHex(tx.raw),
  };
  if (block === null) return json;
  return {
    ...json,
    blockhash: hashToHex(block.hash),
    confirmations: block.confirmations,
    time: block.time,
    blocktime: block.time,
  };
}
