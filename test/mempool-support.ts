// Helpers for the mempool, reorg and crash tests: an in-process indexer (sync + mempool) on a
// simulated node, waiting until the index matches the node, digests without seen_at, and an
// independent recomputation of every status (node:crypto, sharing no code with core/ or indexer/).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Coin } from '../core/coins.ts';
import { Daemon, type DaemonOptions } from '../indexer/daemon.ts';
import { openIndexDb, type IndexDb } from '../indexer/db.ts';
import { configureLog } from '../indexer/log.ts';
import { startMempool, type MempoolHandle } from '../indexer/mempool.ts';
import { Sync } from '../indexer/sync.ts';
import { callNode } from '../tools/sim-node-client.ts';
import type { SimNode } from '../tools/sim-node.ts';
import {
  CHAIN_TABLES,
  digestTable,
  SIM_PASSWORD,
  SIM_USER,
  startTestNode,
} from './indexer-support.ts';

/** Raw hex of a version-2 tx spending outpoints (display txids); scriptSigs are OP_TRUE. */
export { spend as txHex } from '../tools/sim-node-testkit.ts';

/** hash160 of the key Radiant's genesis coinbase pays (DESIGN §3). */
export const GENESIS_KEY_HASH160 = '4f9ab47a237441c0dc61dcd39fd92709f281b033';

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();
const displayHex = (hash: Uint8Array): string => Buffer.from(hash).reverse().toString('hex');
const internal = (displayTxid: string): Buffer => Buffer.from(displayTxid, 'hex').reverse();

/** A P2PKH script for a 20-byte key hash given as hex. */
export function p2pkhScript(hash160Hex: string): Buffer {
  return Buffer.from(`76a914${hash160Hex}88ac`, 'hex');
}

/** A made-up key hash, distinct per label. */
export function keyHash(label: string): string {
  return sha256(Buffer.from(label)).subarray(0, 20).toString('hex');
}

/** The 36-byte ref naming outpoint `txid:vout` (txid display hex): txid internal order, vout LE. */
export function refOf(txid: string, vout: number): Buffer {
  const ref = Buffer.alloc(36);
  internal(txid).copy(ref, 0);
  ref.writeUInt32LE(vout, 32);
  return ref;
}

/** NFT-style script of DESIGN §3: `d8 <ref> 75` then P2PKH. */
export function singletonScript(ref: Buffer, hash160Hex: string): Buffer {
  return Buffer.concat([Buffer.of(0xd8), ref, Buffer.of(0x75), p2pkhScript(hash160Hex)]);
}

/** FT-style script of DESIGN §3: P2PKH, then `bd d0 <ref> dec0e9aa76e378e4a269e69d`. */
export function tokenScript(ref: Buffer, hash160Hex: string): Buffer {
  const tail = Buffer.from('dec0e9aa76e378e4a269e69d', 'hex');
  return Buffer.concat([p2pkhScript(hash160Hex), Buffer.of(0xbd, 0xd0), ref, tail]);
}

/** Display txid of a legacy tx (version 1 or 2), with node:crypto. */
export function txidOfHex(hex: string): string {
  return displayHex(sha256(sha256(Buffer.from(hex, 'hex'))));
}

/** An indexer running in this process: sync and the mempool follower on one index file. */
export interface LocalIndexer {
  readonly db: IndexDb;
  readonly dbPath: string;
  readonly mempool: MempoolHandle;
  /** Settles when sync stops: resolves after stop(), rejects when sync fails. */
  readonly running: Promise<void>;
  stop(): Promise<void>;
}

export interface LocalIndexerOptions {
  node: SimNode;
  coin: Coin;
  dir: string;
  pollIntervalMs?: number;
  reorgLimit?: number;
  flushBlocks?: number;
  daemon?: Partial<DaemonOptions>;
  /** Runs on the open index before sync starts (e.g. PRAGMA max_page_count). */
  prepare?: (db: IndexDb) => void;
}

/** Opens the index in `dir` and starts sync and the mempool follower against `node`. */
export function startLocalIndexer(options: LocalIndexerOptions): LocalIndexer {
  const { node, coin } = options;
  const dbPath = join(options.dir, 'index.db');
  const db = openIndexDb(dbPath, coin);
  options.prepare?.(db);
  const controller = new AbortController();
  const { signal } = controller;
  const url = new URL(node.url);
  const daemon = new Daemon({
    url: `${url.protocol}//${url.host}`,
    user: SIM_USER,
    password: SIM_PASSWORD,
    signal,
    firstRetryMs: 20,
    maxRetryMs: 200,
    ...options.daemon,
  });
  const pollIntervalMs = options.pollIntervalMs ?? 40;
  const reorgLimit = options.reorgLimit ?? 200;
  const flushBlocks = options.flushBlocks ?? 50;
  const sync = new Sync({ db, daemon, coin, reorgLimit, flushBlocks, pollIntervalMs, signal });
  const mempool = startMempool({ db, daemon, coin, reorgLimit, pollIntervalMs, signal });
  const running = sync.run();
  // Observed by tests through `running`; shown here too, as a stopped sync otherwise only
  // surfaces as a wait that times out.
  running.catch((error: unknown) => console.error('local indexer: sync stopped', error));
  return {
    db,
    dbPath,
    mempool,
    running,
    async stop() {
      controller.abort();
      await running.catch(() => {});
      await mempool.stopped;
      db.close();
    },
  };
}

