// Helpers for the indexer tests: table digests, comparison of an index with the independent
// reference reading of a chain (test/support/reference-chain.ts), temp directories, and the
// simulated node and indexer processes a test starts.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import type { Coin } from '../core/coins.ts';
import { getCoin } from '../core/coins.ts';
import { buildBlock, buildCoinbase, serializeTx } from '../tools/block-builder.ts';
import { ChainGenerator } from '../tools/chain-generator.ts';
import { Daemon } from '../indexer/daemon.ts';
import { openIndexDb, type IndexDb } from '../indexer/db.ts';
import { Sync, type SyncOptions } from '../indexer/sync.ts';
import { startSimNode, type SimNode, type SimNodeOptions } from '../tools/sim-node.ts';
import {
  readReferenceChain,
  referenceStatus,
  type ReferenceChain,
} from './support/reference-chain.ts';

/** Every chain table with its key columns, for a key-ordered walk. */
export const TABLE_KEYS: Record<string, string> = {
  chain_state: 'id',
  headers: 'height',
  txs: 'tx_num',
  history: 'hashx, tx_num',
  utxos: 'tx_num, vout',
  refs: 'ref, tx_num',
  undo: 'height',
  status: 'hashx',
  mempool_txs: 'txid',
  mempool_history: 'hashx, txid',
  mempool_outputs: 'txid, vout',
  mempool_spends: 'prev_txid, prev_vout',
  mempool_refs: 'ref, txid',
  fee_estimates: 'target_blocks',
  changes: 'seq',
};

/** The chain state proper: what a reorg must leave exactly as a clean sync of the winner. */
export const CHAIN_TABLES = Object.keys(TABLE_KEYS).filter(
  (table) => table !== 'changes' && table !== 'fee_estimates'
);

/** A generated Radiant regtest chain (hex blocks from genesis) and its independent reading. */
export function generatedRadiantChain(
  blocks: number,
  txsPerBlock: number,
  seed: number
): { hexes: string[]; ref: ReferenceChain } {
  const coin = getCoin('Radiant', 'regtest');
  const generator = new ChainGenerator({ coin, blocks, txsPerBlock, seed });
  const hexes = [...generator.blocks()].map((bytes) => Buffer.from(bytes).toString('hex'));
  const ref = readReferenceChain(hexes, 'sha512_256d', { radiant: true, segwit: false });
  return { hexes, ref };
}

/** What syncFromSimNode lets a test set: every Sync option but the node, index and signal. */
export type SyncTuning = Partial<Omit<SyncOptions, 'db' | 'daemon' | 'coin' | 'signal'>>;

const SYNC_NODE_PASSWORD = 'sim-pass-0123456789';

/**
 * Serves `blocks` (hex, from genesis) from a simulated node and runs Sync into the index at
 * `path` until it holds the last block and `done` (when given) agrees, then stops both. `tune`
 * gets the open index (for observers and spies) and returns the options to use.
 */
export async function syncFromSimNode(
  path: string,
  coin: Coin,
  blocks: string[],
  tune: (db: IndexDb) => SyncTuning,
  done: (db: IndexDb) => boolean = () => true
): Promise<void> {
  const password = SYNC_NODE_PASSWORD;
  const node = await startSimNode({ coin, blocks, user: 'rpc', password });
  const db = openIndexDb(path, coin);
  const controller = new AbortController();
  const { signal } = controller;
  try {
    const url = `http://127.0.0.1:${node.port}`;
    const daemon = new Daemon({ url, user: 'rpc', password, signal });
    const defaults = { reorgLimit: 50, flushBlocks: 1000, pollIntervalMs: 20 };
    const running = new Sync({ ...defaults, ...tune(db), db, daemon, coin, signal }).run();
    const deadline = Date.now() + 20_000;
    while (db.readChainState().height < blocks.length - 1 || !done(db)) {
      if (Date.now() > deadline) throw new Error('sync did not catch up in time');
      await new Promise((wake) => setTimeout(wake, 20));
    }
    controller.abort();
    await running;
  } finally {
    controller.abort();
    await node.close();
    db.close();
  }
}

