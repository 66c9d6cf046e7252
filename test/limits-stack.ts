// The stack the limits tests and `npm run bench:abuse` run against: a synthetic index (one script
// hash with a long history, one with a short one) served by the real Hrana index server, and the
// Worker under `wrangler dev` with the limit vars each test chooses. Clients set CF-Connecting-IP
// themselves: wrangler dev passes a client-sent value through (it only fills it in when absent).
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import type WebSocket from 'ws';
import type { IndexServer } from '../indexer/index-server/server.ts';
import { writeWalletAssets } from '../tools/build-page.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import {
  freePort,
  startWrangler,
  waitForWorkerHealth,
  type WranglerProcess,
} from '../tools/stack.ts';
import { FrameSocket, type ErrorJson } from './support/frame-socket.ts';
import { startLoopbackIndexServer, writeMigratedIndex } from './support/local-index.ts';

export { freePort } from '../tools/stack.ts';
export { UpgradeRefused, type ErrorJson } from './support/frame-socket.ts';

const PROJECT_DIR = resolve(import.meta.dirname, '..');
const TXS_PER_BLOCK = 100;

/** What the synthetic index holds. */
export interface SyntheticIndex {
  /** Script hash (display hex) with `bigHistory` confirmed txs. */
  bigScriptHash: string;
  bigHistory: number;
  /** Script hash (display hex) with three confirmed txs. */
  smallScriptHash: string;
  tipHeight: number;
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Block 0 of the bundled Bitcoin Cash regtest chain (data/SOURCES.md): the real genesis header. */
function regtestGenesisHeader(): Buffer {
  const [genesis] = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
  return Buffer.from((genesis ?? '').slice(0, 160), 'hex');
}

/**
 * Writes an index of synthetic rows: the Worker's history and status reads only need headers,
 * txs, history and status rows, not parseable transactions. Height 0 holds the real regtest
 * genesis header, so the Worker's chain check sees a Bitcoin Cash regtest index.
 */
export function buildSyntheticIndex(dbPath: string, bigHistory: number): SyntheticIndex {
  const big = sha256(Buffer.from('electrum-edge limits test: big history'));
  const small = sha256(Buffer.from('electrum-edge limits test: small history'));
  const txCount = bigHistory + 3;
  const tipHeight = Math.ceil(txCount / TXS_PER_BLOCK);
  writeMigratedIndex(dbPath, (db) => {
    const insertHeader = db.prepare('INSERT INTO headers VALUES (?, ?, ?, ?, ?)');
    for (let height = 0; height <= tipHeight; height++) {
      const first = height === 0 ? 0 : (height - 1) * TXS_PER_BLOCK;
      const count = height === 0 ? 0 : Math.min(TXS_PER_BLOCK, txCount - first);
      const raw = sha256(Buffer.from(`header ${height}`));
      const synthetic = Buffer.concat([raw, raw, raw.subarray(0, 16)]);
      const header = height === 0 ? regtestGenesisHeader() : synthetic;
      // Block hashes are SHA-256d of the header (Bitcoin Cash), stored in internal order.
      const hash = height === 0 ? sha256(sha256(header)) : sha256(raw);
      insertHeader.run(height, hash, header, first, count);
    }
    const insertTx = db.prepare('INSERT INTO txs VALUES (?, ?, ?, ?, ?)');
    const insertHistory = db.prepare('INSERT INTO history VALUES (?, ?)');
    for (let txNum = 0; txNum < txCount; txNum++) {
      const height = Math.floor(txNum / TXS_PER_BLOCK) + 1;
      const txid = sha256(Buffer.from(`tx ${txNum}`));
      insertTx.run(txNum, txid, height, txNum % TXS_PER_BLOCK, Buffer.from('01000000', 'hex'));
      insertHistory.run(txNum < bigHistory ? big : small, txNum);
    }
    const insertStatus = db.prepare('INSERT INTO status VALUES (?, ?, NULL, ?)');
    insertStatus.run(big, sha256(Buffer.from('big status')), bigHistory);
    insertStatus.run(small, sha256(Buffer.from('small status')), 3);
    const chainState =
      'INSERT INTO chain_state (id, coin, net, height, tip_hash, tx_count, ' +
      'last_change_seq, relay_fee) VALUES (0, ?, ?, ?, ?, ?, 0, ?)';
    db.prepare(chainState).run(
      'BitcoinCash',
      'regtest',
      tipHeight,
      sha256(Buffer.from(`header ${tipHeight}`)),
      txCount,
      0.00001
    );
  });
  const display = (hash: Buffer) => Buffer.from(hash).reverse().toString('hex');
  return { bigScriptHash: display(big), bigHistory, smallScriptHash: display(small), tipHeight };
}

/**
 * Bundles the Worker as it is now into `dir`, with a copy of wrangler.toml pointing at the
 * bundle. wrangler dev reloads the Worker (dropping every WebSocket) whenever a watched source
 * changes, and other engineers edit worker/ while tests run: a snapshot keeps the run stable.
 */
export async function snapshotWorker(dir: string): Promise<string> {
  // The wallet page module is generated (wrangler's [build] makes it; this bundle bypasses that).
  await writeWalletAssets();
  await build({
    entryPoints: [join(PROJECT_DIR, 'worker/index.ts')],
    outfile: join(dir, 'worker.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['cloudflare:*'],
    logLevel: 'warning',
  });
  const toml = readFileSync(join(PROJECT_DIR, 'wrangler.toml'), 'utf8');
  const configPath = join(dir, 'wrangler.toml');
  writeFileSync(configPath, toml.replace(/^main = .*$/m, 'main = "worker.js"'));
  return configPath;
}

/** A running stack. */
export interface LimitsStack {
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly adminToken: string;
  readonly index: SyntheticIndex;
  readonly wrangler: ChildProcess;
  /** Everything wrangler printed so far (the Worker's JSON log lines among it). */
  readonly output: string[];
  /** The Worker's JSON log events with this `event` name, parsed from `output`. */
  events(event: string): Record<string, unknown>[];
  stop(): Promise<void>;
}

function parseEvents(output: readonly string[], event: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  for (const line of output.join('').split('\n')) {
    const start = line.indexOf('{"level"');
    if (start < 0) continue;
    try {
      const parsed = JSON.parse(line.slice(start)) as Record<string, unknown>;
      if (parsed.event === event) found.push(parsed);
    } catch {
      // A partial or non-JSON line.
    }
  }
  return found;
}

/**
 * Starts index server and Worker. `vars` are wrangler vars on top of the index settings (e.g.
 * EXEMPT_PRIVATE=false and small limits); the admin token is generated here.
 */
export async function startLimitsStack(
  vars: Record<string, string>,
  bigHistory = 2000
): Promise<LimitsStack> {
  const workDir = mkdtempSync(join(tmpdir(), 'limits-stack-'));
  const dbPath = join(workDir, 'index.db');
  const index = buildSyntheticIndex(dbPath, bigHistory);
  const adminToken = randomBytes(24).toString('hex');
  let indexServer: IndexServer | undefined;
  let wrangler: WranglerProcess | undefined;
  const stop = async (): Promise<void> => {
    try {
      await wrangler?.stop();
    } finally {
      await indexServer?.close();
      rmSync(workDir, { recursive: true, force: true });
    }
  };
  try {
    const served = await startLoopbackIndexServer(dbPath);
    indexServer = served.server;
    const port = await freePort();
    const stateDir = join(workDir, 'wrangler');
    wrangler = await startWrangler({
      port,
      stateDir,
      logDir: join(stateDir, 'logs'),
      configPath: await snapshotWorker(workDir),
      vars: {
        LIBSQL_URL: indexServer.url,
        LIBSQL_AUTH_TOKEN: served.token,
        COIN: 'BitcoinCash',
        NET: 'regtest',
        ADMIN_TOKEN: adminToken,
        ...vars,
      },
    });
    await waitForWorkerHealth(wrangler);
    const { output } = wrangler;
    return {
      port,
      wsUrl: `ws://127.0.0.1:${port}/`,
      httpUrl: `http://127.0.0.1:${port}`,
      adminToken,
      index,
      wrangler: wrangler.child,
      output,
      events: (event) => parseEvents(output, event),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Clients.

/** One reply frame, parsed, with what the exchange cost in bytes and time. */
export interface Exchange {
  reply: { id?: unknown; result?: unknown; error?: ErrorJson } | unknown[];
  frame: string;
  bytesIn: number;
  bytesOut: number;
  ms: number;
}

/** A WebSocket client that claims a client address through CF-Connecting-IP. */
export class LimitsClient {
  readonly socket: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  #frames: FrameSocket;
  #nextId = 1;

  private constructor(frames: FrameSocket) {
    this.#frames = frames;
    this.socket = frames.socket;
    this.closed = frames.closed;
  }

  /** Opens a session from `ip`; rejects with the HTTP status when the upgrade is refused. */
  static async open(wsUrl: string, ip: string): Promise<LimitsClient> {
    const frames = await FrameSocket.open(wsUrl, { headers: { 'CF-Connecting-IP': ip } });
    return new LimitsClient(frames);
  }

  get isClosed(): boolean {
    return this.#frames.isClosed;
  }

  /** The next frame, or null when the socket closed first. @throws after `timeoutMs`. */
  next(timeoutMs = 15_000): Promise<string | null> {
    return this.#frames.next(timeoutMs);
  }

  /** Sends a text frame and waits for the next frame. */
  async exchange(text: string, timeoutMs?: number): Promise<Exchange | null> {
    const started = performance.now();
    this.#frames.send(text);
    const frame = await this.next(timeoutMs);
    if (frame === null) return null;
    const ms = performance.now() - started;
    const reply = JSON.parse(frame) as Exchange['reply'];
    const [bytesIn, bytesOut] = [Buffer.byteLength(text), Buffer.byteLength(frame)];
    return { reply, frame, bytesIn, bytesOut, ms };
  }

  /** Sends one request and waits for its reply (null when the socket closed instead). */
  call(method: string, params: unknown[] = [], timeoutMs?: number): Promise<Exchange | null> {
    const request = JSON.stringify({ jsonrpc: '2.0', id: this.#nextId++, method, params });
    return this.exchange(request, timeoutMs);
  }

  close(): void {
    this.#frames.close();
  }

  terminate(): void {
    this.#frames.terminate();
  }
}

/** The error of a single reply, if any. */
export function errorOf(exchange: Exchange | null): ErrorJson | undefined {
  if (exchange === null || Array.isArray(exchange.reply)) return undefined;
  return exchange.reply.error;
}

/** Calls the admin API with the stack's token. */
export async function adminFetch(
  stack: LimitsStack,
  method: string,
  path: string,
  body?: unknown,
  token = stack.adminToken
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${stack.httpUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  return { status: response.status, json };
}

/** Resident memory of a process and all its descendants, from /proc (Linux). */
export function treeRssBytes(rootPid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  let total = 0;
  const pending = [rootPid];
  for (let guard = 0; pending.length > 0 && guard < 10_000; guard++) {
    const pid = pending.pop() as number;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const match = /VmRSS:\s+(\d+) kB/.exec(status);
      total += match === null ? 0 : Number(match[1]) * 1024;
    } catch {
      // Gone.
    }
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}
