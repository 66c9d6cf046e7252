// Chain rules beyond legacy txs for the reference reader, written for tests only and sharing no
// code with core/: BIP144 txids, Radiant version-3 txids, zero-ref script hashes and push-refs.
import { createHash } from 'node:crypto';

/** Which rules apply to a chain: Radiant (v3 txids, refs) and/or segwit serialization. */
export interface ReferenceRules {
  radiant?: boolean;
  segwit?: boolean;
}

/** The fields of a tx that its txid covers. */
export interface ReferenceTxFields {
  version: number;
  inputs: { prevTxidInternal: Buffer; prevVout: number; scriptSig: Buffer; sequence: number }[];
  outputs: { value: bigint; script: Buffer }[];
  locktime: number;
  /** The serialization without marker, flag and witnesses (= raw for legacy txs). */
  stripped: Buffer;
}

const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();
const sha256d = (data: Buffer): Buffer => sha256(sha256(data));

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value >>> 0, 0);
  return out;
}

/** One opcode of a script with the offsets of its data (start === end when none). */
interface Op {
  code: number;
  start: number;
  end: number;
}

// radiant-node script.h: OP_PUSHINPUTREF 0xd0, OP_REQUIREINPUTREF 0xd1, OP_DISALLOWPUSHINPUTREF
// 0xd2, OP_DISALLOWPUSHINPUTREFSIBLING 0xd3 and OP_PUSHINPUTREFSINGLETON 0xd8 take 36 bytes.
const REF_OPS = [0xd0, 0xd1, 0xd2, 0xd3, 0xd8];

/** Walks the opcodes; a push running past the end ends the walk (DESIGN §3). */
function opcodes(script: Buffer, radiant: boolean): Op[] {
  const ops: Op[] = [];
  let i = 0;
  while (i < script.length) {
    const code = script[i] ?? 0;
    i += 1;
    let size = 0;
    if (code >= 1 && code <= 0x4b) size = code;
    else if (code === 0x4c) {
      if (i + 1 > script.length) break;
      size = script.readUInt8(i);
      i += 1;
    } else if (code === 0x4d) {
      if (i + 2 > script.length) break;
      size = script.readUInt16LE(i);
      i += 2;
    } else if (code === 0x4e) {
      if (i + 4 > script.length) break;
      size = script.readUInt32LE(i);
      i += 4;
    } else if (radiant && REF_OPS.includes(code)) size = 36;
    if (i + size > script.length) break;
    ops.push({ code, start: i, end: i + size });
    i += size;
  }
  return ops;
}

/**
 * The index's script hash, display hex: SHA-256 of the script, with every Radiant ref operand
 * zeroed first when the script holds a checksig opcode 0xac-0xaf (DESIGN §3).
 */
export function referenceScriptHash(script: Buffer, rules: ReferenceRules): string {
  let preimage = script;
  if (rules.radiant === true) {
    const ops = opcodes(script, true);
    if (ops.some((op) => op.code >= 0xac && op.code <= 0xaf)) {
      preimage = Buffer.from(script);
      for (const op of ops) if (REF_OPS.includes(op.code)) preimage.fill(0, op.start, op.end);
    }
  }
  return Buffer.from(sha256(preimage)).reverse().toString('hex');
}

/** The operands of 0xd0 (normal) and 0xd8 (single), first occurrence of each (ref, kind). */
export function referencePushRefs(script: Buffer): { ref: Buffer; kind: 'normal' | 'single' }[] {
  const found: { ref: Buffer; kind: 'normal' | 'single' }[] = [];
  for (const op of opcodes(script, true)) {
    if (op.code !== 0xd0 && op.code !== 0xd8) continue;
    const kind = op.code === 0xd0 ? 'normal' : 'single';
    const ref = script.subarray(op.start, op.end);
    if (!found.some((f) => f.kind === kind && f.ref.equals(ref))) found.push({ ref, kind });
  }
  return found;
}

// DESIGN §3 (radiant-node primitives/transaction.cpp): per output value | sha256d(script) |
// ref count | 32 zero bytes, or sha256d of the distinct refs ordered by their last byte first.
function outputSummary(output: { value: bigint; script: Buffer }): Buffer {
  const value = Buffer.alloc(8);
  value.writeBigInt64LE(output.value, 0);
  const distinct: Buffer[] = [];
  for (const { ref } of referencePushRefs(output.script)) {
    if (!distinct.some((seen) => seen.equals(ref))) distinct.push(ref);
  }
  distinct.sort((a, b) => Buffer.from(a).reverse().compare(Buffer.from(b).reverse()));
  const refsHash = distinct.length === 0 ? Buffer.alloc(32) : sha256d(Buffer.concat(distinct));
  return Buffer.concat([value, sha256d(output.script), u32(distinct.length), refsHash]);
}

/** The txid (display hex) under the rules: Radiant v3 preimage, else sha256d(stripped). */
export function referenceTxid(tx: ReferenceTxFields, rules: ReferenceRules): string {
  let digest: Buffer;
  if (rules.radiant === true && tx.version === 3) {
    const inputs = tx.inputs.map((input) =>
      Buffer.concat([input.prevTxidInternal, u32(input.prevVout), sha256d(input.scriptSig)])
    );
    const sequences = tx.inputs.map((input) => u32(input.sequence));
    const version = Buffer.alloc(4);
    version.writeInt32LE(tx.version, 0);
    digest = sha256d(
      Buffer.concat([
        version,
        u32(tx.inputs.length),
        sha256d(Buffer.concat(inputs)),
        sha256d(Buffer.concat(sequences)),
        u32(tx.outputs.length),
        sha256d(Buffer.concat(tx.outputs.map(outputSummary))),
        u32(tx.locktime),
      ])
    );
  } else {
    digest = sha256d(tx.stripped);
  }
  return Buffer.from(digest).reverse().toString('hex');
}