/** The node's mempool as getrawmempool verbose gives it, keyed by display txid (node order). */
export async function nodeMempool(node: SimNode): Promise<Map<string, { depends: string[] }>> {
  const verbose = (await callNode(node.url, 'getrawmempool', [true], 10_000)) as Record<
    string,
    { depends: string[] }
  >;
  return new Map(Object.entries(verbose));
}

/** Raw hex of each mempool tx, in the node's order. */
export async function nodeMempoolHex(node: SimNode): Promise<string[]> {
  const txids = (await callNode(node.url, 'getrawmempool', [], 10_000)) as string[];
  const out: string[] = [];
  for (const txid of txids) {
    out.push((await callNode(node.url, 'getrawtransaction', [txid, false], 10_000)) as string);
  }
  return out;
}

interface IndexView {
  tipHash: string | null;
  mempool: string[];
}

function indexView(dbPath: string): IndexView {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const state = db.prepare('SELECT tip_hash FROM chain_state WHERE id = 0').get() as {
      tip_hash: Buffer | null;
    };
    const rows = db.prepare('SELECT txid FROM mempool_txs').all() as { txid: Buffer }[];
    return {
      tipHash: state.tip_hash === null ? null : displayHex(state.tip_hash),
      mempool: rows.map((row) => displayHex(row.txid)).sort(),
    };
  } finally {
    db.close();
  }
}

/**
 * Waits until the index at `dbPath` holds the node's tip and exactly the node's mempool txids
 * (polling both; bounded by `timeoutMs`).
 */
export async function waitSettled(
  node: SimNode,
  dbPath: string,
  timeoutMs = 20_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let round = 0; Date.now() < deadline && round < 100_000; round++) {
    const txids = ((await callNode(node.url, 'getrawmempool', [], 10_000)) as string[]).sort();
    const view = indexView(dbPath);
    if (view.tipHash === node.tipHash() && view.mempool.join() === txids.join()) return;
    last = `index tip ${view.tipHash} with ${view.mempool.length} mempool txs; node tip ` +
      `${node.tipHash()} with ${txids.length}`;
    await new Promise((done) => setTimeout(done, 25));
  }
  throw new Error(`index did not settle in ${timeoutMs} ms: ${last}`);
}

/**
 * One digest per chain table (core/schema.ts), keys in order, leaving out what is not chain data:
 * mempool_txs.seen_at (our clock), chain_state's change counter and relay fee.
 */
export function chainDigests(dbPath: string): Record<string, string> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  const columns: Record<string, string> = {
    chain_state: 'id, coin, net, height, tip_hash, tx_count',
    mempool_txs: 'txid, raw, fee, height, size',
  };
  try {
    const out: Record<string, string> = {};
    for (const table of CHAIN_TABLES) out[table] = digestTable(db, table, columns[table]);
    return out;
  } finally {
    db.close();
  }
}

/**
 * chainDigests of a clean in-process sync, in `dir`, of a fresh node holding `node`'s chain and
 * mempool: what any way of reaching that chain and mempool must leave.
 */
export async function cleanSyncDigests(
  node: SimNode,
  coin: Coin,
  dir: string,
  reorgLimit?: number
): Promise<Record<string, string>> {
  const clean = await startTestNode(coin, nodeBlocks(node));
  try {
    for (const tx of await nodeMempoolHex(node)) clean.addMempoolTx(tx);
    const indexer = startLocalIndexer({ node: clean, coin, dir, reorgLimit });
    try {
      await waitSettled(clean, indexer.dbPath, 60_000);
    } finally {
      await indexer.stop();
    }
    return chainDigests(indexer.dbPath);
  } finally {
    await clean.close();
  }
}

/** Every status row of the index: display script hash -> status hex. */
export function indexStatuses(dbPath: string): Map<string, string> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT hashx, status FROM status').all() as {
      hashx: Buffer;
      status: Buffer | null;
    }[];
    return new Map(rows.map((row) => [displayHex(row.hashx), row.status?.toString('hex') ?? '']));
  } finally {
    db.close();
  }
}

/** The node's active chain as block hex, index = height. */
export function nodeBlocks(node: SimNode): string[] {
  return Array.from({ length: node.tipHeight() + 1 }, (_, height) => node.blockHex(height));
}

/** Log lines of this process, parsed, while captured. */
export interface CapturedLog {
  readonly events: Record<string, unknown>[];
  /** Events named `event`. */
  named(event: string): Record<string, unknown>[];
  /** Back to the default: info on stdout. */
  restore(): void;
}

/** Sends the indexer's log lines (of `level` and up) into memory instead of stdout. */
export function captureLog(level = 'info'): CapturedLog {
  const events: Record<string, unknown>[] = [];
  const write = (text: string): boolean => {
    for (const line of text.split('\n')) {
      if (line.trim() !== '') events.push(JSON.parse(line) as Record<string, unknown>);
    }
    return true;
  };
  configureLog({ level, format: 'json', destination: { write } });
  return {
    events,
    named: (event) => events.filter((entry) => entry.event === event),
    restore: () => configureLog({ level: 'info', destination: undefined }),
  };
}
