// Output scripts: unspendable outputs, script hashes for the index, Radiant push-refs.
import type { Coin } from './coins.ts';
import { sha256 } from './hashes.ts';
import { hashToHex, readU32LE } from './bytes.ts';

/** OP_RETURN; an output starting with it (or with OP_0 OP_RETURN) is never indexed (DESIGN §3). */
export const OP_RETURN = 0x6a;
/** Radiant OP_PUSHINPUTREF: pushes a 36-byte ref operand ("normal" ref). */
export const OP_PUSHINPUTREF = 0xd0;
/** Radiant OP_PUSHINPUTREFSINGLETON: pushes a 36-byte ref operand ("single" ref). */
export const OP_PUSHINPUTREFSINGLETON = 0xd8;
/** Size of a Radiant ref: txid (32, internal order) + vout (u32 LE). */
export const REF_BYTES = 36;

const OP_PUSHDATA1 = 0x4c;
const OP_PUSHDATA2 = 0x4d;
const OP_PUSHDATA4 = 0x4e;
// radiant-node src/script/script.h: OP_PUSHINPUTREF, OP_REQUIREINPUTREF, OP_DISALLOWPUSHINPUTREF,
// OP_DISALLOWPUSHINPUTREFSIBLING (0xd0-0xd3) and OP_PUSHINPUTREFSINGLETON (0xd8) carry 36 bytes.
const REF_OPERAND_OPS = new Set([0xd0, 0xd1, 0xd2, 0xd3, 0xd8]);
// OP_CHECKSIG, OP_CHECKSIGVERIFY, OP_CHECKMULTISIG, OP_CHECKMULTISIGVERIFY.
const CHECKSIG_OPS = new Set([0xac, 0xad, 0xae, 0xaf]);

/** One opcode of a script and where its operand lies (operandStart = operandEnd when none). */
export interface ScriptOp {
  opcode: number;
  /** Offset of the opcode byte. */
  offset: number;
  operandStart: number;
  operandEnd: number;
}

/**
 * Walks a script opcode by opcode, honouring direct pushes, PUSHDATA1/2/4 and the 36-byte operand
 * of the Radiant ref opcodes. A push that runs past the end stops the walk without throwing:
 * scriptPubKeys are arbitrary bytes and a truncated one is still a valid (unspendable) output.
 * `radiant` = false treats 0xd0-0xd8 as plain opcodes, as Bitcoin and Bitcoin Cash do.
 */
export function* scriptOps(script: Uint8Array, radiant = true): Generator<ScriptOp> {
  let pos = 0;
  while (pos < script.length) {
    const offset = pos;
    const opcode = script[pos] ?? 0;
    pos += 1;
    const operandBytes = operandLength(script, opcode, pos, radiant);
    if (operandBytes === null) return;
    pos += operandBytes.headerBytes;
    if (pos + operandBytes.dataBytes > script.length) return;
    yield { opcode, offset, operandStart: pos, operandEnd: pos + operandBytes.dataBytes };
    pos += operandBytes.dataBytes;
  }
}

interface OperandLength {
  /** Length bytes after the opcode (PUSHDATA1/2/4). */
  headerBytes: number;
  dataBytes: number;
}

/** The operand size of `opcode` whose length field starts at `pos`, or null when truncated. */
function operandLength(
  script: Uint8Array,
  opcode: number,
  pos: number,
  radiant: boolean
): OperandLength | null {
  if (opcode < OP_PUSHDATA1) return { headerBytes: 0, dataBytes: opcode };
  if (opcode === OP_PUSHDATA1) {
    const lengthByte = script[pos];
    return lengthByte === undefined ? null : { headerBytes: 1, dataBytes: lengthByte };
  }
  if (opcode === OP_PUSHDATA2) {
    if (pos + 2 > script.length) return null;
    return { headerBytes: 2, dataBytes: (script[pos] ?? 0) | ((script[pos + 1] ?? 0) << 8) };
  }
  if (opcode === OP_PUSHDATA4) {
    if (pos + 4 > script.length) return null;
    return { headerBytes: 4, dataBytes: readU32LE(script, pos) };
  }
  if (radiant && REF_OPERAND_OPS.has(opcode)) return { headerBytes: 0, dataBytes: REF_BYTES };
  return { headerBytes: 0, dataBytes: 0 };
}

