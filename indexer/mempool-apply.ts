// Applies what a mempool refresh learnt from the node (txs gone, txs new) to the mempool tables,
// statuses and change feed, as one SQLite transaction.
import { encodeVarInt, hashToHex } from '../core/bytes.ts';
import { isUnspendable, scriptHash } from '../core/script.ts';
import type { Tx } from '../core/tx.ts';
import { encodeRefs } from './block-prep.ts';
import { rewriteStatuses } from './mempool-status.ts';
import {
  MempoolStore,
  recordMempoolChange,
  type OutputFacts,
  type Touched,
} from './mempool-store.ts';
import { bytesKey } from './status-cache.ts';

/** What one refresh changes. */
export interface MempoolDiff {
  /** Txids (internal order) the node no longer holds. */
  removed: Uint8Array[];
  /** Txs new to the index, in any order (parents and children may come in either order). */
  added: Tx[];
  /** Unix seconds, for seen_at. */
  nowSec: number;
}

/** What applying a diff did. */
export interface MempoolApplied {
  added: number;
  removed: number;
  /** New txs left out: an input is unknown here, already spent in the mempool, or worth less. */
  skipped: Tx[];
  touched: number;
  /** The changes row written, or null when nothing changed. */
  changeSeq: number | null;
}

interface SpentInput extends OutputFacts {
  confirmed: boolean;
}

const REF_BYTES = 36;
const REF_RECORD_BYTES = 37;
// BIP144 serialization: the marker and flag bytes between version and inputs.
const SEGWIT_MARKER_BYTES = 2;
// BIP141: a non-witness byte weighs 4 units, a witness byte 1.
const WITNESS_SCALE = 4;

/**
 * BIP141 weight: 3 x the stripped size (no marker, flag or witnesses) + the full size. A tx
 * serialized without witness data weighs 4 x its size.
 */
export function weightUnits(tx: Tx): number {
  const full = tx.raw.length;
  // core/tx.ts sets `witness` on every input of a tx read with the marker, on none otherwise.
  if (!tx.inputs.some((input) => input.witness !== undefined)) return WITNESS_SCALE * full;
  let witnessBytes = SEGWIT_MARKER_BYTES;
  for (const input of tx.inputs) {
    const stack = input.witness ?? [];
    witnessBytes += encodeVarInt(stack.length).length;
    for (const item of stack) witnessBytes += encodeVarInt(item.length).length + item.length;
  }
  return (WITNESS_SCALE - 1) * (full - witnessBytes) + full;
}

/** BIP141 virtual size, (weight + 3) / 4 rounded down: the size the node's fee rates use. */
export function virtualSizeBytes(tx: Tx): number {
  return Math.floor((weightUnits(tx) + WITNESS_SCALE - 1) / WITNESS_SCALE);
}

/**
 * Parents before children among `txs`, whatever order they came in (a depth-first walk over the
 * inputs that spend another tx of the list; no recursion, so long chains cannot overflow).
 */
export function parentsFirst(txs: Tx[]): Tx[] {
  const byKey = new Map(txs.map((tx) => [bytesKey(tx.txid), tx]));
  const placed = new Set<string>();
  // Txs whose parents are being placed: meeting one again would mean a cycle of spends, which
  // txids (hashes over the inputs) rule out.
  const expanding = new Set<string>();
  const out: Tx[] = [];
  for (const root of byKey.values()) {
    const stack: { tx: Tx; expanded: boolean }[] = [{ tx: root, expanded: false }];
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      const key = bytesKey(top.tx.txid);
      if (placed.has(key)) continue;
      if (top.expanded) {
        expanding.delete(key);
        placed.add(key);
        out.push(top.tx);
        continue;
      }
      if (expanding.has(key)) throw new Error(`tx ${hashToHex(top.tx.txid)} spends itself`);
      expanding.add(key);
      stack.push({ tx: top.tx, expanded: true });
      for (const input of top.tx.inputs) {
        const parent = byKey.get(bytesKey(input.prevTxid));
        if (parent !== undefined && !placed.has(bytesKey(parent.txid))) {
          stack.push({ tx: parent, expanded: false });
        }
      }
    }
  }
  return out;
}

// Each input's output, from the mempool or the confirmed utxos; null when one is unknown or
// already spent by another mempool tx (the node's mempool moved while we read it).
function resolveInputs(store: MempoolStore, tx: Tx): SpentInput[] | null {
  const out: SpentInput[] = [];
  for (const input of tx.inputs) {
    if (store.spenderOf(input.prevTxid, input.prevVout) !== undefined) return null;
    const unconfirmed = store.mempoolOutput(input.prevTxid, input.prevVout);
    if (unconfirmed !== undefined) {
      out.push({ ...unconfirmed, confirmed: false });
      continue;
    }
    const confirmed = store.confirmedOutput(input.prevTxid, input.prevVout);
    if (confirmed === undefined) return null;
    out.push({ ...confirmed, confirmed: true });
  }
  return out;
}

