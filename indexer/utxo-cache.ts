// Unspent outputs of committed flushes, the newest kept in memory: most spends skip txs_by_txid.
import { outpointHash, sameTxidAt, TXID_BYTES } from './outpoint-hash.ts';

const HASHX_BYTES = 32;
const EMPTY = 0;
const DELETED = -1;
/** Bytes one entry costs: txid, hashx, vout, tx_num, value, state, and two index cells. */
export const UTXO_CACHE_ENTRY_BYTES = TXID_BYTES + HASHX_BYTES + 4 + 8 + 8 + 1 + 2 * 4;

// Entry states. SPENT: taken by the open flush, still indexed so a second spend of the same
// outpoint is recognised as one until forgetSpent().
const FREE = 0;
const LIVE = 1;
const SPENT = 2;

/** Share of the slots a compaction leaves free, evicting the oldest entries if it must. */
const EVICT_SHARE = 1 / 8;

/** take() found the outpoint already spent in the open flush. */
export const TAKEN_ALREADY = -2;
/** take() does not know the outpoint (never cached, evicted, or spent in an earlier flush). */
export const NOT_CACHED = -1;

/**
 * A bounded open-addressing table from outpoint (txid, vout) to what utxos holds for it, filled
 * with each flush's unspent outputs once they are written. When full, the oldest entry goes: on a
 * real chain most spends are of recent outputs. A spend found here deletes its utxos row by the
 * primary key, with no walk through txs_by_txid. It only ever holds a subset of utxos: anything
 * not here is looked up in the table, so dropping the whole cache never changes a result.
 */
export class UtxoCache {
  private readonly capacity: number;
  // Slots in insertion (tx_num) order; `next` is where the next add goes. Spent slots are
  // reclaimed when `next` reaches the end (compact).
  private next = 0;
  private live = 0;
  private tombstones = 0;
  private readonly index: Int32Array;
  private readonly txids: Uint8Array;
  private readonly hashxes: Uint8Array;
  private readonly vouts: Uint32Array;
  private readonly txNums: Float64Array;
  private readonly values: BigInt64Array;
  private readonly states: Uint8Array;
  // Refs are rare (Radiant token outputs): a map beats a byte arena with its own eviction.
  private readonly refs = new Map<number, Uint8Array>();
  private readonly spentSlots: number[] = [];

