// Transaction parsing and txids: legacy, BIP144 segwit (Bitcoin) and Radiant version 3.
import { ByteReader, ParseError, readCount } from './byte-reader.ts';
import { compareBytes, concatBytes, reverseBytes, u32LE, u64LE } from './bytes.ts';
import type { Coin } from './coins.ts';
import { sha256d } from './hashes.ts';
import { REF_BYTES, scriptOps, OP_PUSHINPUTREF, OP_PUSHINPUTREFSINGLETON } from './script.ts';

/** One input of a transaction. */
export interface TxInput {
  /** Txid of the spent output's tx, internal order (all zero for a coinbase). */
  prevTxid: Uint8Array;
  prevVout: number;
  /** scriptSig (view into the raw tx). */
  script: Uint8Array;
  sequence: number;
  /** BIP144 witness stack items; present only on txs serialized with witness data. */
  witness?: Uint8Array[];
}

/** One output of a transaction. */
export interface TxOutput {
  /** Amount in satoshis / photons (int64 in the node). */
  value: bigint;
  /** scriptPubKey (view into the raw tx). */
  script: Uint8Array;
}

/** A parsed transaction; byte fields are views into the buffer it was read from. */
export interface Tx {
  version: number;
  inputs: TxInput[];
  outputs: TxOutput[];
  locktime: number;
  /** Internal order: stripped serialization for segwit, Radiant v3 rule for version 3. */
  txid: Uint8Array;
  /** The full serialization as received (view, witness included). */
  raw: Uint8Array;
  isCoinbase: boolean;
}

// Smallest serializations (bytes): input = prevout 36 + script length 1 + sequence 4;
// output = value 8 + script length 1; witness stack = its item count 1; item = its length 1.
const MIN_INPUT_BYTES = 41;
const MIN_OUTPUT_BYTES = 9;
const MIN_WITNESS_ITEM_BYTES = 1;
const COINBASE_PREV_VOUT = 0xffffffff;

/**
 * Reads one transaction at the reader's position, leaving the reader after it.
 * @throws ParseError on truncation, absurd counts, or a segwit marker on a non-segwit coin.
 */
export function readTx(reader: ByteReader, coin: Coin): Tx {
  const start = reader.offset;
  const version = reader.readI32LE('tx version');
  const segwit = hasWitnessMarker(reader, coin);
  const bodyStart = reader.offset;
  const inputs = readInputs(reader);
  const outputs = readOutputs(reader);
  const bodyEnd = reader.offset;
  if (segwit) readWitnesses(reader, inputs);
  const locktime = reader.readU32LE('tx locktime');
  const raw = reader.bytes.subarray(start, reader.offset);
  const tx = { version, inputs, outputs, locktime, raw, isCoinbase: isCoinbaseInputs(inputs) };
  let txid: Uint8Array;
  if (coin.radiant && version === 3) txid = radiantV3Txid(tx);
  else if (segwit) {
    const stripped = concatBytes(
      raw.subarray(0, 4),
      reader.bytes.subarray(bodyStart, bodyEnd),
      raw.subarray(raw.length - 4)
    );
    txid = sha256d(stripped);
  } else txid = sha256d(raw);
  return { ...tx, txid };
}

/**
 * Parses bytes that must hold exactly one transaction.
 * @throws ParseError on truncation, trailing bytes or any error of readTx.
 */
export function parseTx(bytes: Uint8Array, coin: Coin): Tx {
  const reader = new ByteReader(bytes);
  const tx = readTx(reader, coin);
  if (!reader.done) {
    throw new ParseError(`${reader.remaining} trailing bytes after tx at offset ${reader.offset}`);
  }
  return tx;
}

/**
 * BIP144: a 0x00 marker where the input count would be, followed by flag 0x01. Consumes both
 * when present. On a coin without segwit the same two bytes are refused rather than read as a
 * tx with no inputs, so a Bitcoin block fed to a Radiant indexer fails loudly.
 */
function hasWitnessMarker(reader: ByteReader, coin: Coin): boolean {
  const at = reader.offset;
  if (reader.bytes[at] !== 0x00 || reader.bytes[at + 1] !== 0x01) return false;
  if (!coin.segwit) {
    throw new ParseError(`segwit marker at offset ${at} but ${coin.name} has no segwit`);
  }
  reader.readBytes(2, 'segwit marker and flag');
  return true;
}