/**
 * Writes one tx into the mempool tables. Returns false (writing nothing) when its inputs cannot
 * all be resolved or are worth less than its outputs.
 */
export function insertMempoolTx(
  store: MempoolStore,
  tx: Tx,
  nowSec: number,
  touched: Touched
): boolean {
  if (tx.isCoinbase || tx.inputs.length === 0) return false;
  const inputs = resolveInputs(store, tx);
  if (inputs === null) return false;
  const valueIn = inputs.reduce((sum, input) => sum + input.value, 0n);
  const valueOut = tx.outputs.reduce((sum, output) => sum + output.value, 0n);
  if (valueIn < valueOut) return false;
  const { db } = store;
  const height = inputs.some((input) => !input.confirmed) ? -1 : 0;
  // size is the vsize: the fee histogram and fee rates count virtual bytes, as the node does.
  db.prepare(
    'INSERT INTO mempool_txs (txid, raw, fee, height, size, seen_at) VALUES (?, ?, ?, ?, ?, ?)'
  ).run(tx.txid, tx.raw, valueIn - valueOut, height, virtualSizeBytes(tx), nowSec);
  const mine: Touched = new Map();
  const spend = db.prepare(
    `INSERT INTO mempool_spends (prev_txid, prev_vout, txid, hashx, value)
     VALUES (?, ?, ?, ?, ?)`
  );
  tx.inputs.forEach((input, i) => {
    const spent = inputs[i];
    if (spent === undefined) return;
    spend.run(input.prevTxid, input.prevVout, tx.txid, spent.hashx, spent.value);
    mine.set(bytesKey(spent.hashx), spent.hashx);
  });
  insertOutputs(store, tx, mine);
  const history = db.prepare('INSERT INTO mempool_history (hashx, txid) VALUES (?, ?)');
  for (const [key, hashx] of mine) {
    history.run(hashx, tx.txid);
    touched.set(key, hashx);
  }
  return true;
}

function insertOutputs(store: MempoolStore, tx: Tx, mine: Touched): void {
  const { db, coin } = store;
  const output = db.prepare(
    'INSERT INTO mempool_outputs (txid, vout, hashx, value, refs) VALUES (?, ?, ?, ?, ?)'
  );
  const ref = db.prepare('INSERT OR IGNORE INTO mempool_refs (ref, txid) VALUES (?, ?)');
  tx.outputs.forEach((out, vout) => {
    // OP_RETURN outputs are not indexed (DESIGN §3), as in blocks.
    if (isUnspendable(out.script)) return;
    const hashx = scriptHash(out.script, coin);
    const refs = encodeRefs(out.script, coin);
    output.run(tx.txid, vout, hashx, out.value, refs);
    mine.set(bytesKey(hashx), hashx);
    if (refs === null) return;
    for (let at = 0; at < refs.length; at += REF_RECORD_BYTES) {
      ref.run(refs.subarray(at, at + REF_BYTES), tx.txid);
    }
  });
}

/**
 * Applies a refresh: removals first, with their descendants (so a replacement can take its
 * predecessor's inputs), then the new txs parents first, then the heights of mempool txs whose
 * parents came back, the touched statuses and one changes row. Call inside one transaction.
 */
export function applyMempoolDiff(
  store: MempoolStore,
  diff: MempoolDiff,
  reorgLimit: number
): MempoolApplied {
  const touched: Touched = new Map();
  const recheck: Uint8Array[] = [];
  let removed = 0;
  // The node drops a tx's descendants with it; if its list still named one, the next refresh
  // fetches it again, and no spend is ever left pointing at a tx that is gone.
  for (const txid of diff.removed) removed += store.removeWithDescendants(txid, touched);
  const skipped: Tx[] = [];
  let added = 0;
  for (const tx of parentsFirst(diff.added)) {
    if (store.has(tx.txid)) continue;
    if (!insertMempoolTx(store, tx, diff.nowSec, touched)) {
      skipped.push(tx);
      continue;
    }
    added += 1;
    // A tx already here may spend this one (its parent came back after a reorg).
    recheck.push(...store.childrenOf(tx.txid));
  }
  for (const txid of recheck) store.refreshHeight(txid, touched);
  if (touched.size === 0) return { added, removed, skipped, touched: 0, changeSeq: null };
  rewriteStatuses(store.db, touched.values());
  const changeSeq = recordMempoolChange(store.db, touched, reorgLimit);
  return { added, removed, skipped, touched: touched.size, changeSeq };
}

/** Display txids of txs, for log lines. */
export function txidsHex(txs: Tx[], max = 5): string[] {
  return txs.slice(0, max).map((tx) => hashToHex(tx.txid));
}
