// The outputs created during one flush and not yet spent, in typed arrays keyed by outpoint.
import { outpointHash, sameTxidAt, TXID_BYTES } from './outpoint-hash.ts';

const HASHX_BYTES = 32;
const INITIAL_SLOTS = 1 << 12;
const EMPTY = 0;
const DELETED = -1;

/**
 * An open-addressing hash table from outpoint (txid, vout) to what the index keeps of the output.
 * A flush creates hundreds of thousands of outputs: as Map entries with string keys and one
 * object each they cost ~400 bytes of heap and garbage per output; here ~110 bytes, no garbage.
 * Slots are numbered in insertion order, which is (tx_num, vout) order: the utxos key order.
 */
export class FlushOutputs {
  private capacity = 0;
  private count = 0;
  private live = 0;
  // index: slot + 1, EMPTY or DELETED; a power of two at least twice the slots in use.
  private index = new Int32Array(0);
  private txids = new Uint8Array(0);
  private hashxes = new Uint8Array(0);
  private vouts = new Uint32Array(0);
  private txNums = new Float64Array(0);
  private heights = new Int32Array(0);
  private values = new BigInt64Array(0);
  private refStarts = new Uint32Array(0);
  private refEnds = new Uint32Array(0);
  private refs = new Uint8Array(0);
  private refBytes = 0;
  private spent = new Uint8Array(0);

  constructor() {
    this.clear();
  }

  /** Outputs added and not taken. */
  get size(): number {
    return this.live;
  }

  /** Forgets everything (a new flush). */
  clear(): void {
    this.capacity = INITIAL_SLOTS;
    this.count = 0;
    this.live = 0;
    this.index = new Int32Array(2 * INITIAL_SLOTS);
    this.allocate(INITIAL_SLOTS);
    this.refs = new Uint8Array(4096);
    this.refBytes = 0;
  }

  /**
   * Adds output `vout` of the tx whose txid is `txids[txidAt..txidAt+32)`; the script hash is
   * `hashxes[hashxAt..hashxAt+32)`. Every argument is copied.
   */
  add(
    txids: Uint8Array,
    txidAt: number,
    vout: number,
    fields: { txNum: number; height: number; value: bigint; refs: Uint8Array | null },
    hashxes: Uint8Array,
    hashxAt: number
  ): void {
    if (this.count === this.capacity) this.grow();
    const slot = this.count++;
    this.txids.set(txids.subarray(txidAt, txidAt + TXID_BYTES), slot * TXID_BYTES);
    this.hashxes.set(hashxes.subarray(hashxAt, hashxAt + HASHX_BYTES), slot * HASHX_BYTES);
    this.vouts[slot] = vout;
    this.txNums[slot] = fields.txNum;
    this.heights[slot] = fields.height;
    this.values[slot] = fields.value;
    this.refStarts[slot] = this.refBytes;
    if (fields.refs !== null) this.appendRefs(fields.refs);
    this.refEnds[slot] = this.refBytes;
    this.spent[slot] = 0;
    this.insert(slot);
    this.live += 1;
  }

  /**
   * Finds the output `vout` of the tx whose txid is `bytes[at..at+32)` and removes it; returns
   * its slot (valid until clear()) or -1 when this flush has no such unspent output.
   */
  take(bytes: Uint8Array, at: number, vout: number): number {
    const mask = this.index.length - 1;
    for (let i = outpointHash(bytes, at, vout) & mask; ; i = (i + 1) & mask) {
      const entry = this.index[i] ?? EMPTY;
      if (entry === EMPTY) return -1;
      if (entry === DELETED) continue;
      const slot = entry - 1;
      if (this.vouts[slot] === vout && sameTxidAt(this.txids, slot, bytes, at)) {
        this.index[i] = DELETED;
        this.spent[slot] = 1;
        this.live -= 1;
        return slot;
      }
    }
  }

  txNum(slot: number): number {
    return this.txNums[slot] ?? 0;
  }

  vout(slot: number): number {
    return this.vouts[slot] ?? 0;
  }

