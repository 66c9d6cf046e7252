// The index reads behind checkpoint proofs, verbose and cached answers, refs, the fee histogram
// and the node's fee figures.
// Each function is one round trip: a batch in one read transaction sees one snapshot.
import type { Client, InStatement, ResultSet, Row } from '@libsql/client/web';
import { headerMerkleRoot } from '../core/block.ts';
import { hexToBytes, readU32LE } from '../core/bytes.ts';
import type { FeeRateBucket } from '../core/protocol/fee-histogram.ts';
import { treeNodeId, type TreeNodeKey } from '../core/protocol/header-proof.ts';
import type {
  BlockTxids,
  EstimateMode,
  HeaderRange,
  HeaderTreeNodes,
  MempoolFees,
  RefHistory,
  RefTx,
  TxRecord,
} from './index-reader.ts';
import { asBytes, asInt, asReal, column } from './libsql-values.ts';

// Header layout: version 4 | prev 32 | merkle root 32 | time 4 | bits 4 | nonce 4.
const HEADER_TIME_OFFSET = 68;

const TIP_STATEMENT: InStatement = {
  sql: 'SELECT height FROM chain_state WHERE id = 0',
  args: [],
};

async function batch(client: Client, statements: InStatement[]): Promise<ResultSet[]> {
  return client.batch(statements, 'deferred');
}

function tipOf(result: ResultSet | undefined): number {
  const row = result?.rows[0];
  return row === undefined ? -1 : asInt(column(row, 0, 'tip height'), 'tip height');
}

/** Headers [startHeight, startHeight + count) up to the tip, and the tip height. */
export async function readHeaderRange(
  client: Client,
  startHeight: number,
  count: number
): Promise<HeaderRange> {
  const [tip, headers] = await batch(client, [
    TIP_STATEMENT,
    {
      sql:
        'SELECT raw FROM headers WHERE height >= ? AND height < ? ' +
        'AND height <= (SELECT height FROM chain_state WHERE id = 0) ORDER BY height',
      args: [startHeight, startHeight + Math.max(0, count)],
    },
  ]);
  const rows = count > 0 ? (headers?.rows ?? []) : [];
  return {
    tipHeight: tipOf(tip),
    headers: rows.map((row) => asBytes(column(row, 0, 'header'), 'header')),
  };
}

/** A block's txids in order with the tip height; the unindexed genesis coinbase included. */
export async function readBlockTxidsWithTip(client: Client, height: number): Promise<BlockTxids> {
  const [tip, block, txids] = await batch(client, [
    TIP_STATEMENT,
    { sql: 'SELECT raw, tx_count FROM headers WHERE height = ?', args: [height] },
    {
      // One row of hex rather than a row per tx: a 3,000-tx block costs the index server and
      // the Worker one value to encode and decode instead of 3,000 rows. The order is the
      // subquery's; callers check what it gives (the merkle root against the header).
      sql:
        "SELECT group_concat(hex(txid), '') FROM (SELECT t.txid FROM headers h JOIN txs t " +
        'ON t.tx_num >= h.first_tx_num AND t.tx_num < h.first_tx_num + h.tx_count ' +
        'WHERE h.height = ? ORDER BY t.tx_num)',
      args: [height],
    },
  ]);
  const tipHeight = tipOf(tip);
  const blockRow = block?.rows[0];
  if (blockRow === undefined) return { tipHeight, txids: null };
  const txCount = asInt(column(blockRow, 1, 'tx_count'), 'tx_count');
  if (txCount === 0) {
    // The genesis coinbase is not indexed (DESIGN §3); a one-tx block's root is its txid.
    if (height !== 0) throw new Error(`block ${height} has no indexed txs`);
    const header = asBytes(column(blockRow, 0, 'genesis header'), 'genesis header');
    return { tipHeight, txids: [headerMerkleRoot(header).slice()] };
  }
  const joined = column(txids?.rows[0], 0, 'txids');
  const packed = hexToBytes(typeof joined === 'string' ? joined : '');
  if (packed.length !== txCount * 32) {
    const held = packed.length / 32;
    throw new Error(`block ${height} lists ${txCount} txs but the index holds ${held}`);
  }
  const list = Array.from({ length: txCount }, (_, n) => packed.subarray(n * 32, n * 32 + 32));
  return { tipHeight, txids: list };
}

