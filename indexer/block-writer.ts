// Applies parsed blocks to the index: headers, txs, history, utxos, refs, undo, status, changes.
import type { Block } from '../core/block.ts';
import { equalBytes, hashToHex, readU32LE } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { BatchInsert } from './batch-insert.ts';
import { prepareBlock, REF_RECORD_BYTES, type PreparedBlock } from './block-prep.ts';
import { BlockError } from './block-verify.ts';
import { indexExists, type IndexDb } from './db.ts';
import { FlushOutputs } from './flush-outputs.ts';
import { addHeaderToTree } from './header-tree.ts';
import { settleMempool } from './mempool-store.ts';
import { bytesKey, FlushTxs, StatusCache } from './status-cache.ts';
import { encodeUndo, type IndexedOutput } from './undo-record.ts';
import { TAKEN_ALREADY, UtxoCache } from './utxo-cache.ts';

/** Where the index stands inside the current transaction. */
export interface Tip {
  height: number;
  hash: Uint8Array | null;
  txCount: number;
  lastChangeSeq: number;
}

const REF_BYTES = 36;
/** Default memory for the cache of unspent outputs that outlives a flush (UtxoCache). */
export const DEFAULT_UTXO_CACHE_BYTES = 48 * 1_048_576;

/** How a BlockWriter may use memory. */
export interface BlockWriterOptions {
  /** Bytes for the UtxoCache (default DEFAULT_UTXO_CACHE_BYTES; 0 disables it). */
  utxoCacheBytes?: number | undefined;
}

/** The chain state a committed flush left, which the UtxoCache mirrors. */
interface CacheTip {
  height: number;
  hash: Uint8Array | null;
  txCount: number;
}

// Kept here for the modules that import them from the block writer (sync, main, unwinder, mempool).
export { encodeRefs } from './block-prep.ts';
export { BlockError } from './block-verify.ts';

/** The changes.hashxes value: 32-byte hashes keyed by bytesKey, concatenated in byte order. */
export function packHashxes(hashxes: Map<string, Uint8Array>): Uint8Array {
  // latin1 keys compare like the bytes they hold.
  const keys = [...hashxes.keys()].sort();
  const out = new Uint8Array(keys.length * 32);
  keys.forEach((key, i) => out.set(hashxes.get(key) ?? new Uint8Array(32), i * 32));
  return out;
}

/**
 * Writes blocks into the index. Use inside one SQLite transaction:
 * beginFlush(), applyBlock() for each whole block in order, endFlush().
 * Outputs live in an in-memory table until endFlush, so an output created and spent within the
 * same flush never touches the utxos table; then they join a UtxoCache that outlives the flush,
 * so a later spend deletes its utxos row by primary key instead of looking it up by txid.
 */
export class BlockWriter {
  private readonly db: IndexDb;
  private readonly coin: Coin;
  private readonly reorgLimit: number;
  private readonly statuses: StatusCache;
  private readonly outputs = new FlushOutputs();
  private readonly flushTxs = new FlushTxs();
  private readonly cache: UtxoCache;
  // Cached outputs spent in this flush, whose utxos rows endFlush deletes.
  private readonly cacheSpends = new SpentKeys();
  private cacheTip: CacheTip | null = null;
  private flushOpen = false;
  // txs_by_txid was seen in this flush (it is only dropped between flushes).
  private txidIndexSeen = false;
  private txRows: BatchInsert;
  private tipState: Tip = { height: -1, hash: null, txCount: 0, lastChangeSeq: 0 };
  /**
   * Blocks at or below this height get no undo row: the node's tip is already more than
   * REORG_LIMIT above them, so the row would be pruned before the index reaches the part of the
   * chain where a reorg of up to REORG_LIMIT blocks can happen; the rare unwind down here (the
   * node reorganises deeper than its lead) rebuilds the rows it needs from txs (undo-rebuild.ts).
   * Set by sync during initial sync; -1 writes every row.
   */
  undoFloor = -1;

  constructor(db: IndexDb, coin: Coin, reorgLimit: number, options: BlockWriterOptions = {}) {
    this.db = db;
    this.coin = coin;
    this.reorgLimit = reorgLimit;
    this.statuses = new StatusCache(db);
    this.txRows = this.newTxRows();
    const cacheBytes = options.utxoCacheBytes ?? DEFAULT_UTXO_CACHE_BYTES;
    this.cache = new UtxoCache(UtxoCache.capacityFor(cacheBytes));
  }

