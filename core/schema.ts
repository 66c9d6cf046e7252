// The chain index schema (drizzle sqlite-core): the contract between the indexer and the Worker.
import {
  customType,
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
} from 'drizzle-orm/sqlite-core';

/**
 * A BLOB column read as a plain Uint8Array. drizzle's own `blob({ mode: 'buffer' })` needs Node's
 * Buffer, which the Worker does not have; @libsql/client/web hands blobs over as ArrayBuffer.
 */
export const bytes = customType<{ data: Uint8Array; driverData: Uint8Array | ArrayBuffer }>({
  dataType: () => 'blob',
  fromDriver: (value) => (value instanceof Uint8Array ? value : new Uint8Array(value)),
  toDriver: (value) => value,
});

/**
 * An INTEGER column read as bigint: amounts in photons exceed 2^53 (DESIGN §3), and drizzle's
 * `integer()` is typed as number.
 */
export const int64 = customType<{ data: bigint; driverData: bigint | number }>({
  dataType: () => 'integer',
  fromDriver: (value) => BigInt(value),
  toDriver: (value) => value,
});

/**
 * What the index holds: one row, `id` = 0. `height` is -1 and `tip_hash` NULL when empty.
 * `notices_held_after` is set while a reorg is under way (from its unwind until the mempool is
 * read again at the node's tip): change rows after that seq are not pushed yet, so wallets hear
 * of the new branch and its mempool at once, never of the state in between.
 */
export const chainState = sqliteTable('chain_state', {
  id: integer('id').primaryKey(),
  coin: text('coin').notNull(),
  net: text('net').notNull(),
  height: integer('height').notNull(),
  tipHash: bytes('tip_hash'),
  txCount: integer('tx_count').notNull(),
  lastChangeSeq: integer('last_change_seq').notNull(),
  relayFee: real('relay_fee'),
  noticesHeldAfter: integer('notices_held_after'),
});

/** The header chain; a block's txs are tx_nums first_tx_num .. first_tx_num + tx_count - 1. */
export const headers = sqliteTable('headers', {
  height: integer('height').primaryKey(),
  hash: bytes('hash').notNull(),
  raw: bytes('raw').notNull(),
  firstTxNum: integer('first_tx_num').notNull(),
  txCount: integer('tx_count').notNull(),
});

/**
 * Complete subtrees of the merkle tree over block hashes, for cp_height proofs: level L node
 * `idx` covers heights [idx * 2^L, (idx + 1) * 2^L). Level 0 is headers.hash, not stored here.
 */
export const headerTree = sqliteTable(
  'header_tree',
  {
    level: integer('level').notNull(),
    idx: integer('idx').notNull(),
    hash: bytes('hash').notNull(),
  },
  (t) => [primaryKey({ columns: [t.level, t.idx] })]
);

/** Every confirmed tx with its raw bytes, numbered in chain order. */
export const txs = sqliteTable(
  'txs',
  {
    txNum: integer('tx_num').primaryKey(),
    txid: bytes('txid').notNull(),
    height: integer('height').notNull(),
    position: integer('position').notNull(),
    raw: bytes('raw').notNull(),
  },
  (t) => [index('txs_by_txid').on(t.txid)]
);

/** Every confirmed tx touching a script hash, as output or as spent input. */
export const history = sqliteTable(
  'history',
  {
    hashx: bytes('hashx').notNull(),
    txNum: integer('tx_num').notNull(),
  },
  (t) => [primaryKey({ columns: [t.hashx, t.txNum] })]
);

/** Unspent confirmed outputs. */
export const utxos = sqliteTable(
  'utxos',
  {
    txNum: integer('tx_num').notNull(),
    vout: integer('vout').notNull(),
    hashx: bytes('hashx').notNull(),
    value: int64('value').notNull(),
    refs: bytes('refs'),
  },
  (t) => [primaryKey({ columns: [t.txNum, t.vout] }), index('utxos_by_hashx').on(t.hashx)]
);

/** Radiant: every confirmed tx with an output pushing `ref`. */
export const refs = sqliteTable(
  'refs',
  {
    ref: bytes('ref').notNull(),
    txNum: integer('tx_num').notNull(),
  },
  (t) => [primaryKey({ columns: [t.ref, t.txNum] })]
);

/** The outputs a block spent, kept for the last REORG_LIMIT blocks so a reorg can restore them. */
export const undo = sqliteTable('undo', {
  height: integer('height').primaryKey(),
  data: bytes('data').notNull(),
});

/** Status cache per script hash: the current status and the resumable confirmed part. */
export const status = sqliteTable('status', {
  hashx: bytes('hashx').primaryKey(),
  status: bytes('status'),
  confirmedState: bytes('confirmed_state'),
  confirmedCount: integer('confirmed_count').notNull(),
});