export function tempDir(prefix = 'indexer-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Temp directories one test file makes, removed together at its end. */
export interface TempDirs {
  make(): string;
  removeAll(): void;
}

export function tempDirs(prefix: string): TempDirs {
  const made: string[] = [];
  return {
    make() {
      const dir = tempDir(prefix);
      made.push(dir);
      return dir;
    },
    removeAll() {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function cell(value: unknown): string {
  if (Buffer.isBuffer(value)) return `x${value.toString('hex')}`;
  if (value === null) return 'null';
  return `${typeof value}:${String(value)}`;
}

/**
 * SHA-256 over every row of `table` in key order, as `rows:digest`. `columns` picks what counts
 * (default every column).
 */
export function digestTable(db: Database.Database, table: string, columns = '*'): string {
  const statement = db.prepare(`SELECT ${columns} FROM ${table} ORDER BY ${TABLE_KEYS[table]}`);
  statement.safeIntegers(true);
  const hash = createHash('sha256');
  let rows = 0;
  for (const row of statement.iterate() as Iterable<Record<string, unknown>>) {
    hash.update(Object.values(row).map(cell).join('|') + '\n');
    rows += 1;
  }
  return `${rows}:${hash.digest('hex').slice(0, 16)}`;
}

/**
 * One digest per table (digestTable). chain_state's last_change_seq and relay_fee are left out
 * when `changes` is (they count commits, not chain).
 */
export function tableDigests(
  dbPath: string,
  tables = Object.keys(TABLE_KEYS)
): Record<string, string> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const out: Record<string, string> = {};
    for (const table of tables) {
      const columns =
        table === 'chain_state' && !tables.includes('changes')
          ? 'id, coin, net, height, tip_hash, tx_count'
          : '*';
      out[table] = digestTable(db, table, columns);
    }
    return out;
  } finally {
    db.close();
  }
}

const displayToInternal = (hex: string): Buffer => Buffer.from(hex, 'hex').reverse();
const internalToDisplay = (bytes: Uint8Array): string =>
  Buffer.from(bytes).reverse().toString('hex');

/**
 * Asserts that the index at `dbPath` holds exactly the reference chain: headers, txs, history,
 * utxos and statuses of every script hash (expected values come from the reference reader).
 */
export function expectIndexMatchesReference(dbPath: string, ref: ReferenceChain): void {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const headers = db.prepare('SELECT height, hash, raw FROM headers ORDER BY height').all() as {
      height: number;
      hash: Buffer;
      raw: Buffer;
    }[];
    expect(headers.map((row) => internalToDisplay(row.hash))).toEqual(ref.blockHashes);
    const rawHeaders = headers.map((row) => row.raw.toString('hex'));
    expect(rawHeaders).toEqual(ref.headers.map((header) => header.toString('hex')));

    const txs = db.prepare('SELECT txid, height, position, raw FROM txs ORDER BY tx_num').all() as {
      txid: Buffer;
      height: number;
      position: number;
      raw: Buffer;
    }[];
    const expectedTxs = [...ref.txs.values()].sort(
      (a, b) => a.height - b.height || a.position - b.position
    );
    expect(txs.length).toBe(expectedTxs.length);
    txs.forEach((row, i) => {
      const want = expectedTxs[i];
      const got = { txid: internalToDisplay(row.txid), height: row.height, position: row.position };
      expect(got).toEqual({ txid: want?.txid, height: want?.height, position: want?.position });
      expect(row.raw.equals(want?.raw ?? Buffer.alloc(0))).toBe(true);
    });

    expectHistoryAndStatus(db, ref);
    expectUtxos(db, ref);
  } finally {
    db.close();
  }
}

function expectHistoryAndStatus(db: Database.Database, ref: ReferenceChain): void {
  const historyOf = db.prepare(
    `SELECT t.txid AS txid, t.height AS height FROM history h JOIN txs t ON t.tx_num = h.tx_num
     WHERE h.hashx = ? ORDER BY h.tx_num`
  );
  const statusOf = db.prepare('SELECT status, confirmed_count FROM status WHERE hashx = ?');
  let historyRows = 0;
  for (const [scriptHash, expected] of ref.history) {
    const hashx = displayToInternal(scriptHash);
    const rows = historyOf.all(hashx) as { txid: Buffer; height: number }[];
    const got = rows.map((row) => ({ txHash: internalToDisplay(row.txid), height: row.height }));
    expect(got, `history of ${scriptHash}`).toEqual(expected);
    historyRows += rows.length;
    const status = statusOf.get(hashx) as { status: Buffer; confirmed_count: number } | undefined;
    const statusHex = status?.status.toString('hex');
    expect(statusHex, `status of ${scriptHash}`).toBe(referenceStatus(expected));
    expect(status?.confirmed_count).toBe(expected.length);
  }
  const counts = db
    .prepare(
      'SELECT (SELECT COUNT(*) FROM history) AS history, (SELECT COUNT(*) FROM status) AS status'
    )
    .get() as { history: number; status: number };
  expect(counts).toEqual({ history: historyRows, status: ref.history.size });
}

function expectUtxos(db: Database.Database, ref: ReferenceChain): void {
  const rows = db
    .prepare(
      `SELECT t.txid AS txid, u.vout AS vout, u.value AS value, u.hashx AS hashx
       FROM utxos u JOIN txs t ON t.tx_num = u.tx_num`
    )
    .safeIntegers(true)
    .all() as { txid: Buffer; vout: bigint; value: bigint; hashx: Buffer }[];
  const got = rows
    .map((row) => {
      const outpoint = `${internalToDisplay(row.txid)}:${row.vout}`;
      return `${internalToDisplay(row.hashx)} ${outpoint} ${row.value}`;
    })
    .sort();
  const want = [...ref.unspent.values()]
    .flat()
    .map((out) => `${out.scriptHash} ${out.txid}:${out.vout} ${out.value}`)
    .sort();
  expect(got).toEqual(want);
}

/** Hash (display hex) and time of a block given as hex, read from its header independently. */
export function headerInfo(
  blockHex: string,
  headerHash: 'sha256d' | 'sha512_256d'
): { hash: string; time: number } {
  const header = Buffer.from(blockHex.slice(0, 160), 'hex');
  const name = headerHash === 'sha256d' ? 'sha256' : 'sha512-256';
  const once = createHash(name).update(header).digest();
  const twice = createHash(name).update(once).digest();
  return { hash: Buffer.from(twice).reverse().toString('hex'), time: header.readUInt32LE(68) };
}

/** A P2PKH output script for a 20-byte key hash. */
export function p2pkh(hash160Hex: string): Uint8Array {
  return Buffer.from(`76a914${hash160Hex}88ac`, 'hex');
}

/** A tx input spending `txid:vout` (display hex txid) with a throwaway scriptSig. */
export function spend(txidDisplay: string, vout: number): {
  prevTxid: Uint8Array;
  prevVout: number;
  script: Uint8Array;
  sequence: number;
} {
  return {
    prevTxid: displayToInternal(txidDisplay),
    prevVout: vout,
    script: Uint8Array.of(0x51),
    sequence: 0xffffffff,
  };
}

/** txid (display hex) of a raw legacy tx, computed with node:crypto. */
export function txidOf(raw: Uint8Array): string {
  const once = createHash('sha256').update(raw).digest();
  return Buffer.from(createHash('sha256').update(once).digest()).reverse().toString('hex');
}

export const PROJECT_DIR = join(import.meta.dirname, '..');
export const TEST_TOKEN = 'test-index-server-token-0123456789';
/** The simulated node's RPC credentials in the indexer tests. */
export const SIM_USER = 'rpc';
export const SIM_PASSWORD = 'sim-pass-0123456789';

type TestNodeOptions = Partial<Omit<SimNodeOptions, 'coin' | 'blocks'>>;

/** Starts the simulated node on `blocks`, as SIM_USER / SIM_PASSWORD unless `options` say. */
export function startTestNode(
  coin: Coin,
  blocks: string[],
  options: TestNodeOptions = {}
): Promise<SimNode> {
  return startSimNode({ coin, blocks, user: SIM_USER, password: SIM_PASSWORD, ...options });
}

/** The settings that point an indexer at `node` for `coin` and keep its index in `dir`. */
export function indexerEnv(node: SimNode, coin: Coin, dir: string): Record<string, string> {
  return { DAEMON_URL: node.url, COIN: coin.name, NET: coin.net, DB_DIRECTORY: dir };
}

type LogEvent = Record<string, unknown>;

/** A running indexer child process and what it has logged so far. */
export interface IndexerRun {
  readonly events: LogEvent[];
  readonly output: string[];
  /** Resolves with the first event (past or future) matching; rejects on exit or timeout. */
  waitFor(match: (event: LogEvent) => boolean, timeoutMs?: number): Promise<LogEvent>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts `npm run indexer` (tsx indexer/main.ts, or another `entry` script) with only the given
 * settings (plus PATH), its index server on a free port.
 */
export function startIndexer(env: Record<string, string>, entry = 'indexer/main.ts'): IndexerRun {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_DIR, entry)], {
    cwd: PROJECT_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      INDEX_SERVER_PORT: '0',
      INDEX_SERVER_TOKEN: TEST_TOKEN,
      POLL_INTERVAL_MS: '100',
      // The indexer refuses weak admin credentials and, unless told, running as root.
      RPC_PORT: '0',
      RPC_USER: 'ops-test-runner',
      RPC_PASSWORD: 'admin-pass-0a1b2c3d4e5f',
      ...(process.getuid?.() === 0 ? { ALLOW_ROOT: '1' } : {}),
      ...env,
    },
  });
  const events: LogEvent[] = [];
  const output: string[] = [];
  const waiters = new Set<() => void>();
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
      for (const wake of waiters) wake();
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      output.push(line);
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed === 'object' && parsed !== null) events.push(parsed as LogEvent);
      } catch {
        // not a log line (e.g. a Node warning on stderr): kept in output only
      }
      for (const wake of waiters) wake();
    });
  }
  const waitFor = (match: (event: LogEvent) => boolean, timeoutMs = 30_000): Promise<LogEvent> =>
    new Promise((resolve, reject) => {
      const recent = (): string => output.slice(-15).join('\n');
      const timer = setTimeout(() => {
        finish(new Error(`no matching log line in ${timeoutMs} ms; output:\n${recent()}`));
      }, timeoutMs);
      const check = (): void => {
        const found = events.find(match);
        if (found !== undefined) finish(found);
        else if (done) finish(new Error(`indexer exited first; output:\n${recent()}`));
      };
      function finish(result: LogEvent | Error): void {
        clearTimeout(timer);
        waiters.delete(check);
        if (result instanceof Error) reject(result);
        else resolve(result);
      }
      waiters.add(check);
      check();
    });
  return { events, output, waitFor, exited, kill: (signal) => child.kill(signal) };
}