  private newTxRows(): BatchInsert {
    return new BatchInsert(this.db, 'txs', ['tx_num', 'txid', 'height', 'position', 'raw']);
  }

  /** The tip as of the last applied block (or the last beginFlush). */
  get tip(): Tip {
    return this.tipState;
  }

  /** Starts a flush from the committed state (forgetting anything a rollback left behind). */
  beginFlush(): void {
    this.outputs.clear();
    this.statuses.clear();
    this.cacheSpends.clear();
    this.txRows = this.newTxRows();
    const state = this.db.readChainState();
    const stateTip = { height: state.height, hash: state.tipHash, txCount: state.txCount };
    if (this.flushOpen || !sameTip(this.cacheTip, stateTip)) this.cache.clear();
    this.flushOpen = true;
    this.txidIndexSeen = false;
    this.flushTxs.reset(state.txCount);
    this.tipState = {
      height: state.height,
      hash: state.tipHash,
      txCount: state.txCount,
      lastChangeSeq: state.lastChangeSeq,
    };
  }

  /**
   * Applies one block at tip height + 1. The block must already be verified (parse, hash,
   * merkle root: sync's verifyBlock).
   * @throws BlockError when it does not link or spends an output the index does not have.
   */
  applyBlock(block: Block): void {
    this.applyPrepared(prepareBlock(block, this.coin));
  }

  /**
   * applyBlock for a block already reduced by prepareBlock (on the parse thread during sync).
   * @throws BlockError when it does not link or spends an output the index does not have.
   */
  applyPrepared(p: PreparedBlock): void {
    const height = this.tipState.height + 1;
    const hashHex = hashToHex(p.hash);
    this.checkLink(p.prevHash, height, hashHex);
    const firstTxNum = this.tipState.txCount;
    // The genesis coinbase is not indexed (DESIGN §3, as ElectrumX): the block has no txs here.
    const txCount = height === 0 ? 0 : p.txCount;
    let touched = new Map<string, Uint8Array>();
    let undo: IndexedOutput[] = [];
    if (txCount > 0) {
      const block = new BlockTouches(p, firstTxNum);
      this.addOutputs(block, height);
      undo = this.spendInputs(block, height, hashHex);
      touched = this.writeHistory(block, height);
    }
    this.db
      .prepare(
        'INSERT INTO headers (height, hash, raw, first_tx_num, tx_count) VALUES (?, ?, ?, ?, ?)'
      )
      .run(height, p.hash, p.header, firstTxNum, txCount);
    addHeaderToTree(this.db.sqlite, height, p.hash);
    if (height > this.undoFloor) {
      const data = encodeUndo(undo);
      this.db.prepare('INSERT INTO undo (height, data) VALUES (?, ?)').run(height, data);
    }
    const seq = this.tipState.lastChangeSeq + 1;
    this.db
      .prepare('INSERT INTO changes (seq, height, tip_hash, hashxes) VALUES (?, ?, ?, ?)')
      .run(seq, height, p.hash, packHashxes(touched));
    this.tipState = { height, hash: p.hash, txCount: firstTxNum + txCount, lastChangeSeq: seq };
  }

  /** Writes what the flush kept in memory, moves chain_state, prunes old undo and changes. */
  endFlush(): void {
    this.txRows.finish();
    this.deleteCacheSpends();
    const utxoColumns = ['tx_num', 'vout', 'hashx', 'value', 'refs'];
    const utxoRows = new BatchInsert(this.db, 'utxos', utxoColumns);
    const outputs = this.outputs;
    for (const slot of outputs.unspentSlots()) {
      const { txNum, vout, hashx, value, refs } = outputOf(outputs, slot);
      utxoRows.add(txNum, vout, hashx, value, refs);
    }
    utxoRows.finish();
    this.statuses.flush(this.flushTxs);
    const tip = this.tipState;
    this.db
      .prepare(
        `UPDATE chain_state SET height = ?, tip_hash = ?, tx_count = ?, last_change_seq = ?
         WHERE id = 0`
      )
      .run(tip.height, tip.hash, tip.txCount, tip.lastChangeSeq);
    this.db.prepare('DELETE FROM undo WHERE height <= ?').run(tip.height - this.reorgLimit);
    this.db.prepare('DELETE FROM changes WHERE seq <= ?').run(tip.lastChangeSeq - this.reorgLimit);
    // Mined and double-spent mempool txs leave in the same transaction as the blocks.
    const mempoolSeq = settleMempool(this.db, this.coin, this.reorgLimit);
    if (mempoolSeq !== null) this.tipState = { ...tip, lastChangeSeq: mempoolSeq };
    this.cacheFlushOutputs();
  }

