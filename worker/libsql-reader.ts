// IndexReader over libSQL (Hrana HTTP from the Worker): the SQL behind every Electrum answer.
// Tables and columns are those of docs/ARCHITECTURE.md and core/schema.ts.
import type { Client, InArgs, InStatement, ResultSet, Row, Value } from '@libsql/client/web';
import { headerMerkleRoot } from '../core/block.ts';
import { hashToHex } from '../core/bytes.ts';
import type { FeeRateBucket } from '../core/protocol/fee-histogram.ts';
import type { TreeNodeKey } from '../core/protocol/header-proof.ts';
import type {
  Balance,
  BlockTxids,
  ChainTip,
  EstimateMode,
  HeaderRange,
  HeaderTreeNodes,
  History,
  IndexReader,
  MempoolFees,
  MempoolTx,
  RefHistory,
  TxRecord,
  Utxo,
} from './index-reader.ts';
import { asBigInt, asBytes, asInt, asReal, bytesOrNull, column } from './libsql-values.ts';
import {
  readBlockTxidsWithTip,
  readFeeEstimate,
  readFeeRateBuckets,
  readHeaderRange,
  readHeaderTreeNodes,
  readMempoolFees,
  readRefHistory,
  readTxRecord,
} from './libsql-protocol-reads.ts';

// Counts walk the (hashx, ...) keys alone, and stop at the limit.
const COUNT_HISTORY_SQL = 'SELECT count(*) FROM (SELECT 1 FROM history WHERE hashx = ? LIMIT ?)';
const COUNT_UNSPENT_SQL = 'SELECT count(*) FROM (SELECT 1 FROM utxos WHERE hashx = ? LIMIT ?)';

function outpointKey(txid: Uint8Array, vout: number): string {
  return `${hashToHex(txid)}:${vout}`;
}

// Mempool entries: height 0 before -1, then by txid display hex (DESIGN §5, the status order).
function byMempoolOrder(a: MempoolTx, b: MempoolTx): number {
  if (a.height !== b.height) return b.height - a.height;
  return hashToHex(a.txid) < hashToHex(b.txid) ? -1 : 1;
}

/** Reads the index through a libSQL client created with `intMode: 'bigint'`. */
export class LibsqlIndexReader implements IndexReader {
  readonly #client: Client;

  constructor(client: Client) {
    this.#client = client;
  }

