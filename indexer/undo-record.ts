// Undo data of one block: the outputs it spent that earlier blocks created, packed into one BLOB.

/** An unspent output as the index keeps it (one utxos row). */
export interface IndexedOutput {
  txNum: number;
  vout: number;
  /** 32 bytes, internal order. */
  hashx: Uint8Array;
  value: bigint;
  /** n x (36-byte ref + kind byte), or null (core/schema.ts, utxos). */
  refs: Uint8Array | null;
}

// Record layout (core/schema.ts, undo): tx_num u64 LE | vout u32 LE | hashx 32 | value i64 LE |
// refs length u16 LE | refs. A refs length of 0 means NULL.
const FIXED_BYTES = 8 + 4 + 32 + 8 + 2;
const MAX_REFS_BYTES = 0xffff;

/** Packs the records in order. */
export function encodeUndo(outputs: readonly IndexedOutput[]): Uint8Array {
  let size = 0;
  for (const output of outputs) size += FIXED_BYTES + (output.refs?.length ?? 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const output of outputs) {
    const refsBytes = output.refs?.length ?? 0;
    if (refsBytes > MAX_REFS_BYTES) {
      throw new RangeError(`output ${output.txNum}:${output.vout} has ${refsBytes} bytes of refs`);
    }
    view.setBigUint64(at, BigInt(output.txNum), true);
    view.setUint32(at + 8, output.vout, true);
    out.set(output.hashx, at + 12);
    view.setBigInt64(at + 44, output.value, true);
    view.setUint16(at + 52, refsBytes, true);
    if (output.refs !== null) out.set(output.refs, at + FIXED_BYTES);
    at += FIXED_BYTES + refsBytes;
  }
  return out;
}

/**
 * Unpacks what encodeUndo packed.
 * @throws Error when the bytes end inside a record (a damaged index).
 */
export function decodeUndo(data: Uint8Array): IndexedOutput[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const outputs: IndexedOutput[] = [];
  let at = 0;
  while (at < data.length) {
    if (at + FIXED_BYTES > data.length) throw new Error(`undo data truncated at byte ${at}`);
    const refsBytes = view.getUint16(at + 52, true);
    const end = at + FIXED_BYTES + refsBytes;
    if (end > data.length) throw new Error(`undo data truncated in the refs at byte ${at}`);
    outputs.push({
      txNum: Number(view.getBigUint64(at, true)),
      vout: view.getUint32(at + 8, true),
      hashx: data.slice(at + 12, at + 44),
      value: view.getBigInt64(at + 44, true),
      refs: refsBytes === 0 ? null : data.slice(at + FIXED_BYTES, end),
    });
    at = end;
  }
  return outputs;
}