/** Stops an indexer with SIGTERM and returns its exit code (SIGKILL after 15 s). */
export async function stopIndexer(run: IndexerRun): Promise<number | null> {
  run.kill('SIGTERM');
  const timer = setTimeout(() => run.kill('SIGKILL'), 15_000);
  const { code } = await run.exited;
  clearTimeout(timer);
  return code;
}

/** Matches the caught_up event at `height` (and `hash`, display hex, when given). */
export function caughtUpAt(height: number, hash?: string): (event: LogEvent) => boolean {
  return (event) =>
    event.event === 'caught_up' &&
    event.height === height &&
    (hash === undefined || event.hash === hash);
}

/** Nodes, indexer processes and temp directories of one test file, ended by `cleanup()`. */
export class TestProcesses {
  #cleanups: (() => Promise<void> | void)[] = [];

  /** A simulated node (startTestNode), closed at cleanup. */
  async node(coin: Coin, blocks: string[], options: TestNodeOptions = {}): Promise<SimNode> {
    const node = await startTestNode(coin, blocks, options);
    this.#cleanups.push(() => node.close());
    return node;
  }

  /** A temp directory, removed at cleanup. */
  tempDir(prefix?: string): string {
    const dir = tempDir(prefix);
    this.#cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** An indexer process on `node` (indexerEnv plus `extra`) in a fresh directory. */
  indexer(
    node: SimNode,
    coin: Coin,
    extra: Record<string, string> = {}
  ): { run: IndexerRun; dbPath: string } {
    const dir = this.tempDir();
    const run = startIndexer({ ...indexerEnv(node, coin, dir), ...extra });
    this.#cleanups.push(async () => {
      if ((await Promise.race([run.exited, Promise.resolve(null)])) === null) await stopIndexer(run);
    });
    return { run, dbPath: join(dir, 'index.db') };
  }

  /** Ends everything, the last started first. */
  async cleanup(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0).reverse()) await cleanup();
  }
}

