// The stack the limits tests and `npm run bench:abuse` run against: a synthetic index (one script
// hash with a long history, one with a short one) served by the real Hrana index server, and the
// Worker under `wrangler dev` with the limit vars each test chooses. Clients set CF-Connecting-IP
// themselves: wrangler dev passes a client-sent value through (it only fills it in when absent).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import WebSocket from 'ws';
import { startIndexServer, type IndexServer } from '../indexer/index-server/server.ts';
import { writeWalletAssets } from '../tools/build-page.ts';

const PROJECT_DIR = resolve(import.meta.dirname, '..');
const WRANGLER_CLI = join(PROJECT_DIR, 'node_modules/wrangler/wrangler-dist/cli.js');
const START_TIMEOUT_MS = 90_000;
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

function migrate(db: Database.Database): void {
  const dir = join(PROJECT_DIR, 'migrations');
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.sql')).sort()) {
    const statements = readFileSync(join(dir, file), 'utf8').split('--> statement-breakpoint');
    for (const statement of statements) if (statement.trim() !== '') db.exec(statement);
  }
}

/**
 * Writes an index of synthetic rows: the Worker's history and status reads only need headers,
 * txs, history and status rows, not parseable transactions.
 */
export function buildSyntheticIndex(dbPath: string, bigHistory: number): SyntheticIndex {
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    migrate(db);
    const big = sha256(Buffer.from('electrum-edge limits test: big history'));
    const small = sha256(Buffer.from('electrum-edge limits test: small history'));
    const txCount = bigHistory + 3;
    const tipHeight = Math.ceil(txCount / TXS_PER_BLOCK);
    db.transaction(() => {
      const insertHeader = db.prepare('INSERT INTO headers VALUES (?, ?, ?, ?, ?)');
      for (let height = 0; height <= tipHeight; height++) {
        const first = height === 0 ? 0 : (height - 1) * TXS_PER_BLOCK;
        const count = height === 0 ? 0 : Math.min(TXS_PER_BLOCK, txCount - first);
        const raw = sha256(Buffer.from(`header ${height}`));
        const header = Buffer.concat([raw, raw, raw.subarray(0, 16)]);
        insertHeader.run(height, sha256(raw), header, first, count);
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
      db.prepare('INSERT INTO chain_state VALUES (0, ?, ?, ?, ?, ?, 0, ?)').run(
        'BitcoinCash',
        'regtest',
        tipHeight,
        sha256(Buffer.from(`header ${tipHeight}`)),
        txCount,
        0.00001
      );
    })();
    const display = (hash: Buffer) => Buffer.from(hash).reverse().toString('hex');
    return {
      bigScriptHash: display(big),
      bigHistory,
      smallScriptHash: display(small),
      tipHeight,
    };
  } finally {
    db.close();
  }
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

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => done(port));
    });
  });
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

function wranglerEnv(stateDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_LOG_PATH: join(stateDir, 'logs'),
    NO_COLOR: '1',
  };
}

async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function waitForHealth(port: number, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (child.exitCode !== null) throw new Error(`wrangler exited:\n${output.join('')}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, Math.min(250 * (attempt + 1), 1_000)));
  }
  throw new Error(`the Worker did not become healthy:\n${output.join('').slice(-4000)}`);
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
  const token = randomBytes(24).toString('hex');
  const adminToken = randomBytes(24).toString('hex');
  let indexServer: IndexServer | undefined;
  let wrangler: ChildProcess | undefined;
  const output: string[] = [];
  const stop = async (): Promise<void> => {
    try {
      if (wrangler !== undefined) await stopProcessGroup(wrangler);
    } finally {
      await indexServer?.close();
      rmSync(workDir, { recursive: true, force: true });
    }
  };
  try {
    const serverOptions = { dbPath, host: '127.0.0.1', port: 0, authToken: token, log: () => {} };
    indexServer = await startIndexServer(serverOptions);
    const port = await freePort();
    const allVars = {
      LIBSQL_URL: indexServer.url,
      LIBSQL_AUTH_TOKEN: token,
      COIN: 'BitcoinCash',
      NET: 'regtest',
      ADMIN_TOKEN: adminToken,
      ...vars,
    };
    const stateDir = join(workDir, 'wrangler');
    const configPath = await snapshotWorker(workDir);
    const varArgs = Object.entries(allVars).flatMap(([name, value]) => {
      return ['--var', `${name}:${value}`];
    });
    wrangler = spawn(
      process.execPath,
      [
        WRANGLER_CLI,
        'dev',
        '--config',
        configPath,
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--inspector-port',
        String(await freePort()),
        '--persist-to',
        stateDir,
        ...varArgs,
      ],
      {
        cwd: PROJECT_DIR,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: wranglerEnv(stateDir),
      }
    );
    wrangler.stdout?.on('data', (data: Buffer) => output.push(String(data)));
    wrangler.stderr?.on('data', (data: Buffer) => output.push(String(data)));
    await waitForHealth(port, wrangler, output);
    const child = wrangler;
    return {
      port,
      wsUrl: `ws://127.0.0.1:${port}/`,
      httpUrl: `http://127.0.0.1:${port}`,
      adminToken,
      index,
      wrangler: child,
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

/** A JSON-RPC error as received. */
export interface ErrorJson {
  code: number;
  message: string;
}

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
  #frames: string[] = [];
  #waiters: ((frame: string | null) => void)[] = [];
  #isClosed = false;
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      const frame = String(data);
      const waiter = this.#waiters.shift();
      if (waiter === undefined) this.#frames.push(frame);
      else waiter(frame);
    });
    this.closed = new Promise((done) => {
      socket.once('close', (code, reason) => {
        this.#isClosed = true;
        for (const waiter of this.#waiters.splice(0)) waiter(null);
        done({ code, reason: String(reason) });
      });
    });
  }

  /** Opens a session from `ip`; rejects with the HTTP status when the upgrade is refused. */
  static async open(wsUrl: string, ip: string): Promise<LimitsClient> {
    const socket = new WebSocket(wsUrl, { headers: { 'CF-Connecting-IP': ip } });
    const client = new LimitsClient(socket);
    await new Promise<void>((done, fail) => {
      socket.once('open', () => done());
      socket.once('unexpected-response', (_request, response) => {
        const retryAfter = String(response.headers['retry-after'] ?? '');
        fail(new UpgradeRefused(response.statusCode ?? 0, retryAfter));
        socket.terminate();
      });
      socket.once('error', fail);
    });
    return client;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** The next frame, or null when the socket closed first. @throws after `timeoutMs`. */
  next(timeoutMs = 15_000): Promise<string | null> {
    const frame = this.#frames.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.#isClosed) return Promise.resolve(null);
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        fail(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (received: string | null): void => {
        clearTimeout(timer);
        done(received);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends a text frame and waits for the next frame. */
  async exchange(text: string, timeoutMs?: number): Promise<Exchange | null> {
    const started = performance.now();
    this.socket.send(text);
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
    this.socket.close();
  }

  terminate(): void {
    this.socket.terminate();
  }
}

/** An upgrade answered with an HTTP status instead of 101. */
export class UpgradeRefused extends Error {
  readonly status: number;
  readonly retryAfter: string;

  constructor(status: number, retryAfter: string) {
    super(`upgrade refused with HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
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