/** A tx with its block (height, hash, header time), or from the mempool; null when unknown. */
export async function readTxRecord(client: Client, txid: Uint8Array): Promise<TxRecord | null> {
  const [tip, confirmed, mempool] = await batch(client, [
    TIP_STATEMENT,
    {
      // Bitcoin repeats two coinbase txids (BIP30); the later one is the live one.
      sql:
        'SELECT t.raw, t.height, h.hash, h.raw FROM txs t JOIN headers h ON h.height = t.height ' +
        'WHERE t.txid = ? ORDER BY t.tx_num DESC LIMIT 1',
      args: [txid],
    },
    { sql: 'SELECT raw FROM mempool_txs WHERE txid = ?', args: [txid] },
  ]);
  const tipHeight = tipOf(tip);
  const row = confirmed?.rows[0];
  if (row !== undefined) {
    const header = asBytes(column(row, 3, 'tx header'), 'tx header');
    const block = {
      height: asInt(column(row, 1, 'tx height'), 'tx height'),
      hash: asBytes(column(row, 2, 'tx block hash'), 'tx block hash'),
      time: readU32LE(header, HEADER_TIME_OFFSET),
    };
    return { raw: asBytes(column(row, 0, 'raw tx'), 'raw tx'), block, tipHeight };
  }
  const pending = mempool?.rows[0];
  if (pending === undefined) return null;
  return { raw: asBytes(column(pending, 0, 'mempool tx'), 'mempool tx'), block: null, tipHeight };
}

/** The nodes among `keys` that the index holds, with the tip height of the same snapshot. */
export async function readHeaderTreeNodes(
  client: Client,
  keys: readonly TreeNodeKey[]
): Promise<HeaderTreeNodes> {
  const leaves = keys.filter((key) => key.level === 0);
  const inner = keys.filter((key) => key.level > 0);
  const statements: InStatement[] = [TIP_STATEMENT];
  if (leaves.length > 0) {
    const marks = leaves.map(() => '?').join(', ');
    const sql = `SELECT 0, height, hash FROM headers WHERE height IN (${marks})`;
    statements.push({ sql, args: leaves.map((key) => key.index) });
  }
  if (inner.length > 0) {
    const marks = inner.map(() => '(?, ?)').join(', ');
    const sql = `SELECT level, idx, hash FROM header_tree WHERE (level, idx) IN (VALUES ${marks})`;
    statements.push({ sql, args: inner.flatMap((key) => [key.level, key.index]) });
  }
  const [tip, ...results] = await batch(client, statements);
  const nodes = new Map<string, Uint8Array>();
  for (const row of results.flatMap((result) => result.rows)) {
    const level = asInt(column(row, 0, 'tree level'), 'tree level');
    const index = asInt(column(row, 1, 'tree index'), 'tree index');
    nodes.set(treeNodeId({ level, index }), asBytes(column(row, 2, 'tree hash'), 'tree hash'));
  }
  return { tipHeight: tipOf(tip), nodes };
}

function refTx(row: Row, height: number): RefTx {
  return { txid: asBytes(column(row, 0, 'ref txid'), 'ref txid'), height };
}

/**
 * The first and last confirmed txs pushing `ref` (lowest and highest tx_num in refs) and the
 * mempool txs pushing it (mempool_refs), in the order they entered the mempool.
 */
