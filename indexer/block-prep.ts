// A block reduced to what the index writes, in flat typed arrays that cross threads uncopied.
import type { Block } from '../core/block.ts';
import type { Coin } from '../core/coins.ts';
import { isUnspendable, pushRefs, scriptHash } from '../core/script.ts';

/**
 * What BlockWriter needs of one block, precomputed: txids, script hashes and refs of the indexed
 * outputs, and where each input's prevout lies. Built by prepareBlock on a parse thread
 * (indexer/parse-thread.ts) or inline; every array has its own ArrayBuffer except the views into
 * `raw`, so the whole object moves between threads with a transfer list and no copy.
 */
export interface PreparedBlock {
  /** The block as the node sent it. */
  raw: Uint8Array;
  /** Header hash, internal order. */
  hash: Uint8Array;
  /** The 80 header bytes (view into raw). */
  header: Uint8Array;
  /** Parent hash, internal order (view into raw). */
  prevHash: Uint8Array;
  txCount: number;
  /** 32 bytes per tx, internal order. */
  txids: Uint8Array;
  /** txCount + 1 offsets into raw: tx i is raw[txBounds[i] .. txBounds[i + 1]). */
  txBounds: Uint32Array;
  /** Indexed outputs (OP_RETURN ones left out, DESIGN §3), in (tx, vout) order. */
  outputCount: number;
  outTx: Uint32Array;
  outVout: Uint32Array;
  outValue: BigInt64Array;
  /** 32 bytes per indexed output: its script hash, internal order. */
  hashxes: Uint8Array;
  /** outputCount + 1 offsets into refs; an empty range means no refs (utxos.refs NULL). */
  refBounds: Uint32Array;
  /** The utxos.refs records of every output, concatenated (37 bytes per ref). */
  refs: Uint8Array;
  /** Inputs of the non-coinbase txs, in (tx, input) order. */
  inputCount: number;
  inTx: Uint32Array;
  /** Offset in raw of the input's 36-byte prevout: prev txid (internal order), vout u32 LE. */
  inPrevout: Uint32Array;
}

const REF_KIND_NORMAL = 0;
const REF_KIND_SINGLE = 1;
/** A utxos.refs record: 36-byte ref, then the kind byte (core/schema.ts). */
export const REF_RECORD_BYTES = 37;

/** The utxos.refs value of an output: n x (36-byte ref + kind byte), or null (core/schema.ts). */
export function encodeRefs(script: Uint8Array, coin: Coin): Uint8Array | null {
  if (!coin.radiant) return null;
  const found = pushRefs(script);
  if (found.length === 0) return null;
  const out = new Uint8Array(found.length * REF_RECORD_BYTES);
  found.forEach((item, i) => {
    out.set(item.ref, i * REF_RECORD_BYTES);
    out[i * REF_RECORD_BYTES + 36] = item.kind === 'single' ? REF_KIND_SINGLE : REF_KIND_NORMAL;
  });
  return out;
}

// Offset of `view` inside the block bytes `raw` (both views of one buffer, as parseBlock makes).
function offsetIn(raw: Uint8Array, view: Uint8Array): number {
  const offset = view.byteOffset - raw.byteOffset;
  if (view.buffer !== raw.buffer || offset < 0 || offset + view.length > raw.length) {
    throw new Error('tx bytes are not a view into the block (cannot happen with parseBlock)');
  }
  return offset;
}

function countParts(block: Block): { outputs: number; inputs: number } {
  let outputs = 0;
  let inputs = 0;
  for (const tx of block.txs) {
    for (const output of tx.outputs) if (!isUnspendable(output.script)) outputs += 1;
    if (!tx.isCoinbase) inputs += tx.inputs.length;
  }
  return { outputs, inputs };
}

/**
 * Reduces a parsed, verified block (sync.ts verifyBlock) to a PreparedBlock: script hash and refs
 * of every indexed output, prevout offsets of every input. Byte fields of `block` must be views
 * into the block's one buffer, as core parseBlock returns them.
 */
export function prepareBlock(block: Block, coin: Coin): PreparedBlock {
  const header = block.header.raw;
  const raw = new Uint8Array(header.buffer, header.byteOffset, block.size);
  const txCount = block.txs.length;
  const counts = countParts(block);
  const p: PreparedBlock = {
    raw,
    hash: block.header.hash.slice(),
    header,
    prevHash: block.header.prevHash,
    txCount,
    txids: new Uint8Array(32 * txCount),
    txBounds: new Uint32Array(txCount + 1),
    outputCount: counts.outputs,
    outTx: new Uint32Array(counts.outputs),
    outVout: new Uint32Array(counts.outputs),
    outValue: new BigInt64Array(counts.outputs),
    hashxes: new Uint8Array(32 * counts.outputs),
    refBounds: new Uint32Array(counts.outputs + 1),
    refs: new Uint8Array(0),
    inputCount: counts.inputs,
    inTx: new Uint32Array(counts.inputs),
    inPrevout: new Uint32Array(counts.inputs),
  };
  const refParts: Uint8Array[] = [];
  let refBytes = 0;
  let out = 0;
  let input = 0;
  block.txs.forEach((tx, position) => {
    p.txids.set(tx.txid, 32 * position);
    p.txBounds[position] = offsetIn(raw, tx.raw);
    p.txBounds[position + 1] = offsetIn(raw, tx.raw) + tx.raw.length;
    tx.outputs.forEach((output, vout) => {
      if (isUnspendable(output.script)) return;
      p.outTx[out] = position;
      p.outVout[out] = vout;
      p.outValue[out] = output.value;
      p.hashxes.set(scriptHash(output.script, coin), 32 * out);
      const refs = encodeRefs(output.script, coin);
      if (refs !== null) {
        refParts.push(refs);
        refBytes += refs.length;
      }
      out += 1;
      p.refBounds[out] = refBytes;
    });
    if (tx.isCoinbase) return;
    for (const txInput of tx.inputs) {
      p.inTx[input] = position;
      p.inPrevout[input] = offsetIn(raw, txInput.prevTxid);
      input += 1;
    }
  });
  p.refs = new Uint8Array(refBytes);
  let at = 0;
  for (const part of refParts) {
    p.refs.set(part, at);
    at += part.length;
  }
  return p;
}

/** The buffers to transfer when posting `p` to another thread (all of them, no copies). */
export function transferList(p: PreparedBlock): ArrayBuffer[] {
  const views = [p.raw, p.hash, p.txids, p.txBounds, p.outTx, p.outVout, p.outValue, p.hashxes];
  views.push(p.refBounds, p.refs, p.inTx, p.inPrevout);
  const buffers = new Set<ArrayBuffer>();
  for (const view of views) {
    if (view.buffer instanceof ArrayBuffer) buffers.add(view.buffer);
  }
  return [...buffers];
}