function readInputs(reader: ByteReader): TxInput[] {
  const count = readCount(reader, MIN_INPUT_BYTES, 'tx input');
  const inputs: TxInput[] = [];
  for (let i = 0; i < count; i++) {
    const prevTxid = reader.readBytes(32, `input ${i} prev txid`);
    const prevVout = reader.readU32LE(`input ${i} prev vout`);
    const script = reader.readVarBytes(`input ${i} script`);
    const sequence = reader.readU32LE(`input ${i} sequence`);
    inputs.push({ prevTxid, prevVout, script, sequence });
  }
  return inputs;
}

function readOutputs(reader: ByteReader): TxOutput[] {
  const count = readCount(reader, MIN_OUTPUT_BYTES, 'tx output');
  const outputs: TxOutput[] = [];
  for (let i = 0; i < count; i++) {
    const value = reader.readI64LE(`output ${i} value`);
    const script = reader.readVarBytes(`output ${i} script`);
    outputs.push({ value, script });
  }
  return outputs;
}

function readWitnesses(reader: ByteReader, inputs: TxInput[]): void {
  for (const [i, input] of inputs.entries()) {
    const count = readCount(reader, MIN_WITNESS_ITEM_BYTES, `input ${i} witness item`);
    const witness: Uint8Array[] = [];
    for (let j = 0; j < count; j++) witness.push(reader.readVarBytes(`input ${i} witness ${j}`));
    input.witness = witness;
  }
}

function isCoinbaseInputs(inputs: TxInput[]): boolean {
  const only = inputs[0];
  if (inputs.length !== 1 || only === undefined) return false;
  return only.prevVout === COINBASE_PREV_VOUT && only.prevTxid.every((byte) => byte === 0);
}

/** The fields of a tx that its Radiant version 3 txid covers. */
export type TxIdFields = Pick<Tx, 'version' | 'inputs' | 'outputs' | 'locktime'>;

/**
 * Radiant txid of a version 3 tx (DESIGN §3; radiant-node primitives/transaction.cpp
 * GetTransactionHashPreimage): sha256d of version, input count, hash of prevouts with their
 * scriptSig hashes, hash of sequences, output count, hash of output summaries, locktime.
 */
export function radiantV3Txid(tx: TxIdFields): Uint8Array {
  const inputParts: Uint8Array[] = [];
  const sequenceParts: Uint8Array[] = [];
  for (const input of tx.inputs) {
    inputParts.push(input.prevTxid, u32LE(input.prevVout), sha256d(input.script));
    sequenceParts.push(u32LE(input.sequence));
  }
  const outputParts = tx.outputs.map(outputSummary);
  return sha256d(
    concatBytes(
      u32LE(tx.version >>> 0),
      u32LE(tx.inputs.length),
      sha256d(concatBytes(...inputParts)),
      sha256d(concatBytes(...sequenceParts)),
      u32LE(tx.outputs.length),
      sha256d(concatBytes(...outputParts)),
      u32LE(tx.locktime)
    )
  );
}

/**
 * value (i64 LE) | sha256d(script) | ref count (u32 LE) | refs hash: the output's push-refs
 * (0xd0 and 0xd8 operands) deduplicated and sorted as the node's std::set<uint288> iterates,
 * i.e. as 288-bit little-endian numbers (compare from the last byte), then sha256d of their
 * concatenation; 32 zero bytes when there are none.
 */
function outputSummary(output: TxOutput): Uint8Array {
  const refs = sortedPushRefSet(output.script);
  const refsHash = refs.length === 0 ? new Uint8Array(32) : sha256d(concatBytes(...refs));
  return concatBytes(u64LE(output.value), sha256d(output.script), u32LE(refs.length), refsHash);
}

function sortedPushRefSet(script: Uint8Array): Uint8Array[] {
  const byKey = new Map<string, Uint8Array>();
  for (const op of scriptOps(script)) {
    if (op.opcode !== OP_PUSHINPUTREF && op.opcode !== OP_PUSHINPUTREFSINGLETON) continue;
    const ref = script.subarray(op.operandStart, op.operandStart + REF_BYTES);
    byKey.set(String.fromCharCode(...ref), ref);
  }
  const refs = [...byKey.values()];
  // Comparing the reversed bytes lexicographically = comparing little-endian numbers.
  refs.sort((a, b) => compareBytes(reverseBytes(a), reverseBytes(b)));
  return refs;
}