  /** A cache of at most `capacity` outputs (0: a cache that holds nothing). */
  constructor(capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity));
    let cells = 2;
    while (cells < 2 * this.capacity) cells *= 2;
    this.index = new Int32Array(this.capacity === 0 ? 0 : cells);
    this.txids = new Uint8Array(this.capacity * TXID_BYTES);
    this.hashxes = new Uint8Array(this.capacity * HASHX_BYTES);
    this.vouts = new Uint32Array(this.capacity);
    this.txNums = new Float64Array(this.capacity);
    this.values = new BigInt64Array(this.capacity);
    this.states = new Uint8Array(this.capacity);
  }

  /** The capacity that fits in `bytes` (index cells rounded up to a power of two included). */
  static capacityFor(bytes: number): number {
    return Math.max(0, Math.floor(bytes / (UTXO_CACHE_ENTRY_BYTES + 2 * 4)));
  }

  /** Outputs held and not spent. */
  get size(): number {
    return this.live;
  }

  /** Forgets everything (the index changed under the cache: reorg, rollback). */
  clear(): void {
    this.index.fill(EMPTY);
    this.states.fill(FREE);
    this.refs.clear();
    this.spentSlots.length = 0;
    this.next = 0;
    this.live = 0;
    this.tombstones = 0;
  }

  /**
   * Adds output `vout` of the tx whose txid is `txids[txidAt..txidAt+32)`, script hash
   * `hashxes[hashxAt..hashxAt+32)`; evicts the oldest entries when full. Everything is copied.
   * Must not be called while spends of the open flush are pending (before forgetSpent()).
   */
  add(
    txids: Uint8Array,
    txidAt: number,
    vout: number,
    fields: { txNum: number; value: bigint; refs: Uint8Array | null },
    hashxes: Uint8Array,
    hashxAt: number
  ): void {
    if (this.capacity === 0) return;
    if (this.spentSlots.length > 0) throw new Error('utxo cache: add while spends are pending');
    if (this.next === this.capacity) this.compact();
    const slot = this.next++;
    this.txids.set(txids.subarray(txidAt, txidAt + TXID_BYTES), slot * TXID_BYTES);
    this.hashxes.set(hashxes.subarray(hashxAt, hashxAt + HASHX_BYTES), slot * HASHX_BYTES);
    this.vouts[slot] = vout;
    this.txNums[slot] = fields.txNum;
    this.values[slot] = fields.value;
    if (fields.refs !== null) this.refs.set(slot, fields.refs.slice());
    this.states[slot] = LIVE;
    this.insert(slot);
    this.live += 1;
    if (this.live + this.tombstones > 0.7 * this.index.length) this.rebuild();
  }

  /**
   * Marks the output `vout` of the tx whose txid is `bytes[at..at+32)` spent and returns its slot
   * (readable until the next add), TAKEN_ALREADY when the open flush spent it already, or
   * NOT_CACHED.
   */
  take(bytes: Uint8Array, at: number, vout: number): number {
    if (this.capacity === 0) return NOT_CACHED;
    const mask = this.index.length - 1;
    for (let i = outpointHash(bytes, at, vout) & mask; ; i = (i + 1) & mask) {
      const entry = this.index[i] ?? EMPTY;
      if (entry === EMPTY) return NOT_CACHED;
      if (entry === DELETED) continue;
      const slot = entry - 1;
      if (this.vouts[slot] !== vout || !sameTxidAt(this.txids, slot, bytes, at)) continue;
      if (this.states[slot] === SPENT) return TAKEN_ALREADY;
      this.states[slot] = SPENT;
      this.spentSlots.push(slot);
      this.live -= 1;
      return slot;
    }
  }

  /** Drops the entries taken since the last call (their utxos rows are deleted). */
  forgetSpent(): void {
    for (const slot of this.spentSlots) {
      this.unindex(slot);
      this.states[slot] = FREE;
      this.refs.delete(slot);
    }
    this.spentSlots.length = 0;
    if (this.live + this.tombstones > 0.7 * this.index.length) this.rebuild();
  }

  txNum(slot: number): number {
    return this.txNums[slot] ?? 0;
  }

  vout(slot: number): number {
    return this.vouts[slot] ?? 0;
  }

  value(slot: number): bigint {
    return this.values[slot] ?? 0n;
  }

  /** The script hash (a view, valid until the slot is reused). */
  hashx(slot: number): Uint8Array {
    return this.hashxes.subarray(slot * HASHX_BYTES, (slot + 1) * HASHX_BYTES);
  }

  /** The utxos.refs value, or null. */
  refsOf(slot: number): Uint8Array | null {
    return this.refs.get(slot) ?? null;
  }

  // Indexes `slot`; a live entry with the same outpoint leaves: a later tx with the same txid
  // (Bitcoin before BIP30) holds the spendable outputs, as txs_by_txid's newest tx_num does.
  private insert(slot: number): void {
    const mask = this.index.length - 1;
    const vout = this.vouts[slot] ?? 0;
    let i = outpointHash(this.txids, slot * TXID_BYTES, vout) & mask;
    for (; ; i = (i + 1) & mask) {
      const entry = this.index[i] ?? EMPTY;
      if (entry === EMPTY) break;
      if (entry === DELETED) continue;
      const other = entry - 1;
      const { txids } = this;
      if (this.vouts[other] === vout && sameTxidAt(txids, other, txids, slot * TXID_BYTES)) {
        this.index[i] = DELETED;
        this.tombstones += 1;
        this.states[other] = FREE;
        this.refs.delete(other);
        this.live -= 1;
      }
    }
    this.index[i] = slot + 1;
  }

  // Moves the live entries to the front in their order, reclaiming spent slots; the oldest leave
  // first so that at least EVICT_SHARE of the slots are free after. Then indexes them afresh.
  private compact(): void {
    const keep = Math.floor(this.capacity * (1 - EVICT_SHARE));
    let skip = Math.max(0, this.live - keep);
    let to = 0;
    for (let from = 0; from < this.capacity; from++) {
      if (this.states[from] !== LIVE) continue;
      if (skip > 0) {
        skip -= 1;
        this.states[from] = FREE;
        this.refs.delete(from);
        continue;
      }
      if (from !== to) this.moveSlot(from, to);
      to += 1;
    }
    this.states.fill(FREE, to);
    this.next = to;
    this.rebuild();
  }

  private moveSlot(from: number, to: number): void {
    this.txids.copyWithin(to * TXID_BYTES, from * TXID_BYTES, (from + 1) * TXID_BYTES);
    this.hashxes.copyWithin(to * HASHX_BYTES, from * HASHX_BYTES, (from + 1) * HASHX_BYTES);
    this.vouts[to] = this.vouts[from] ?? 0;
    this.txNums[to] = this.txNums[from] ?? 0;
    this.values[to] = this.values[from] ?? 0n;
    this.states[to] = LIVE;
    this.states[from] = FREE;
    const refs = this.refs.get(from);
    this.refs.delete(to);
    if (refs !== undefined) {
      this.refs.set(to, refs);
      this.refs.delete(from);
    }
  }

  // Removes `slot`'s cell from the index, leaving a tombstone.
  private unindex(slot: number): void {
    const mask = this.index.length - 1;
    const vout = this.vouts[slot] ?? 0;
    for (let i = outpointHash(this.txids, slot * TXID_BYTES, vout) & mask; ; i = (i + 1) & mask) {
      const entry = this.index[i] ?? EMPTY;
      if (entry === EMPTY) throw new Error(`utxo cache: slot ${slot} not indexed (cannot happen)`);
      if (entry !== slot + 1) continue;
      this.index[i] = DELETED;
      this.tombstones += 1;
      if (this.states[slot] === LIVE) this.live -= 1;
      return;
    }
  }

  // Rebuilds the index without tombstones.
  private rebuild(): void {
    this.index.fill(EMPTY);
    this.tombstones = 0;
    this.live = 0;
    for (let slot = 0; slot < this.next; slot++) {
      if (this.states[slot] !== LIVE) continue;
      this.insert(slot);
      this.live += 1;
    }
  }
}