  height(slot: number): number {
    return this.heights[slot] ?? 0;
  }

  value(slot: number): bigint {
    return this.values[slot] ?? 0n;
  }

  /** The txid, internal order (a view, valid until clear()). */
  txid(slot: number): Uint8Array {
    return this.txids.subarray(slot * TXID_BYTES, (slot + 1) * TXID_BYTES);
  }

  /** The script hash (a view, valid until clear()). */
  hashx(slot: number): Uint8Array {
    return this.hashxes.subarray(slot * HASHX_BYTES, (slot + 1) * HASHX_BYTES);
  }

  /** The utxos.refs value, or null (a view, valid until clear()). */
  refsOf(slot: number): Uint8Array | null {
    const start = this.refStarts[slot] ?? 0;
    const end = this.refEnds[slot] ?? 0;
    return start === end ? null : this.refs.subarray(start, end);
  }

  /** Slots still unspent, in insertion order. */
  *unspentSlots(): Generator<number> {
    for (let slot = 0; slot < this.count; slot++) if (this.spent[slot] === 0) yield slot;
  }

  private sameOutpoint(other: number, slot: number, vout: number): boolean {
    const { txids } = this;
    return this.vouts[other] === vout && sameTxidAt(txids, other, txids, slot * TXID_BYTES);
  }

  // Indexes `slot`. An unspent output with the same outpoint is dropped: a later tx with the
  // same txid (Bitcoin before BIP30) overwrites the earlier one's outputs, as in the node.
  private insert(slot: number): void {
    const mask = this.index.length - 1;
    const vout = this.vouts[slot] ?? 0;
    let i = outpointHash(this.txids, slot * TXID_BYTES, vout) & mask;
    for (; ; i = (i + 1) & mask) {
      const entry = this.index[i] ?? EMPTY;
      if (entry === EMPTY) break;
      if (entry > 0 && this.sameOutpoint(entry - 1, slot, vout)) {
        this.spent[entry - 1] = 1;
        this.live -= 1;
        break;
      }
    }
    this.index[i] = slot + 1;
  }

  private appendRefs(refs: Uint8Array): void {
    if (this.refBytes + refs.length > this.refs.length) {
      const bigger = new Uint8Array(Math.max(2 * this.refs.length, this.refBytes + refs.length));
      bigger.set(this.refs.subarray(0, this.refBytes));
      this.refs = bigger;
    }
    this.refs.set(refs, this.refBytes);
    this.refBytes += refs.length;
  }

  private allocate(slots: number): void {
    const used = this.count;
    this.txids = copyInto(new Uint8Array(slots * TXID_BYTES), this.txids, used * TXID_BYTES);
    this.hashxes = copyInto(new Uint8Array(slots * HASHX_BYTES), this.hashxes, used * HASHX_BYTES);
    this.vouts = copyInto(new Uint32Array(slots), this.vouts, this.count);
    this.txNums = copyInto(new Float64Array(slots), this.txNums, this.count);
    this.heights = copyInto(new Int32Array(slots), this.heights, this.count);
    this.values = copyInto(new BigInt64Array(slots), this.values, this.count);
    this.refStarts = copyInto(new Uint32Array(slots), this.refStarts, this.count);
    this.refEnds = copyInto(new Uint32Array(slots), this.refEnds, this.count);
    this.spent = copyInto(new Uint8Array(slots), this.spent, this.count);
  }

  // Doubles the slots and rebuilds the index without the tombstones of spent outputs.
  private grow(): void {
    this.capacity *= 2;
    this.allocate(this.capacity);
    this.index = new Int32Array(2 * this.capacity);
    for (let slot = 0; slot < this.count; slot++) if (this.spent[slot] === 0) this.insert(slot);
  }
}

interface Resizable<A> {
  set(source: A, offset?: number): void;
  subarray(start: number, end: number): A;
}

// `target` with the first `length` items of `source` copied in.
function copyInto<A extends Resizable<A>>(target: A, source: A, length: number): A {
  target.set(source.subarray(0, length));
  return target;
}
