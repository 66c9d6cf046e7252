// The indexer's admin RPC commands: getinfo, sessions, groups, disconnect, log, reorg, query,
// daemon_url and stop (served by admin-rpc.ts, called by `electrum-edge rpc`).
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { AddressError, decodeAddress, outputScript } from '../core/address.ts';
import { hashToHex, hexToHash } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { BAD_REQUEST, RpcError, describeValue } from '../core/protocol/errors.ts';
import { scriptHash } from '../core/script.ts';
import type { AdminHandler } from './admin-rpc.ts';
import type { AuthorizedUrl } from './config.ts';
import { indexExists, type IndexDb } from './db.ts';
import { log, logLevel, setLogLevel } from './log.ts';
import { parseLogLevel } from './logger.ts';
import { unwindTo } from './reorg.ts';
import type { BlockRejection } from './sync.ts';

/** What the commands read from and act on; main.ts wires the running indexer in. */
export interface AdminCommandDeps {
  /** The writer connection: `reorg` unwinds through it. */
  db: IndexDb;
  /** The index file; read over a read-only connection of the commands' own (committed state). */
  dbPath: string;
  coin: Coin;
  reorgLimit: number;
  /** The node client: `reachability` is `ok` or why its last call failed. */
  daemon: { readonly reachability: string };
  /** Node RPC URL without credentials, and the node user (never the password). */
  daemonUrl: string;
  daemonUser: string;
  /** The node's tip as the sync last polled it; null before the first poll. */
  nodeHeight: () => number | null;
  /** The block sync refuses and waits below, if any (getinfo `sync: "block_rejected"`). */
  rejection?: () => BlockRejection | null;
  startedAtMs: number;
  /** WORKER_ADMIN_URL and WORKER_ADMIN_TOKEN, for sessions, groups and disconnect. */
  workerAdmin?: AuthorizedUrl;
  /** Where the remote libSQL mirror stands (DB_URL), for getinfo. */
  remoteStatus?: () => unknown;
  /** After `reorg` unwound blocks: the new index height (metrics). */
  onUnwound?: (height: number) => void;
  /** Starts a graceful stop; called once the `stop` reply has gone out. */
  stop: () => void;
  /** For tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

/** The handler table for startAdminRpc, and the read connection to close at shutdown. */
export interface AdminCommands {
  handlers: Readonly<Record<string, AdminHandler>>;
  close(): void;
}

// Rows listed per part of a `query` reply; ElectrumX's query command stops at a limit too.
export const QUERY_LIMIT = 1_000;
const WORKER_TIMEOUT_MS = 10_000;
// The reply to `stop` must leave before the admin server closes its connections.
const STOP_DELAY_MS = 100;

function badRequest(message: string): RpcError {
  return new RpcError(BAD_REQUEST, message);
}

function fileBytes(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

// The node's tip is only known as of the last poll: while the node does not answer, the index
// may be behind a tip nobody can see, so neither caught_up nor syncing would be true. A refused
// block stays first: it needs the operator whether or not the node answers.
function syncState(
  height: number,
  nodeHeight: number | null,
  rejected: boolean,
  nodeReachability: string
): string {
  if (rejected) return 'block_rejected';
  if (nodeReachability !== 'ok') return 'node_unavailable';
  if (nodeHeight === null) return 'starting';
  return height >= nodeHeight ? 'caught_up' : 'syncing';
}

interface ChainRow {
  coin: string;
  net: string;
  height: number;
  tip_hash: Uint8Array | null;
  tx_count: number;
}

function getinfo(deps: AdminCommandDeps, reader: Database.Database): Record<string, unknown> {
  const state = reader
    .prepare('SELECT coin, net, height, tip_hash, tx_count FROM chain_state WHERE id = 0')
    .get() as ChainRow;
  const mempool = reader
    .prepare('SELECT COUNT(*) AS txs, COALESCE(SUM(size), 0) AS bytes FROM mempool_txs')
    .get() as { txs: number; bytes: number };
  const nodeHeight = deps.nodeHeight();
  const rejection = deps.rejection?.() ?? null;
  return {
    coin: state.coin,
    net: state.net,
    height: state.height,
    tip: state.tip_hash === null ? null : hashToHex(state.tip_hash),
    tx_count: state.tx_count,
    sync: syncState(state.height, nodeHeight, rejection !== null, deps.daemon.reachability),
    rejected_block:
      rejection === null
        ? null
        : {
            height: rejection.height,
            hash: rejection.hash,
            error: rejection.error,
            since: new Date(rejection.sinceMs).toISOString(),
          },
    node: deps.daemon.reachability,
    node_height: nodeHeight,
    lag_blocks: nodeHeight === null ? null : Math.max(0, nodeHeight - state.height),
    mempool: { txs: mempool.txs, bytes: mempool.bytes },
    db_bytes: fileBytes(deps.dbPath) + fileBytes(`${deps.dbPath}-wal`),
    uptime_seconds: Math.round((Date.now() - deps.startedAtMs) / 1000),
    log_level: logLevel(),
    remote: deps.remoteStatus?.() ?? null,
  };
}

function changeLogLevel(params: readonly unknown[]): Record<string, string> {
  const [wanted] = params;
  if (wanted === undefined) return { level: logLevel() };
  const parsed = typeof wanted === 'string' ? parseLogLevel(wanted) : undefined;
  if (parsed === undefined || parsed.problem !== undefined) {
    const shown = describeValue(wanted, 40);
    throw badRequest(`log level ${shown} is not one of debug, info, warning, error`);
  }
  setLogLevel(wanted as string);
  log.info('log_level_changed', { level: logLevel() });
  return { level: logLevel() };
}

// Unwinding inside a flush would mix with the sync's half-written blocks; between flushes the
// sync re-reads chain_state before every step, so it re-applies what was unwound.
function reorg(deps: AdminCommandDeps, params: readonly unknown[]): Record<string, unknown> {
  const [count] = params;
  const height = deps.db.readChainState().height;
  const most = Math.min(deps.reorgLimit, height);
  if (most < 1) throw badRequest(`nothing to unwind: the index is at height ${height}`);
  if (count === undefined) throw badRequest(`reorg needs the number of blocks, 1 to ${most}`);
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > most) {
    const shown = describeValue(count, 20);
    throw badRequest(`reorg count ${shown} must be an integer from 1 to ${most}`);
  }
  if (deps.db.sqlite.inTransaction || !indexExists(deps.db.sqlite, 'txs_by_txid')) {
    throw badRequest('the indexer is in initial sync; try again once it has caught up');
  }
  unwindTo(deps.db, deps.coin, deps.reorgLimit, height - count, deps.nodeHeight() ?? -1);
  const now = deps.db.readChainState().height;
  deps.onUnwound?.(now);
  const note = 'the sync applies the node blocks again at its next poll';
  return { unwound: count, height: now, note };
}

// A script hash (64 hex, display order) or an address of the coin, as ElectrumX's query takes.
function scriptHashParam(params: readonly unknown[], coin: Coin): Uint8Array {
  const [value] = params;
  if (typeof value === 'string' && /^[0-9a-fA-F]{64}$/.test(value)) {
    return hexToHash(value.toLowerCase());
  }
  const expected = `is not a script hash (64 hex) or a ${coin.name} ${coin.net} address`;
  if (typeof value !== 'string') throw badRequest(`${describeValue(value, 70)} ${expected}`);
  try {
    return scriptHash(outputScript(decodeAddress(value, coin)), coin);
  } catch (error) {
    if (!(error instanceof AddressError)) throw error;
    throw badRequest(`${describeValue(value, 70)} ${expected} (${error.reason})`);
  }
}

type TxRow = { txid: Uint8Array; height: number };
// Read with safe integers: amounts exceed 2^53 (DESIGN §3), so every integer comes as a bigint.
type UtxoRow = { txid: Uint8Array; vout: bigint; height: bigint; value: bigint };

function listLimited<T>(rows: T[]): { items: T[]; truncated: boolean } {
  return { items: rows.slice(0, QUERY_LIMIT), truncated: rows.length > QUERY_LIMIT };
}

// Confirmed history in (height, position) order, then the mempool, as the status hash orders them.
function queryHistory(reader: Database.Database, hashx: Uint8Array) {
  const confirmed = reader
    .prepare(
      `SELECT t.txid AS txid, t.height AS height FROM history h JOIN txs t ON t.tx_num = h.tx_num
       WHERE h.hashx = ? ORDER BY h.tx_num LIMIT ?`
    )
    .all(hashx, QUERY_LIMIT + 1) as TxRow[];
  const mempool = reader
    .prepare(
      `SELECT m.txid AS txid, t.height AS height FROM mempool_history m
       JOIN mempool_txs t ON t.txid = m.txid WHERE m.hashx = ? LIMIT ?`
    )
    .all(hashx, QUERY_LIMIT + 1) as TxRow[];
  // Height 0 before -1, ties by display hex (DESIGN §5), which is not the BLOB's byte order.
  const keyed = mempool.map((row) => ({ row, hex: hashToHex(row.txid) }));
  keyed.sort((a, b) => b.row.height - a.row.height || (a.hex < b.hex ? -1 : 1));
  return listLimited([...confirmed, ...keyed.map((entry) => entry.row)]);
}

// The SQL condition "this outpoint is not spent by a mempool tx".
function notSpentInMempool(txid: string, vout: string): string {
  return `NOT EXISTS (SELECT 1 FROM mempool_spends s WHERE s.prev_txid = ${txid}
    AND s.prev_vout = ${vout})`;
}

// Unspent outputs: confirmed ones not spent in the mempool, then mempool outputs (height 0).
function queryUtxos(reader: Database.Database, hashx: Uint8Array) {
  const confirmed = reader
    .prepare(
      `SELECT t.txid AS txid, u.vout AS vout, t.height AS height, u.value AS value
       FROM utxos u JOIN txs t ON t.tx_num = u.tx_num
       WHERE u.hashx = ? AND ${notSpentInMempool('t.txid', 'u.vout')}
       ORDER BY u.tx_num, u.vout LIMIT ?`
    )
    .safeIntegers(true)
    .all(hashx, QUERY_LIMIT + 1) as UtxoRow[];
  const mempool = reader
    .prepare(
      `SELECT o.txid AS txid, o.vout AS vout, 0 AS height, o.value AS value
       FROM mempool_outputs o WHERE o.hashx = ? AND ${notSpentInMempool('o.txid', 'o.vout')}
       ORDER BY o.txid, o.vout LIMIT ?`
    )
    .safeIntegers(true)
    .all(hashx, QUERY_LIMIT + 1) as UtxoRow[];
  return listLimited([...confirmed, ...mempool]);
}

// ElectrumX's get_balance: confirmed = every confirmed unspent output; unconfirmed = mempool
// outputs minus the confirmed outputs the mempool spends (so it may be negative).
function queryBalance(reader: Database.Database, hashx: Uint8Array) {
  const sum = (sql: string): bigint => {
    const row = reader.prepare(sql).safeIntegers(true).get(hashx) as { total: bigint };
    return row.total;
  };
  const total = (table: string): bigint =>
    sum(`SELECT COALESCE(SUM(value), 0) AS total FROM ${table} WHERE hashx = ?`);
  const confirmed = total('utxos');
  const unconfirmed = total('mempool_outputs') - total('mempool_spends');
  return { confirmed, unconfirmed };
}

function query(
  reader: Database.Database,
  coin: Coin,
  params: readonly unknown[]
): Record<string, unknown> {
  const hashx = scriptHashParam(params, coin);
  const history = queryHistory(reader, hashx);
  const utxos = queryUtxos(reader, hashx);
  return {
    script_hash: hashToHex(hashx),
    balance: queryBalance(reader, hashx),
    history: history.items.map((row) => ({ tx_hash: hashToHex(row.txid), height: row.height })),
    utxos: utxos.items.map((row) => ({
      tx_hash: hashToHex(row.txid),
      tx_pos: Number(row.vout),
      height: Number(row.height),
      value: row.value,
    })),
    truncated: history.truncated || utxos.truncated,
  };
}

function daemonUrl(deps: AdminCommandDeps): string {
  const url = new URL(deps.daemonUrl);
  url.username = encodeURIComponent(deps.daemonUser);
  return url.href.replace(/\/$/, '');
}

async function callWorker(
  deps: AdminCommandDeps,
  command: string,
  path: string,
  body?: unknown
): Promise<unknown> {
  const admin = deps.workerAdmin;
  if (admin === undefined) {
    // The rpc CLI only asks the indexer, which calls the Worker: the CLI's own environment
    // does not matter here, the running indexer's does.
    throw badRequest(
      `${command} asks the Worker's admin API: set WORKER_ADMIN_URL and WORKER_ADMIN_TOKEN ` +
        "in the indexer's environment, then restart the indexer"
    );
  }
  const doFetch = deps.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(`${admin.url}/admin${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${admin.secret}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(WORKER_TIMEOUT_MS),
    });
  } catch (error) {
    const reason = error instanceof Error ? (error.cause ?? error) : error;
    throw badRequest(`cannot reach the Worker's admin API at ${admin.url}: ${String(reason)}`);
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: shown as text below.
  }
  if (!response.ok) {
    const detail = typeof parsed === 'object' && parsed !== null ? JSON.stringify(parsed) : text;
    throw badRequest(
      `the Worker's admin API answered HTTP ${response.status} to ${path.split('?')[0] ?? path}: ` +
        describeValue(detail, 200)
    );
  }
  return parsed;
}

function groups(deps: AdminCommandDeps, params: readonly unknown[]): Promise<unknown> {
  const [address] = params;
  if (address === undefined) return callWorker(deps, 'groups', '/limits/lists');
  if (typeof address !== 'string' || address.length > 64) {
    throw badRequest(`${describeValue(address, 40)} is not an IP address`);
  }
  return callWorker(deps, 'groups', `/limits/groups?ip=${encodeURIComponent(address)}`);
}

function disconnect(deps: AdminCommandDeps, params: readonly unknown[]): Promise<unknown> {
  const [target] = params;
  if (typeof target !== 'string' && typeof target !== 'number') {
    throw badRequest('disconnect needs a session id or a client IP address');
  }
  return callWorker(deps, 'disconnect', '/sessions/disconnect', { target: String(target) });
}

function stop(deps: AdminCommandDeps): string {
  log.info('stop_requested', { via: 'admin_rpc' });
  setTimeout(deps.stop, STOP_DELAY_MS);
  return 'stopping';
}

/**
 * The admin commands over the running indexer. Reads go through a read-only connection of their
 * own, so they see committed blocks only, never a flush half written.
 */
export function createAdminCommands(deps: AdminCommandDeps): AdminCommands {
  const reader = new Database(deps.dbPath, { readonly: true, fileMustExist: true });
  const handlers: Record<string, AdminHandler> = {
    getinfo: () => getinfo(deps, reader),
    sessions: () => callWorker(deps, 'sessions', '/sessions'),
    groups: (params) => groups(deps, params),
    disconnect: (params) => disconnect(deps, params),
    log: (params) => changeLogLevel(params),
    reorg: (params) => reorg(deps, params),
    query: (params) => query(reader, deps.coin, params),
    daemon_url: () => daemonUrl(deps),
    stop: () => stop(deps),
  };
  return { handlers, close: () => reader.close() };
}