  // Several statements in one round trip and one read transaction, so they see one snapshot.
  async #batch(statements: InStatement[]): Promise<ResultSet[]> {
    return this.#client.batch(statements, 'deferred');
  }

  async #one(sql: string, args: InArgs): Promise<Row | undefined> {
    const result = await this.#client.execute({ sql, args });
    return result.rows[0];
  }

  async tip(): Promise<ChainTip | null> {
    const row = await this.#one(
      'SELECT c.height, h.raw FROM chain_state c ' +
        'LEFT JOIN headers h ON h.height = c.height WHERE c.id = 0',
      []
    );
    if (row === undefined) return null;
    const height = asInt(column(row, 0, 'tip height'), 'tip height');
    if (height < 0) return null;
    const raw = column(row, 1, 'tip header');
    if (raw === null) throw new Error(`index has no header at its tip height ${height}`);
    return { height, header: asBytes(raw, 'tip header') };
  }

  async header(height: number): Promise<Uint8Array | null> {
    const row = await this.#one('SELECT raw FROM headers WHERE height = ?', [height]);
    return row === undefined ? null : asBytes(column(row, 0, 'header'), 'header');
  }

  async headers(startHeight: number, count: number): Promise<Uint8Array[]> {
    if (count <= 0) return [];
    const result = await this.#client.execute({
      sql:
        'SELECT raw FROM headers WHERE height >= ? AND height < ? ' +
        'AND height <= (SELECT height FROM chain_state WHERE id = 0) ORDER BY height',
      args: [startHeight, startHeight + count],
    });
    return result.rows.map((row) => asBytes(column(row, 0, 'headers'), 'headers'));
  }

  async txidAt(height: number, position: number): Promise<Uint8Array | null | undefined> {
    const [block, tx] = await this.#batch([
      { sql: 'SELECT raw, tx_count FROM headers WHERE height = ?', args: [height] },
      {
        sql:
          'SELECT t.txid FROM headers h JOIN txs t ON t.tx_num = h.first_tx_num + ? ' +
          'WHERE h.height = ? AND ? < h.tx_count',
        args: [position, height, position],
      },
    ]);
    const blockRow = block?.rows[0];
    if (blockRow === undefined) return null;
    const txCount = asInt(column(blockRow, 1, 'tx_count'), 'tx_count');
    if (txCount === 0) {
      const coinbase = unindexedCoinbase(height, column(blockRow, 0, 'header'));
      return position === 0 ? coinbase : undefined;
    }
    const txRow = tx?.rows[0];
    return txRow === undefined ? undefined : asBytes(column(txRow, 0, 'txid'), 'txid');
  }

  async rawTx(txid: Uint8Array): Promise<Uint8Array | null> {
    const [confirmed, mempool] = await this.#batch([
      { sql: 'SELECT raw FROM txs WHERE txid = ? LIMIT 1', args: [txid] },
      { sql: 'SELECT raw FROM mempool_txs WHERE txid = ?', args: [txid] },
    ]);
    const row = confirmed?.rows[0] ?? mempool?.rows[0];
    return row === undefined ? null : asBytes(column(row, 0, 'raw tx'), 'raw tx');
  }

  async balance(hashx: Uint8Array): Promise<Balance> {
    const sums = await this.#batch([
      { sql: 'SELECT COALESCE(SUM(value), 0), COUNT(*) FROM utxos WHERE hashx = ?', args: [hashx] },
      { sql: 'SELECT COALESCE(SUM(value), 0) FROM mempool_outputs WHERE hashx = ?', args: [hashx] },
      { sql: 'SELECT COALESCE(SUM(value), 0) FROM mempool_spends WHERE hashx = ?', args: [hashx] },
    ]);
    const [confirmed, received, spent] = sums.map((set) =>
      asBigInt(column(set.rows[0], 0, 'balance sum'), 'balance sum')
    );
    if (confirmed === undefined || received === undefined || spent === undefined) {
      throw new Error('balance batch returned fewer results than statements');
    }
    const utxoCount = asInt(column(sums[0]?.rows[0], 1, 'utxo count'), 'utxo count');
    return { confirmed, unconfirmed: received - spent, utxoCount };
  }

  async historyCount(hashx: Uint8Array, limit: number): Promise<number> {
    const row = await this.#one(COUNT_HISTORY_SQL, [hashx, limit]);
    return asInt(column(row, 0, 'history count'), 'history count');
  }

  async unspentCount(hashx: Uint8Array, limit: number): Promise<number> {
    const row = await this.#one(COUNT_UNSPENT_SQL, [hashx, limit]);
    return asInt(column(row, 0, 'utxo count'), 'utxo count');
  }

  async history(hashx: Uint8Array, limit: number): Promise<History> {
    // Counting entries walks the history index alone; a history that reaches `limit` is refused
    // by the caller, so its rows (and their txids) are not read at all.
    const counted = COUNT_HISTORY_SQL;
    const [count, confirmed, mempool] = await this.#batch([
      { sql: counted, args: [hashx, limit] },
      {
        sql:
          'SELECT t.txid, t.height FROM history h JOIN txs t ON t.tx_num = h.tx_num ' +
          `WHERE h.hashx = ? ORDER BY h.tx_num LIMIT (CASE WHEN (${counted}) >= ? THEN 0 ` +
          'ELSE ? END)',
        args: [hashx, hashx, limit, limit, limit],
      },
      mempoolHistoryStatement(hashx),
    ]);
    return {
      confirmedCount: asInt(column(count?.rows[0], 0, 'history count'), 'history count'),
      confirmed: (confirmed?.rows ?? []).map((row) => ({
        txid: asBytes(column(row, 0, 'history txid'), 'history txid'),
        height: asInt(column(row, 1, 'history height'), 'history height'),
      })),
      mempool: readMempoolHistory(mempool),
    };
  }

  async mempoolHistory(hashx: Uint8Array): Promise<MempoolTx[]> {
    const [mempool] = await this.#batch([mempoolHistoryStatement(hashx)]);
    return readMempoolHistory(mempool);
  }

  async unspent(hashx: Uint8Array, limit: number): Promise<Utxo[]> {
    const [confirmed, created, spent] = await this.#batch([
      {
        sql:
          'SELECT t.txid, u.vout, t.height, u.value, u.refs FROM utxos u ' +
          'JOIN txs t ON t.tx_num = u.tx_num WHERE u.hashx = ? ORDER BY u.tx_num, u.vout LIMIT ?',
        args: [hashx, limit],
      },
      { sql: 'SELECT txid, vout, value, refs FROM mempool_outputs WHERE hashx = ?', args: [hashx] },
      { sql: 'SELECT prev_txid, prev_vout FROM mempool_spends WHERE hashx = ?', args: [hashx] },
    ]);
    const spentKeys = new Set(
      (spent?.rows ?? []).map((row) => {
        const txid = asBytes(column(row, 0, 'spent txid'), 'spent txid');
        return outpointKey(txid, asInt(column(row, 1, 'spent vout'), 'spent vout'));
      })
    );
    const confirmedUtxos = (confirmed?.rows ?? []).map((row) => {
      return readUtxo(row, asInt(column(row, 2, 'utxo height'), 'utxo height'), 3);
    });
    // ElectrumX lists mempool outputs unordered; ours are sorted so replies are stable.
    const mempoolUtxos = (created?.rows ?? []).map((row) => readUtxo(row, 0, 2)).sort(byOutpoint);
    return [...confirmedUtxos, ...mempoolUtxos].filter(
      (utxo) => !spentKeys.has(outpointKey(utxo.txid, utxo.vout))
    );
  }

  async status(hashx: Uint8Array): Promise<Uint8Array | null> {
    const row = await this.#one('SELECT status FROM status WHERE hashx = ?', [hashx]);
    return row === undefined ? null : bytesOrNull(column(row, 0, 'status'), 'status');
  }

  async relayFee(): Promise<number | null> {
    const row = await this.#one('SELECT relay_fee FROM chain_state WHERE id = 0', []);
    const value = row === undefined ? null : column(row, 0, 'relay_fee');
    return value === null ? null : asReal(value, 'relay_fee');
  }

  feeEstimate(targetBlocks: number, mode?: EstimateMode): Promise<number | null> {
    return readFeeEstimate(this.#client, targetBlocks, mode);
  }

  mempoolFees(): Promise<MempoolFees | null> {
    return readMempoolFees(this.#client);
  }

  headerRange(startHeight: number, count: number): Promise<HeaderRange> {
    return readHeaderRange(this.#client, startHeight, count);
  }

  blockTxidsWithTip(height: number): Promise<BlockTxids> {
    return readBlockTxidsWithTip(this.#client, height);
  }

  txRecord(txid: Uint8Array): Promise<TxRecord | null> {
    return readTxRecord(this.#client, txid);
  }

  headerTreeNodes(keys: readonly TreeNodeKey[]): Promise<HeaderTreeNodes> {
    return readHeaderTreeNodes(this.#client, keys);
  }

  refHistory(ref: Uint8Array): Promise<RefHistory> {
    return readRefHistory(this.#client, ref);
  }

  feeRateBuckets(): Promise<FeeRateBucket[]> {
    return readFeeRateBuckets(this.#client);
  }
}

// The genesis coinbase is not indexed (DESIGN §3), so its block has no txs rows; a one-tx
// block's merkle root is that tx's txid, which answers get_merkle and id_from_pos for it.
function unindexedCoinbase(height: number, header: Value): Uint8Array {
  if (height !== 0) throw new Error(`block ${height} has no indexed txs`);
  return headerMerkleRoot(asBytes(header, 'genesis header')).slice();
}

function mempoolHistoryStatement(hashx: Uint8Array): InStatement {
  return {
    sql:
      'SELECT m.txid, m.height, m.fee FROM mempool_history mh ' +
      'JOIN mempool_txs m ON m.txid = mh.txid WHERE mh.hashx = ?',
    args: [hashx],
  };
}

function readMempoolHistory(result: ResultSet | undefined): MempoolTx[] {
  const rows = result?.rows ?? [];
  return rows
    .map((row) => ({
      txid: asBytes(column(row, 0, 'mempool txid'), 'mempool txid'),
      height: asInt(column(row, 1, 'mempool height'), 'mempool height'),
      fee: asBigInt(column(row, 2, 'mempool fee'), 'mempool fee'),
    }))
    .sort(byMempoolOrder);
}

// Columns: txid, vout, then `valueColumn` = value and the next one refs.
function readUtxo(row: Row, height: number, valueColumn: number): Utxo {
  return {
    txid: asBytes(column(row, 0, 'utxo txid'), 'utxo txid'),
    vout: asInt(column(row, 1, 'utxo vout'), 'utxo vout'),
    height,
    value: asBigInt(column(row, valueColumn, 'utxo value'), 'utxo value'),
    refs: bytesOrNull(column(row, valueColumn + 1, 'utxo refs'), 'utxo refs'),
  };
}

// By txid display hex, then vout: the order wallets see txids in.
function byOutpoint(a: Utxo, b: Utxo): number {
  const [aHex, bHex] = [hashToHex(a.txid), hashToHex(b.txid)];
  if (aHex !== bHex) return aHex < bHex ? -1 : 1;
  return a.vout - b.vout;
}