export async function readRefHistory(client: Client, ref: Uint8Array): Promise<RefHistory> {
  const confirmedSql = (order: string) =>
    'SELECT t.txid, t.height FROM refs r JOIN txs t ON t.tx_num = r.tx_num ' +
    `WHERE r.ref = ? ORDER BY r.tx_num ${order} LIMIT 1`;
  const [first, last, mempool] = await batch(client, [
    { sql: confirmedSql('ASC'), args: [ref] },
    { sql: confirmedSql('DESC'), args: [ref] },
    {
      sql:
        'SELECT r.txid FROM mempool_refs r JOIN mempool_txs m ON m.txid = r.txid ' +
        'WHERE r.ref = ? ORDER BY m.seen_at, m.txid',
      args: [ref],
    },
  ]);
  const confirmed = [first?.rows[0], last?.rows[0]]
    .filter((row): row is Row => row !== undefined)
    .map((row) => refTx(row, asInt(column(row, 1, 'ref height'), 'ref height')));
  return { confirmed, mempool: (mempool?.rows ?? []).map((row) => refTx(row, 0)) };
}

/** Mempool bytes grouped by fee rate in tenths of a sat/byte (integer division rounds down). */
export async function readFeeRateBuckets(client: Client): Promise<FeeRateBucket[]> {
  const result = await client.execute(
    'SELECT fee * 10 / size AS tenths, SUM(size) FROM mempool_txs WHERE size > 0 ' +
      'GROUP BY tenths'
  );
  return result.rows.map((row) => ({
    rateTenths: asInt(column(row, 0, 'fee rate'), 'fee rate'),
    sizeBytes: asInt(column(row, 1, 'fee bytes'), 'fee bytes'),
  }));
}

// The indexer keeps targets 1..25; a longer target gets the longest one kept, as the node
// answers estimatesmartfee past its horizon with its longest estimate.
const PLAIN_ESTIMATE_SQL =
  'SELECT fee_rate FROM fee_estimates WHERE target_blocks <= ? ORDER BY target_blocks DESC LIMIT 1';
const MODE_ESTIMATE_SQL =
  'SELECT fee_rate FROM fee_estimates_by_mode WHERE mode = ? AND target_blocks <= ? ' +
  'ORDER BY target_blocks DESC LIMIT 1';

function feeRateOf(row: Row | undefined): number | null {
  return row === undefined ? null : asReal(column(row, 0, 'fee_rate'), 'fee_rate');
}

/** fee_estimates' figure for `targetBlocks` (fee_estimates_by_mode's with `mode`), or null. */
export async function readFeeEstimate(
  client: Client,
  targetBlocks: number,
  mode: EstimateMode | undefined
): Promise<number | null> {
  const plain: InStatement = { sql: PLAIN_ESTIMATE_SQL, args: [targetBlocks] };
  if (mode === undefined) return feeRateOf((await client.execute(plain)).rows[0]);
  const [byMode, fallback] = await batch(client, [
    { sql: MODE_ESTIMATE_SQL, args: [mode, targetBlocks] },
    plain,
  ]);
  // The indexer writes both tables in one transaction; an index without mode rows (migrated
  // to 0004 and not refreshed since) answers the no-mode figure, as a node without modes does.
  return feeRateOf(byMode?.rows[0] ?? fallback?.rows[0]);
}

function realOrNull(row: Row, index: number, what: string): number | null {
  const value = column(row, index, what);
  return value === null ? null : asReal(value, what);
}

/** chain_state.relay_fee with node_fees' floors (null before the indexer's first refresh). */
export async function readMempoolFees(client: Client): Promise<MempoolFees | null> {
  const result = await client.execute(
    'SELECT c.relay_fee, n.mempool_min_fee, n.incremental_fee FROM chain_state c ' +
      'LEFT JOIN node_fees n ON n.id = 0 WHERE c.id = 0'
  );
  const row = result.rows[0];
  const relayFee = row === undefined ? null : realOrNull(row, 0, 'relay_fee');
  if (row === undefined || relayFee === null) return null;
  return {
    relayFee,
    mempoolMinFee: realOrNull(row, 1, 'mempool_min_fee'),
    incrementalFee: realOrNull(row, 2, 'incremental_fee'),
  };
}
