// Builds valid transactions and blocks for any coin: coinbase, serialization, merkle root, nonce.
import { concatBytes, hexToHash, u32LE, u64LE } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { merkleRoot } from '../core/merkle.ts';
import { parseTx } from '../core/tx.ts';

/** Compact target of regtest on every coin: about every second header hash meets it. */
export const REGTEST_BITS = 0x207fffff;
/** Block version the builder writes unless told otherwise (BIP9 top bits, no signalling). */
export const DEFAULT_BLOCK_VERSION = 0x20000000;
/** Bound on the nonce search, so a hard `bits` fails in seconds instead of grinding for hours. */
export const MAX_NONCE_TRIES = 1 << 20;

const COINBASE_PREV_VOUT = 0xffffffff;
const FINAL_SEQUENCE = 0xffffffff;

/** An input to serialize; `prevTxid` in internal order, `witness` only for segwit spends. */
export interface TxInputSpec {
  prevTxid: Uint8Array;
  prevVout: number;
  script: Uint8Array;
  sequence: number;
  witness?: Uint8Array[];
}

/** An output to serialize; `value` in satoshis / photons. */
export interface TxOutputSpec {
  value: bigint;
  script: Uint8Array;
}

/** The fields of a transaction, as serializeTx writes them. */
export interface TxSpec {
  version: number;
  inputs: TxInputSpec[];
  outputs: TxOutputSpec[];
  locktime: number;
}