/**
 * Extends a chain (legacy txs, sha256d headers) by `blockCount` blocks of `txsPerBlock` txs, each
 * spending two outputs that the reference reader lists as unspent (from index `spendFrom` on) and
 * paying two of 40 keys (so keys are reused across blocks). Returns the whole chain, base included.
 */
export function growChain(
  coin: Coin,
  base: string[],
  blockCount: number,
  txsPerBlock: number,
  tag = 'grow',
  spendFrom = 0
): string[] {
  const chain = [...base];
  const unspent = [...readReferenceChain(base, 'sha256d').unspent.values()]
    .flat()
    .map((out) => ({ txid: out.txid, vout: out.vout }));
  const keys = Array.from({ length: 40 }, (_, i) =>
    p2pkh(createHash('sha256').update(`key${i}`).digest('hex').slice(0, 40))
  );
  const keyAt = (i: number): Uint8Array => keys[i % keys.length] ?? p2pkh('00'.repeat(20));
  // The tag picks the keys (and spendFrom the outputs spent), so two branches grown from one
  // base with different tags hold different txs.
  let counter = createHash('sha256').update(tag).digest()[0] ?? 0;
  for (let n = 0; n < blockCount; n++) {
    const height = chain.length;
    const txs: Uint8Array[] = [];
    const created: { txid: string; vout: number }[] = [];
    for (let i = 0; i < txsPerBlock && unspent.length >= 2; i++) {
      const from = Math.min(spendFrom, unspent.length - 2);
      const inputs = unspent.splice(from, 2).map((out) => spend(out.txid, out.vout));
      counter += 1;
      const outputs = [0, 1].map((k) => ({
        value: 1_000n + BigInt(k),
        script: keyAt(counter * 7 + k),
      }));
      const raw = serializeTx({ version: 1, inputs, outputs, locktime: 0 });
      txs.push(raw);
      const txid = txidOf(raw);
      created.push({ txid, vout: 0 }, { txid, vout: 1 });
    }
    const prev = headerInfo(chain[height - 1] ?? '', 'sha256d');
    const coinbase = buildCoinbase(height, keyAt(height), 50_0000_0000n, Buffer.from(tag));
    const time = prev.time + 600;
    chain.push(buildBlock({ coin, prevHash: prev.hash, txs: [coinbase, ...txs], time }));
    unspent.push({ txid: txidOf(coinbase), vout: 0 }, ...created);
  }
  return chain;
}