/** True for outputs that can never be spent: OP_RETURN or OP_0 OP_RETURN first (DESIGN §3). */
export function isUnspendable(script: Uint8Array): boolean {
  if (script[0] === OP_RETURN) return true;
  return script[0] === 0x00 && script[1] === OP_RETURN;
}

/**
 * The script hash the index keys an output by, internal order (wire form = hashToHex of it).
 * sha256 of the script; for Radiant, when the script has a checksig opcode (0xac-0xaf), every
 * 36-byte operand of 0xd0-0xd3 and 0xd8 is zeroed first, so one wallet key covers its tokens
 * whatever their refs (DESIGN §3).
 */
export function scriptHash(script: Uint8Array, coin: Coin): Uint8Array {
  if (!coin.radiant) return sha256(script);
  return sha256(zeroRefsForHash(script));
}

// TODO(compat): Radiant-Core ElectrumX's Script.zero_refs also drops the length bytes of
// PUSHDATA1/2/4 pushes from the preimage and skips outputs whose script is truncated; we keep
// every byte but the ref operands and hash truncated scripts as they are (DESIGN §3). Wallet
// scripts (P2PKH, NFT, FT) hash the same either way; exotic scripts with a PUSHDATA and a checksig
// do not. Mirroring the quirk is a design decision for the lead, not made here.
/**
 * The script with its ref operands zeroed when it has a checksig opcode, else the script itself
 * (DESIGN §3). Exported for tests and tools that need the preimage.
 */
export function zeroRefsForHash(script: Uint8Array): Uint8Array {
  let hasChecksig = false;
  const refOperandStarts: number[] = [];
  for (const op of scriptOps(script)) {
    if (CHECKSIG_OPS.has(op.opcode)) hasChecksig = true;
    else if (REF_OPERAND_OPS.has(op.opcode)) refOperandStarts.push(op.operandStart);
  }
  if (!hasChecksig || refOperandStarts.length === 0) return script;
  // A copy, never a view: Buffer#slice shares memory, and the caller's script must stay intact.
  const zeroed = new Uint8Array(script);
  for (const start of refOperandStarts) zeroed.fill(0, start, start + REF_BYTES);
  return zeroed;
}

/** A Radiant ref pushed by an output: 36 bytes (txid internal order + vout u32 LE) and its kind. */
export interface ScriptRef {
  ref: Uint8Array;
  kind: 'normal' | 'single';
}

/**
 * The operands of OP_PUSHINPUTREF (normal) and OP_PUSHINPUTREFSINGLETON (single) in script order,
 * deduplicated by ref bytes and kind. Each `ref` is a view into `script` (no copy).
 */
export function pushRefs(script: Uint8Array): ScriptRef[] {
  const refs: ScriptRef[] = [];
  const seen = new Set<string>();
  for (const op of scriptOps(script)) {
    if (op.opcode !== OP_PUSHINPUTREF && op.opcode !== OP_PUSHINPUTREFSINGLETON) continue;
    const ref = script.subarray(op.operandStart, op.operandEnd);
    const kind = op.opcode === OP_PUSHINPUTREF ? 'normal' : 'single';
    const key = `${kind}:${refKey(ref)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    refs.push({ ref, kind });
  }
  return refs;
}

function refKey(ref: Uint8Array): string {
  return String.fromCharCode(...ref);
}

/**
 * Radiant's ref display form, "<txid display hex>i<vout>", used by listunspent (DESIGN §5).
 * @throws RangeError unless `ref` is 36 bytes.
 */
export function refToString(ref: Uint8Array): string {
  if (ref.length !== REF_BYTES) throw new RangeError(`ref of 36 bytes expected, got ${ref.length}`);
  return `${hashToHex(ref.subarray(0, 32))}i${readU32LE(ref, 32)}`;
}