/** CompactSize varint (the node's WriteCompactSize). */
export function encodeVarInt(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint of ${value}`);
  if (value < 0xfd) return Uint8Array.of(value);
  if (value <= 0xffff) return Uint8Array.of(0xfd, value & 0xff, value >>> 8);
  if (value <= 0xffffffff) return concatBytes(Uint8Array.of(0xfe), u32LE(value));
  return concatBytes(Uint8Array.of(0xff), u64LE(BigInt(value)));
}

function varBytes(bytes: Uint8Array): Uint8Array {
  return concatBytes(encodeVarInt(bytes.length), bytes);
}

/**
 * Serializes a transaction: the legacy format, or BIP144 (marker 0x00, flag 0x01, witnesses after
 * the outputs) when any input carries a witness.
 */
export function serializeTx(tx: TxSpec): Uint8Array {
  const parts: Uint8Array[] = [u32LE(tx.version >>> 0)];
  const segwit = tx.inputs.some((input) => input.witness !== undefined);
  if (segwit) parts.push(Uint8Array.of(0x00, 0x01));
  parts.push(encodeVarInt(tx.inputs.length));
  for (const input of tx.inputs) {
    if (input.prevTxid.length !== 32) {
      throw new RangeError(`prevTxid must be 32 bytes, got ${input.prevTxid.length}`);
    }
    parts.push(input.prevTxid, u32LE(input.prevVout), varBytes(input.script));
    parts.push(u32LE(input.sequence));
  }
  parts.push(encodeVarInt(tx.outputs.length));
  for (const output of tx.outputs) parts.push(u64LE(output.value), varBytes(output.script));
  if (segwit) {
    for (const input of tx.inputs) {
      const stack = input.witness ?? [];
      parts.push(encodeVarInt(stack.length), ...stack.map(varBytes));
    }
  }
  parts.push(u32LE(tx.locktime));
  return concatBytes(...parts);
}

/**
 * The script a node writes for `CScript() << height`: OP_0 for 0, OP_1..OP_16 for 1..16, else a
 * minimal little-endian script number push (BIP34; the node's CScriptNum::serialize).
 */
export function heightPush(height: number): Uint8Array {
  if (!Number.isSafeInteger(height) || height < 0) throw new RangeError(`height ${height}`);
  if (height === 0) return Uint8Array.of(0x00);
  if (height <= 16) return Uint8Array.of(0x50 + height);
  const digits: number[] = [];
  for (let rest = height; rest > 0; rest = Math.floor(rest / 256)) digits.push(rest % 256);
  // A set top bit would read as a negative number: add a zero byte (CScriptNum sign rule).
  if (((digits[digits.length - 1] ?? 0) & 0x80) !== 0) digits.push(0);
  return Uint8Array.of(digits.length, ...digits);
}

/**
 * A coinbase transaction paying `value` to `script`. Its scriptSig starts with the BIP34 height
 * push, so coinbases of different heights have different txids; `tag` (pushed after it) tells
 * apart coinbases of one height on competing branches. The scriptSig is padded to the 2-byte
 * minimum a node enforces ("bad-cb-length").
 */
export function buildCoinbase(
  height: number,
  script: Uint8Array,
  value: bigint,
  tag: Uint8Array = new Uint8Array(0)
): Uint8Array {
  if (tag.length > 75) throw new RangeError(`coinbase tag of ${tag.length} bytes (max 75)`);
  const parts = [heightPush(height)];
  if (tag.length > 0) parts.push(varBytes(tag));
  let scriptSig = concatBytes(...parts);
  if (scriptSig.length < 2) scriptSig = concatBytes(scriptSig, Uint8Array.of(0x00));
  return serializeTx({
    version: 1,
    inputs: [
      {
        prevTxid: new Uint8Array(32),
        prevVout: COINBASE_PREV_VOUT,
        script: scriptSig,
        sequence: FINAL_SEQUENCE,
      },
    ],
    outputs: [{ value, script }],
    locktime: 0,
  });
}

/**
 * The 256-bit target a compact `bits` value encodes (the node's arith_uint256::SetCompact).
 * @throws RangeError for a negative or overflowing encoding, which no valid header carries.
 */
export function bitsToTarget(bits: number): bigint {
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  if ((bits & 0x00800000) !== 0 && mantissa !== 0) {
    throw new RangeError(`bits ${bits.toString(16)} encode a negative target`);
  }
  const target =
    exponent <= 3
      ? BigInt(mantissa >>> (8 * (3 - exponent)))
      : BigInt(mantissa) << BigInt(8 * (exponent - 3));
  if (target >= 1n << 256n) throw new RangeError(`bits ${bits.toString(16)} overflow 256 bits`);
  return target;
}

/** A header hash (internal order) read as the little-endian number the target is compared to. */
export function hashToNumber(hash: Uint8Array): bigint {
  let value = 0n;
  for (let i = hash.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(hash[i] ?? 0);
  return value;
}

/** What buildBlock needs; `prevHash` is display hex, `txs` raw transactions, coinbase first. */
export interface BlockSpec {
  coin: Coin;
  prevHash: string;
  txs: Uint8Array[];
  /** Header time, seconds since the epoch. */
  time: number;
  /** Compact target; REGTEST_BITS when omitted. */
  bits?: number;
  version?: number;
  /** Bound on the nonce search (default MAX_NONCE_TRIES). */
  maxNonceTries?: number;
}

/**
 * Serializes a block whose merkle root folds its txids (computed by core's parseTx, so Radiant
 * version 3 and segwit txid rules apply) and whose nonce meets `bits` under the coin's header hash.
 * Returns the block as lowercase hex.
 * @throws RangeError when no nonce below the bound meets the target.
 */
export function buildBlock(spec: BlockSpec): string {
  if (spec.txs.length === 0) throw new RangeError('a block needs at least its coinbase');
  const bits = spec.bits ?? REGTEST_BITS;
  const target = bitsToTarget(bits);
  const root = merkleRoot(spec.txs.map((raw) => parseTx(raw, spec.coin).txid));
  const header = concatBytes(
    u32LE((spec.version ?? DEFAULT_BLOCK_VERSION) >>> 0),
    hexToHash(spec.prevHash),
    root,
    u32LE(spec.time),
    u32LE(bits),
    u32LE(0)
  );
  grindNonce(header, target, spec.coin, spec.maxNonceTries ?? MAX_NONCE_TRIES);
  const body = concatBytes(header, encodeVarInt(spec.txs.length), ...spec.txs);
  return Buffer.from(body.buffer, body.byteOffset, body.length).toString('hex');
}

/** Writes the first nonce whose header hash meets `target` into bytes 76..79 of `header`. */
function grindNonce(header: Uint8Array, target: bigint, coin: Coin, maxTries: number): void {
  for (let nonce = 0; nonce < maxTries; nonce++) {
    header.set(u32LE(nonce), 76);
    if (hashToNumber(coin.headerHash(header)) <= target) return;
  }
  throw new RangeError(
    `no nonce below ${maxTries} meets target ${target.toString(16)}; use easier bits`
  );
}