/** Unconfirmed txs. */
export const mempoolTxs = sqliteTable('mempool_txs', {
  txid: bytes('txid').primaryKey(),
  raw: bytes('raw').notNull(),
  fee: int64('fee').notNull(),
  height: integer('height').notNull(),
  size: integer('size').notNull(),
  seenAt: integer('seen_at').notNull(),
});

/** Unconfirmed txs touching a script hash. */
export const mempoolHistory = sqliteTable(
  'mempool_history',
  {
    hashx: bytes('hashx').notNull(),
    txid: bytes('txid').notNull(),
  },
  (t) => [primaryKey({ columns: [t.hashx, t.txid] })]
);

/** Outputs created by unconfirmed txs. */
export const mempoolOutputs = sqliteTable(
  'mempool_outputs',
  {
    txid: bytes('txid').notNull(),
    vout: integer('vout').notNull(),
    hashx: bytes('hashx').notNull(),
    value: int64('value').notNull(),
    refs: bytes('refs'),
  },
  (t) => [
    primaryKey({ columns: [t.txid, t.vout] }),
    index('mempool_outputs_by_hashx').on(t.hashx),
  ]
);

/** Outpoints spent by unconfirmed txs, with what they held. */
export const mempoolSpends = sqliteTable(
  'mempool_spends',
  {
    prevTxid: bytes('prev_txid').notNull(),
    prevVout: integer('prev_vout').notNull(),
    txid: bytes('txid').notNull(),
    hashx: bytes('hashx').notNull(),
    value: int64('value').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.prevTxid, t.prevVout] }),
    index('mempool_spends_by_hashx').on(t.hashx),
  ]
);

/** Radiant: every unconfirmed tx with an output pushing `ref` (blockchain.ref.get at height 0). */
export const mempoolRefs = sqliteTable(
  'mempool_refs',
  {
    ref: bytes('ref').notNull(),
    txid: bytes('txid').notNull(),
  },
  (t) => [primaryKey({ columns: [t.ref, t.txid] })]
);

/** The node's fee estimates for targets 1..25, since the Worker cannot reach the node. */
export const feeEstimates = sqliteTable('fee_estimates', {
  targetBlocks: integer('target_blocks').primaryKey(),
  feeRate: real('fee_rate').notNull(),
});

/**
 * The node's estimatesmartfee per estimate_mode (CONSERVATIVE, ECONOMICAL) for targets 1..25,
 * for blockchain.estimatefee's `mode` (protocol 1.6). fee_estimates holds the no-mode answers.
 */
export const feeEstimatesByMode = sqliteTable(
  'fee_estimates_by_mode',
  {
    mode: text('mode').notNull(),
    targetBlocks: integer('target_blocks').notNull(),
    feeRate: real('fee_rate').notNull(),
  },
  (t) => [primaryKey({ columns: [t.mode, t.targetBlocks] })]
);

/** The node's mempool fee floors for mempool.get_info: one row, `id` = 0. */
export const nodeFees = sqliteTable('node_fees', {
  id: integer('id').primaryKey(),
  incrementalFee: real('incremental_fee'),
  mempoolMinFee: real('mempool_min_fee'),
});

/** Change feed: after each commit, which script hashes changed. */
export const changes = sqliteTable('changes', {
  seq: integer('seq').primaryKey(),
  height: integer('height').notNull(),
  tipHash: bytes('tip_hash').notNull(),
  hashxes: bytes('hashxes').notNull(),
});