/**
 * Checks that the index ends on a block boundary: headers 0..height, tx_nums 0..tx_count-1 as
 * the headers count them, and each status row's count equal to its history rows.
 */
export function expectWholeBlocks(dbPath: string): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const state = db.prepare('SELECT height, tip_hash, tx_count FROM chain_state').get() as {
      height: number;
      tip_hash: Buffer | null;
      tx_count: number;
    };
    const headers = db
      .prepare(
        'SELECT COUNT(*) AS n, MAX(height) AS top, COALESCE(SUM(tx_count), 0) AS txs FROM headers'
      )
      .get() as { n: number; top: number | null; txs: number };
    const top = state.height < 0 ? null : state.height;
    expect(headers).toEqual({ n: state.height + 1, top, txs: state.tx_count });
    const txs = db.prepare('SELECT COUNT(*) AS n, MAX(tx_num) AS top FROM txs').get() as {
      n: number;
      top: number | null;
    };
    const lastTxNum = state.tx_count === 0 ? null : state.tx_count - 1;
    expect(txs).toEqual({ n: state.tx_count, top: lastTxNum });
    if (state.height >= 0) {
      const tip = db
        .prepare('SELECT hash FROM headers WHERE height = ?')
        .get(state.height) as { hash: Buffer };
      expect(tip.hash.equals(state.tip_hash ?? Buffer.alloc(0))).toBe(true);
    }
    const mismatched = db
      .prepare(
        `SELECT COUNT(*) AS n FROM status s
         WHERE s.confirmed_count != (SELECT COUNT(*) FROM history h WHERE h.hashx = s.hashx)`
      )
      .get() as { n: number };
    expect(mismatched.n).toBe(0);
    return state.height;
  } finally {
    db.close();
  }
}