  // Deletes the utxos rows of the cached outputs this flush spent, in key order.
  private deleteCacheSpends(): void {
    const remove = this.db.prepare('DELETE FROM utxos WHERE tx_num = ? AND vout = ?');
    this.cacheSpends.sortedEach((txNum, vout) => {
      if (remove.run(txNum, vout).changes !== 1) {
        throw new Error(`utxo cache: output ${txNum}:${vout} is not in utxos (cannot happen)`);
      }
    });
    this.cacheSpends.clear();
  }

  // Last step of endFlush: the flush's unspent outputs join the cache, which now mirrors the tip
  // this transaction commits. beginFlush drops it when the commit did not happen.
  private cacheFlushOutputs(): void {
    const { cache, outputs } = this;
    cache.forgetSpent();
    for (const slot of outputs.unspentSlots()) {
      const { txNum, vout, hashx, value, refs } = outputOf(outputs, slot);
      cache.add(outputs.txid(slot), 0, vout, { txNum, value, refs }, hashx, 0);
    }
    outputs.clear();
    const { height, hash, txCount } = this.tipState;
    this.cacheTip = { height, hash, txCount };
    this.flushOpen = false;
  }

  private checkLink(prevHash: Uint8Array, height: number, hashHex: string): void {
    if (height === 0) {
      if (hashHex !== this.coin.genesisHash) {
        const which = `${this.coin.name} ${this.coin.net}`;
        throw new BlockError(0, hashHex, `is not the ${which} genesis block`);
      }
      return;
    }
    const tipHash = this.tipState.hash;
    if (tipHash === null || !equalBytes(prevHash, tipHash)) {
      const expected = tipHash === null ? 'none' : hashToHex(tipHash);
      throw new BlockError(
        height,
        hashHex,
        `does not link: prev hash ${hashToHex(prevHash)}, our tip ${expected}`
      );
    }
  }

  // Every output of the block goes in before any input is spent: a tx may spend an output of
  // a later tx in the same block (DESIGN §3; canonical tx order in Bitcoin Cash and Radiant).
  private addOutputs(block: BlockTouches, height: number): void {
    const { p, firstTxNum } = block;
    for (let position = 0; position < p.txCount; position++) {
      // Written at endFlush: inputs spending this flush's outputs never look in txs.
      const raw = p.raw.subarray(p.txBounds[position], p.txBounds[position + 1]);
      this.txRows.add(firstTxNum + position, block.txid(position), height, position, raw);
    }
    const insertRef = this.db.prepare('INSERT OR IGNORE INTO refs (ref, tx_num) VALUES (?, ?)');
    for (let j = 0; j < p.outputCount; j++) {
      const position = p.outTx[j] ?? 0;
      const txNum = firstTxNum + position;
      const refs = block.refs(j);
      const value = p.outValue[j] ?? 0n;
      const fields = { txNum, height, value, refs };
      this.outputs.add(p.txids, 32 * position, p.outVout[j] ?? 0, fields, p.hashxes, 32 * j);
      if (refs === null) continue;
      for (let at = 0; at < refs.length; at += REF_RECORD_BYTES) {
        insertRef.run(refs.subarray(at, at + REF_BYTES), txNum);
      }
    }
  }

  // Resolves each input through the outputs pending in this flush, then the utxos table; returns
  // the block's undo records (outputs created by earlier blocks).
  private spendInputs(block: BlockTouches, height: number, hashHex: string): IndexedOutput[] {
    const { p } = block;
    const undo: IndexedOutput[] = [];
    for (let k = 0; k < p.inputCount; k++) {
      const at = p.inPrevout[k] ?? 0;
      const vout = readU32LE(p.raw, at + 32);
      const slot = this.outputs.take(p.raw, at, vout);
      let spent: IndexedOutput | undefined;
      if (slot >= 0) {
        spent = outputOf(this.outputs, slot);
        // Outputs of this very block need no undo record: unwinding it deletes both sides.
        if (this.outputs.height(slot) < height) undo.push(spent);
      } else {
        spent = this.takeCommittedUtxo(p.raw, at, vout);
        if (spent !== undefined) undo.push(spent);
      }
      if (spent === undefined) {
        const position = p.inTx[k] ?? 0;
        const outpoint = `${hashToHex(p.raw.subarray(at, at + 32))}:${vout}`;
        const reason = `tx ${hashToHex(block.txid(position))} spends ${outpoint}`;
        throw new BlockError(height, hashHex, `${reason}, which is not an unspent output here`);
      }
      block.spent(k, spent.hashx, bytesKey(spent.hashx));
    }
    return undo;
  }