/*
 * Storage layout. Hashes are BLOBs in internal order (the hash function's output; display hex is
 * the reverse, core/bytes.ts); amounts are INTEGER photons/satoshis (int64). Tables whose key is
 * composite or a 32-byte hash are WITHOUT ROWID (migration 0001): the row lives in the key's own
 * B-tree, so an insert touches one tree instead of a rowid table plus its key index. drizzle-kit
 * cannot express WITHOUT ROWID (drizzle-orm issue #408), so 0001 is a custom migration that
 * recreates those (empty) tables; a later generated migration that rebuilds one of them must
 * repeat the clause by hand in a custom migration.
 *
 * chain_state  key id = 0. coin, net: the names of core/coins.ts. height: tip height, -1 when
 *              empty. tip_hash: 32 bytes or NULL. tx_count: rows in txs (= next tx_num).
 *              last_change_seq: newest changes.seq. relay_fee: getnetworkinfo relayfee, coin/kB.
 * headers      key height. hash 32, raw 80 (as in the block). first_tx_num, tx_count: the block's
 *              tx_num range. The genesis block has tx_count 0: its coinbase is not indexed,
 *              as in ElectrumX (DESIGN §3).
 * header_tree  key (level >= 1, idx). hash 32 = sha256d(left child | right child), internal
 *              order; a level-1 node's children are headers.hash (SHA-512/256d on Radiant, the
 *              tree above is SHA-256d on every chain). Only complete subtrees: a node is written
 *              when the block closing its range commits (indexer/header-tree.ts) and deleted when
 *              a reorg unwinds any height it covers. About one row per block in all.
 * txs          key tx_num: 0-based over the whole chain in block order, so a tx_num is a compact
 *              (height, position) and history rows sort by it. txid 32 (for segwit the txid of
 *              the stripped serialization; Radiant v3 rule), raw = the tx as in the block.
 *              txs_by_txid is not unique: Bitcoin has duplicate coinbase txids (BIP30).
 * history      key (hashx 32, tx_num). No value: the key is the fact. One row per tx per script
 *              hash, whether the tx paid to it, spent from it, or both.
 * utxos        key (tx_num, vout u32). hashx 32, value int64, refs: NULL or n x 37 bytes
 *              (36-byte ref = txid internal order + vout u32 LE, then kind 0 normal / 1 single),
 *              in script order, deduplicated (core pushRefs). utxos_by_hashx for listunspent.
 *              Keyed by tx_num, not txid, to keep the key 2 integers; spends look the txid up
 *              in txs_by_txid first.
 * refs         key (ref 36, tx_num). Every confirmed tx with an output pushing the ref (0xd0 or
 *              0xd8 operand); kept when spent, so the first and last txs of a ref are the
 *              lowest and highest tx_num.
 * undo         key height. data = the outputs created before this block and spent by it, each
 *              tx_num u64 LE | vout u32 LE | hashx 32 | value i64 LE | refs length u16 LE | refs.
 *              Outputs created and spent inside the block need no record: unwinding the
 *              block deletes both. Pruned below tip - REORG_LIMIT.
 * status       key hashx 32. status: the current status hash (32 raw bytes of SHA-256, the
 *              wire form is its plain hex) or NULL. confirmed_state: core StatusHasher state over
 *              the confirmed history, so a block adds its entries without rereading history;
 *              NULL when confirmed_count is 0. status covers the confirmed entries, then the
 *              mempool ones (height 0 before -1, ties by display txid; DESIGN §5), extended from
 *              confirmed_state (indexer/mempool-status.ts). A script hash with neither confirmed
 *              nor mempool history has no row.
 * mempool_txs  key txid 32. raw as the node sent it, fee int64 (inputs minus outputs), height 0,
 *              or -1 when an input spends another mempool tx, size = virtual bytes (BIP141
 *              vsize; the raw length without witness), seen_at = unix seconds when the
 *              indexer first saw it (not chain data: digests leave it out).
 * mempool_history key (hashx 32, txid 32): unconfirmed txs touching a script hash, as in history.
 * mempool_outputs key (txid, vout u32). hashx, value, refs as in utxos, for every spendable
 *              output of a mempool tx, also when another mempool tx spends it (mempool_spends
 *              says so): listunspent leaves those out, get_balance counts both sides.
 * mempool_spends key (prev_txid 32, prev_vout u32): the outpoint a mempool tx spends (txid),
 *              with the hashx and value the spent output held (confirmed or mempool).
 * mempool_refs key (ref 36, txid 32): Radiant refs pushed by mempool outputs, like refs.
 *              The mempool tables are written by indexer/mempool*.ts: a refresh from the node
 *              and, inside each block's transaction, the removal of mined and conflicting txs.
 * fee_estimates key target_blocks 1..25; fee_rate coin/kB, -1 when the node has no estimate.
 * fee_estimates_by_mode key (mode, target_blocks 1..25). mode 'CONSERVATIVE' or 'ECONOMICAL'
 *              (estimatesmartfee's estimate_mode); fee_rate as in fee_estimates. A node without
 *              modes (or without estimatesmartfee) gets its no-mode figure under each mode.
 * node_fees    key id = 0. incremental_fee: getmempoolinfo incrementalrelayfee, else
 *              getnetworkinfo incrementalfee, coin/kB; NULL when the node reports neither
 *              (radiant-node). mempool_min_fee: getmempoolinfo mempoolminfee
 *              (the larger of the relay fee and the full mempool's rolling floor), NULL when
 *              the node did not answer getmempoolinfo. The relay fee stays in chain_state.
 * changes      key seq (1, 2, ...). One row per applied or unwound block: the new tip height
 *              and hash, hashxes = the touched script hashes, n x 32 bytes, sorted bytewise.
 *              Pruned to the last REORG_LIMIT rows; a reader that fell further behind rereads
 *              the statuses it cares about.
 */
