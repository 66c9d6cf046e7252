// The read interface method handlers use on the chain index (libSQL in production, fakes in tests).
// Hashes are in internal byte order, amounts bigint (docs/ARCHITECTURE.md).
import type { FeeRateBucket } from '../core/protocol/fee-histogram.ts';
import type { TreeNodeKey } from '../core/protocol/header-proof.ts';

/** The best block the index holds. */
export interface ChainTip {
  height: number;
  /** The 80-byte header. */
  header: Uint8Array;
}

/** A confirmed tx touching a script hash. */
export interface ConfirmedTx {
  txid: Uint8Array;
  height: number;
}

/** An unconfirmed tx touching a script hash: height 0, or -1 when it spends unconfirmed outputs. */
export interface MempoolTx {
  txid: Uint8Array;
  height: number;
  /** Fee paid, in satoshis/photons. */
  fee: bigint;
}

/** An unspent output of a script hash; mempool outputs carry height 0. */
export interface Utxo {
  txid: Uint8Array;
  vout: number;
  height: number;
  value: bigint;
  /** Radiant refs, n x (36-byte ref + kind byte 0 normal / 1 single), or null. */
  refs: Uint8Array | null;
}

/** Confirmed and unconfirmed sums of a script hash, as get_balance reports them. */
export interface Balance {
  confirmed: bigint;
  /** Mempool outputs received minus confirmed or mempool outputs spent; may be negative. */
  unconfirmed: bigint;
  /** Confirmed unspent outputs summed into `confirmed`: get_balance's cost (DESIGN §6). */
  utxoCount: number;
}

/** estimatesmartfee's estimate_mode values the index keeps estimates for (protocol 1.6). */
export type EstimateMode = 'CONSERVATIVE' | 'ECONOMICAL';

/** The node's mempool fee floors for mempool.get_info, coin per kB. */
export interface MempoolFees {
  /** getnetworkinfo relayfee (= getmempoolinfo minrelaytxfee). */
  relayFee: number;
  /** getmempoolinfo mempoolminfee, or null before the indexer has read it. */
  mempoolMinFee: number | null;
  /** The incremental relay fee, or null when the node reports none (radiant-node). */
  incrementalFee: number | null;
}

/**
 * A script hash's history. `confirmedCount` is the number of confirmed entries, counted up to the
 * `limit` asked for; when it reaches the limit, `confirmed` is left empty (the caller refuses
 * such a history, so its rows are not read), else it holds them all.
 */
export interface History {
  confirmedCount: number;
  confirmed: ConfirmedTx[];
  mempool: MempoolTx[];
}

/** Consecutive headers and the tip height of the same snapshot (-1 for an empty index). */
export interface HeaderRange {
  tipHeight: number;
  headers: Uint8Array[];
}

/** A block's txids in block order (null beyond the tip) and the tip height of the snapshot. */
export interface BlockTxids {
  tipHeight: number;
  txids: Uint8Array[] | null;
}

/** Where a confirmed tx sits. */
export interface TxBlock {
  height: number;
  /** Block hash, internal order. */
  hash: Uint8Array;
  /** The block header's time, seconds. */
  time: number;
}

/** A tx's raw bytes, its block (null in the mempool) and the tip height of the snapshot. */
export interface TxRecord {
  raw: Uint8Array;
  block: TxBlock | null;
  tipHeight: number;
}

/** Complete header-tree nodes keyed by treeNodeId (core/protocol/header-proof.ts). */
export interface HeaderTreeNodes {
  tipHeight: number;
  nodes: Map<string, Uint8Array>;
}

/** A tx that pushes a Radiant ref in one of its outputs; mempool txs have height 0. */
export interface RefTx {
  txid: Uint8Array;
  height: number;
}

/** The txs pushing one ref: the first and last confirmed (0, 1 or 2 rows), then the mempool's. */
export interface RefHistory {
  confirmed: RefTx[];
  /** In the order they entered the mempool. */
  mempool: RefTx[];
}

/** Read access to the index. Every method reflects one consistent snapshot of it. */
export interface IndexReader {
  /** Null while the index holds no block. */
  tip(): Promise<ChainTip | null>;
  /** The header at `height`, or null beyond the tip. */
  header(height: number): Promise<Uint8Array | null>;
  /** Up to `count` consecutive headers from `startHeight`, fewer at the tip. */
  headers(startHeight: number, count: number): Promise<Uint8Array[]>;
  /** The txid at `position` of a block: null beyond the tip, undefined past the block's end. */
  txidAt(height: number, position: number): Promise<Uint8Array | null | undefined>;
  /** The raw bytes of a confirmed or unconfirmed tx, or null when unknown. */
  rawTx(txid: Uint8Array): Promise<Uint8Array | null>;
  balance(hashx: Uint8Array): Promise<Balance>;
  /** Confirmed history in block order (none read when `limit` or more), then the mempool's. */
  history(hashx: Uint8Array, limit: number): Promise<History>;
  /** How many confirmed history entries, counted up to `limit` (no row is read). */
  historyCount(hashx: Uint8Array, limit: number): Promise<number>;
  mempoolHistory(hashx: Uint8Array): Promise<MempoolTx[]>;
  /**
   * Confirmed outputs not spent in the mempool, then unspent mempool outputs; at most `limit`
   * confirmed rows are read (so a longer list is cut short: ask for one more than you can send).
   */
  unspent(hashx: Uint8Array, limit: number): Promise<Utxo[]>;
  /** How many confirmed unspent outputs, counted up to `limit` (no row is read). */
  unspentCount(hashx: Uint8Array, limit: number): Promise<number>;
  /** The cached status hash (32 raw bytes), or null when the script hash has no history. */
  status(hashx: Uint8Array): Promise<Uint8Array | null>;
  /** The node's relay fee in coin per kB, or null before the indexer has read it. */
  relayFee(): Promise<number | null>;
  /**
   * The node's fee estimate in coin per kB for confirmation within `targetBlocks`, or null;
   * with `mode`, estimatesmartfee's figure for that estimate mode.
   */
  feeEstimate(targetBlocks: number, mode?: EstimateMode): Promise<number | null>;
  /** The relay fee and the mempool fee floors, or null before the indexer has read them. */
  mempoolFees(): Promise<MempoolFees | null>;
  /** Up to `count` headers from `startHeight` (fewer at the tip) with the tip height. */
  headerRange(startHeight: number, count: number): Promise<HeaderRange>;
  /** The txids of a block with the tip height, for merkle proofs that may be cached. */
  blockTxidsWithTip(height: number): Promise<BlockTxids>;
  /** A confirmed or mempool tx with its block, or null when unknown. */
  txRecord(txid: Uint8Array): Promise<TxRecord | null>;
  /** The stored nodes among `keys`: level 0 from headers.hash, levels >= 1 from header_tree. */
  headerTreeNodes(keys: readonly TreeNodeKey[]): Promise<HeaderTreeNodes>;
  /** The txs pushing the 36-byte `ref` (internal txid + vout LE). */
  refHistory(ref: Uint8Array): Promise<RefHistory>;
  /** Mempool bytes per fee rate (tenths of a sat/byte, rounded down). */
  feeRateBuckets(): Promise<FeeRateBucket[]>;
}