  // An outpoint created by an earlier flush: from the cache (its row is deleted at endFlush), else
  // from utxos. Undefined when neither holds it unspent.
  private takeCommittedUtxo(raw: Uint8Array, at: number, vout: number): IndexedOutput | undefined {
    const slot = this.cache.take(raw, at, vout);
    if (slot === TAKEN_ALREADY) return undefined;
    if (slot < 0) return this.takeStoredUtxo(raw.subarray(at, at + 32), vout);
    const { cache } = this;
    const txNum = cache.txNum(slot);
    this.cacheSpends.add(txNum, vout);
    const hashx = cache.hashx(slot);
    return { txNum, vout, hashx, value: cache.value(slot), refs: cache.refsOf(slot) };
  }

  // Finds an outpoint created by an earlier flush and deletes it from utxos in one statement (so
  // a second spend is not found). With duplicate txids (Bitcoin before BIP30) the latest tx holds
  // the spendable outputs, as in the node.
  // Only spends the UtxoCache misses come here (outputs it evicted, or written before a restart),
  // so this walk through txs_by_txid no longer dominates the writer.
  // Without txs_by_txid the lookup would scan every tx: TxidIndexNeeded has it built first.
  private takeStoredUtxo(txid: Uint8Array, vout: number): IndexedOutput | undefined {
    if (!this.txidIndexSeen) {
      if (!indexExists(this.db.sqlite, 'txs_by_txid')) throw new TxidIndexNeeded();
      this.txidIndexSeen = true;
    }
    const take = this.db.prepare(
      `DELETE FROM utxos
       WHERE tx_num = (SELECT tx_num FROM txs WHERE txid = ? ORDER BY tx_num DESC LIMIT 1)
         AND vout = ?
       RETURNING tx_num, hashx, value, refs`
    );
    // value is int64: photon amounts exceed 2^53 (DESIGN §3), so read integers as bigint.
    take.safeIntegers(true);
    const row = take.get(txid, vout) as
      | { tx_num: bigint; hashx: Uint8Array; value: bigint; refs: Uint8Array | null }
      | undefined;
    if (row === undefined) return undefined;
    return { txNum: Number(row.tx_num), vout, hashx: row.hashx, value: row.value, refs: row.refs };
  }

  // One history entry per (tx, script hash), in (height, position) order; written at endFlush.
  // Returns the script hashes the block touched, by bytesKey.
  private writeHistory(block: BlockTouches, height: number): Map<string, Uint8Array> {
    const { p, firstTxNum } = block;
    this.flushTxs.addBlock(p.txids, p.txCount, height);
    const touched = new Map<string, Uint8Array>();
    const inTx = new Set<string>();
    let j = 0;
    let k = 0;
    for (let position = 0; position < p.txCount; position++) {
      const txNum = firstTxNum + position;
      inTx.clear();
      for (; j < p.outputCount && p.outTx[j] === position; j++) {
        this.touch(block.outputKey(j), block.outputHashx(j), txNum, inTx, touched);
      }
      for (; k < p.inputCount && p.inTx[k] === position; k++) {
        this.touch(block.spentKey(k), block.spentHashx(k), txNum, inTx, touched);
      }
    }
    return touched;
  }

  private touch(
    key: string,
    hashx: Uint8Array,
    txNum: number,
    inTx: Set<string>,
    touched: Map<string, Uint8Array>
  ): void {
    if (inTx.has(key)) return;
    inTx.add(key);
    touched.set(key, hashx);
    this.statuses.add(key, txNum);
  }
}

/**
 * One prepared block as BlockWriter walks it: views of its txids and script hashes, the status
 * cache keys of its outputs (built once each), and what each input turned out to spend.
 */
class BlockTouches {
  readonly p: PreparedBlock;
  readonly firstTxNum: number;
  // A Buffer view, for latin1 keys without a Buffer per key.
  private readonly hashxBuffer: Buffer;
  private readonly outputKeys: (string | undefined)[];
  private readonly spentHashxes: Uint8Array[];
  private readonly spentKeys: string[];

  constructor(p: PreparedBlock, firstTxNum: number) {
    this.p = p;
    this.firstTxNum = firstTxNum;
    this.hashxBuffer = bufferOf(p.hashxes);
    this.outputKeys = new Array<string | undefined>(p.outputCount);
    this.spentHashxes = new Array<Uint8Array>(p.inputCount);
    this.spentKeys = new Array<string>(p.inputCount);
  }

  txid(position: number): Uint8Array {
    return this.p.txids.subarray(32 * position, 32 * position + 32);
  }

  outputHashx(j: number): Uint8Array {
    return this.p.hashxes.subarray(32 * j, 32 * j + 32);
  }

  /** bytesKey of output j's script hash, built once. */
  outputKey(j: number): string {
    let key = this.outputKeys[j];
    if (key === undefined) {
      key = this.hashxBuffer.toString('latin1', 32 * j, 32 * j + 32);
      this.outputKeys[j] = key;
    }
    return key;
  }

  refs(j: number): Uint8Array | null {
    const start = this.p.refBounds[j] ?? 0;
    const end = this.p.refBounds[j + 1] ?? 0;
    return start === end ? null : this.p.refs.subarray(start, end);
  }

  spent(k: number, hashx: Uint8Array, key: string): void {
    this.spentHashxes[k] = hashx;
    this.spentKeys[k] = key;
  }

  spentHashx(k: number): Uint8Array {
    const hashx = this.spentHashxes[k];
    if (hashx === undefined) throw new Error(`input ${k} not resolved (cannot happen)`);
    return hashx;
  }

  spentKey(k: number): string {
    return this.spentKeys[k] ?? '';
  }
}

/**
 * A spend missed the UtxoCache while txs_by_txid is dropped (initial sync): the flush must be
 * rolled back and the index built, between transactions, before trying again. Sync does that and
 * keeps the index from then on.
 */
export class TxidIndexNeeded extends Error {
  constructor() {
    super('a spend needs txs_by_txid, which initial sync dropped');
    this.name = 'TxidIndexNeeded';
  }
}

function outputOf(outputs: FlushOutputs, slot: number): IndexedOutput {
  return {
    txNum: outputs.txNum(slot),
    vout: outputs.vout(slot),
    hashx: outputs.hashx(slot),
    value: outputs.value(slot),
    refs: outputs.refsOf(slot),
  };
}

function sameTip(cached: CacheTip | null, state: CacheTip): boolean {
  if (cached === null || cached.height !== state.height || cached.txCount !== state.txCount) {
    return false;
  }
  if (cached.hash === null || state.hash === null) return cached.hash === state.hash;
  return equalBytes(cached.hash, state.hash);
}

/**
 * (tx_num, vout) pairs gathered in a flush, visited in key order. Each pair is one 64-bit key,
 * tx_num above VOUT_BITS bits of vout, so the typed array's own numeric sort orders them (five
 * times faster here than sorting indexes with a comparator).
 */
class SpentKeys {
  private keys = new BigUint64Array(1024);
  private count = 0;

  add(txNum: number, vout: number): void {
    if (this.count === this.keys.length) {
      const keys = new BigUint64Array(2 * this.count);
      keys.set(this.keys);
      this.keys = keys;
    }
    if (vout > VOUT_MAX || txNum > TX_NUM_MAX) {
      throw new RangeError(`output ${txNum}:${vout} is beyond the spent-key range`);
    }
    this.keys[this.count] = (BigInt(txNum) << VOUT_BITS) | BigInt(vout);
    this.count += 1;
  }

  sortedEach(visit: (txNum: number, vout: number) => void): void {
    const sorted = this.keys.subarray(0, this.count).sort();
    for (const key of sorted) visit(Number(key >> VOUT_BITS), Number(key & VOUT_MASK));
  }

  clear(): void {
    this.count = 0;
  }
}

// 28 bits of vout: an output is at least 9 bytes, so a tx with 2^28 outputs would not fit in any
// block these chains allow; 36 bits of tx_num, far above any chain's count of txs.
const VOUT_BITS = 28n;
const VOUT_MASK = (1n << VOUT_BITS) - 1n;
const VOUT_MAX = 2 ** 28 - 1;
const TX_NUM_MAX = 2 ** 36 - 1;

function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
