// Starts the whole local stack (simulated node, indexer with its index server, Worker under
// wrangler dev) and stops it again; used by `npm run demo` and by the end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { getCoin } from '../core/coins.ts';
import {
  startNotifier,
  type Notifier,
  type NotifierOptions,
  type SentNotice,
} from '../indexer/notifier.ts';
import { loadChainFile } from './chain-file.ts';
import { startSimNode, type SimNode } from './sim-node.ts';

const PROJECT_DIR = resolve(import.meta.dirname, '..');
const WRANGLER_CLI = join(PROJECT_DIR, 'node_modules/wrangler/wrangler-dist/cli.js');
const READY_TIMEOUT_MS = 120_000;
const HEALTH_TIMEOUT_MS = 90_000;

export interface StackOptions {
  chainFile: string;
  coin: string;
  net: string;
  /** Port of the Worker (wrangler dev); 0 picks a free one. */
  workerPort?: number;
  /** Where the index lives; a fresh temp directory when omitted (removed on stop). */
  dbDirectory?: string;
  /** Receives every log line of the child processes, prefixed with their name. */
  onLog?: (line: string) => void;
  /** Extra environment for the indexer. */
  indexerEnv?: Record<string, string>;
  /** Extra Worker vars (`wrangler dev --var NAME:value`), e.g. LOG_LEVEL. */
  workerVars?: Record<string, string>;
  /**
   * Push change notices to the Worker (NOTIFY_SECRET set on both sides): 'stack' runs the
   * notifier in this process on the index file; 'indexer' hands NOTIFY_URL and NOTIFY_SECRET
   * to the indexer, for an indexer that starts its own notifier. Off when omitted.
   */
  notify?: 'stack' | 'indexer';
  /** Each acknowledged notice batch of the in-process notifier (notify: 'stack'). */
  onNotifySent?: (sent: SentNotice[]) => void;
  /**
   * Serve the Worker over TLS (`wrangler dev --local-protocol https`, with miniflare's built-in
   * self-signed certificate): httpUrl and wsUrl become https:// and wss://.
   */
  https?: boolean;
}

export interface Stack {
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly workerPort: number;
  readonly simNode: SimNode;
  readonly indexServerUrl: string;
  readonly indexServerToken: string;
  /** The indexer's admin RPC (`electrum-edge rpc` with these as RPC_HOST/PORT/USER/PASSWORD). */
  readonly adminRpc: { host: string; port: number; user: string; password: string };
  readonly dbDirectory: string;
  readonly indexer: ChildProcess;
  readonly wrangler: ChildProcess;
  /** The Worker's NOTIFY_SECRET when notify is on, else null. */
  readonly notifySecret: string | null;
  /** The in-process notifier (notify: 'stack'), else null. */
  readonly notifier: Notifier | null;
  /** The indexer's broadcast relay (RELAY_URL of the Worker); its secret is RELAY_SECRET. */
  readonly relay: { url: string; secret: string };
  /** Resolves once the indexer logs `caught_up` at `height` or above. */
  waitForIndexHeight(height: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
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

function secret(): string {
  return randomBytes(24).toString('hex');
}

/** Follows a child's output line by line, reporting parsed JSON log events to `onEvent`. */
function followLines(
  child: ChildProcess,
  name: string,
  onLog: (line: string) => void,
  onEvent: (event: Record<string, unknown>) => void
): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => {
      onLog(`[${name}] ${line}`);
      if (!line.startsWith('{')) return;
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed === 'object' && parsed !== null) onEvent(parsed as Record<string, unknown>);
      } catch {
        // Not a JSON log line: shown above, nothing to track.
      }
    });
  }
}

/** Ends a child and everything it started (it leads its own process group): TERM, then KILL. */
export async function stopProcessGroup(child: ChildProcess, graceMs = 5_000): Promise<void> {
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
  const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** How to run `wrangler dev` for one Worker. */
export interface WranglerOptions {
  /** Loopback port the Worker serves on. */
  port: number;
  /** `--persist-to`: Durable Object and cache state, private to this run. */
  stateDir: string;
  /** WRANGLER_LOG_PATH. */
  logDir: string;
  /** Worker vars, each passed as `--var NAME:value`. */
  vars: Record<string, string>;
  /** A wrangler.toml other than the project's (e.g. one pointing at a bundled snapshot). */
  configPath?: string;
  /** Serve over TLS with miniflare's built-in self-signed certificate. */
  https?: boolean;
  /** Flags for the node process that runs wrangler's CLI. */
  nodeFlags?: string[];
  /** Keep every chunk wrangler prints in `output` (default true); off for long runs. */
  keepOutput?: boolean;
}

/** A `wrangler dev` child: wrangler's own node process, leading its own process group. */
export interface WranglerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** What wrangler printed so far, chunk by chunk (empty with keepOutput: false). */
  readonly output: string[];
  /** Ends wrangler and workerd (DESIGN §9). */
  stop(): Promise<void>;
}

/**
 * Starts `wrangler dev` on loopback with metrics, banner and Cloudflare fetches off (DESIGN §9)
 * and a free inspector port, so several runs can share the machine. Does not wait for it.
 */
export async function startWrangler(options: WranglerOptions): Promise<WranglerProcess> {
  const args = [
    ...(options.nodeFlags ?? []),
    WRANGLER_CLI,
    'dev',
    ...(options.configPath === undefined ? [] : ['--config', options.configPath]),
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--inspector-port',
    String(await freePort()),
    ...(options.https === true ? ['--local-protocol', 'https'] : []),
    '--persist-to',
    options.stateDir,
    ...workerVarArgs(options.vars, options.stateDir),
  ];
  // wrangler's own node process (no npx wrapper), so its PID is the one to signal (DESIGN §9).
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_DIR,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_LOG_PATH: options.logDir,
      NO_COLOR: '1',
    },
  });
  const output: string[] = [];
  if (options.keepOutput !== false) {
    child.stdout?.on('data', (data: Buffer) => output.push(String(data)));
    child.stderr?.on('data', (data: Buffer) => output.push(String(data)));
  }
  return { child, port: options.port, output, stop: () => stopProcessGroup(child) };
}

/** Resolves once the Worker answers GET /health with 200; throws if wrangler exits first. */
export async function waitForWorkerHealth(
  worker: WranglerProcess,
  timeoutMs = HEALTH_TIMEOUT_MS
): Promise<void> {
  const tail = (): string => worker.output.join('').slice(-4_000);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const { exitCode } = worker.child;
    if (exitCode !== null) throw new Error(`wrangler exited (${exitCode}):\n${tail()}`);
    const health = await fetch(`http://127.0.0.1:${worker.port}/health`).catch(() => null);
    if (health?.status === 200) return;
    await new Promise((done) => setTimeout(done, Math.min(250 * (attempt + 1), 1_000)));
  }
  throw new Error(`the Worker did not become healthy in ${timeoutMs} ms:\n${tail()}`);
}

/** Sends one Electrum request over a fresh WebSocket and returns its result. */
export async function electrumCall(
  wsUrl: string,
  method: string,
  params: unknown[],
  timeoutMs = 5_000
): Promise<unknown> {
  const socket = new WebSocket(wsUrl, loopbackTlsOptions(wsUrl));
  try {
    return await new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`${method}: no reply in ${timeoutMs} ms`)), timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        fail(error);
      });
      socket.once('open', () => socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })));
      socket.once('message', (data) => {
        clearTimeout(timer);
        const reply = JSON.parse(String(data)) as { result?: unknown; error?: unknown };
        if (reply.error !== undefined) fail(new Error(`${method}: ${JSON.stringify(reply.error)}`));
        else done(reply.result);
      });
    });
  } finally {
    socket.terminate();
  }
}

/** Retries `check` until it returns true; `fatal` names a failure that makes waiting pointless. */
async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  fatal: () => string | null
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    const failure = fatal();
    if (failure !== null) throw new Error(`${failure} while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

/** Starts node, indexer and Worker; resolves when the Worker answers with the node's tip. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const coin = getCoin(options.coin, options.net);
  const onLog = options.onLog ?? (() => {});
  const blocks = loadChainFile(options.chainFile);
  const ownsDb = options.dbDirectory === undefined;
  const dbDirectory = options.dbDirectory ?? mkdtempSync(join(tmpdir(), 'electrum-edge-'));
  const nodeUser = `sim${secret().slice(0, 8)}`;
  const simNode = await startSimNode({ coin, blocks, user: nodeUser, password: secret() });
  const indexServerPort = await freePort();
  const indexServerToken = secret();
  // The indexer refuses weak or missing admin credentials, and root without ALLOW_ROOT=1
  // (indexer/unsafe-start.ts); the node's password above is random for the same reason.
  const adminRpc = {
    host: '127.0.0.1',
    port: await freePort(),
    user: `ops${secret().slice(0, 8)}`,
    password: secret(),
  };
  const rootEnv: Record<string, string> = process.getuid?.() === 0 ? { ALLOW_ROOT: '1' } : {};
  const workerPort = options.workerPort || (await freePort());
  const tls = options.https === true;
  const httpUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${workerPort}`;
  const notifySecret = options.notify === undefined ? null : secret();
  // Notices cannot check wrangler's self-signed certificate; over TLS they go through a relay.
  const relay = tls && notifySecret !== null ? await startNoticeRelay(workerPort) : null;
  const notifyUrl = relay?.url ?? httpUrl;
  // Broadcasts go Worker -> the indexer's relay -> the simulated node (DESIGN §2).
  const relayPort = await freePort();
  const txRelay = { url: `http://127.0.0.1:${relayPort}/broadcast`, secret: secret() };
  const relayEnv = {
    RELAY_HOST: '127.0.0.1',
    RELAY_PORT: String(relayPort),
    RELAY_SECRET: txRelay.secret,
  };
  const notifyEnv: Record<string, string> =
    options.notify === 'indexer' && notifySecret !== null
      ? { NOTIFY_URL: notifyUrl, NOTIFY_SECRET: notifySecret }
      : {};

  let indexHeight = -1;
  let indexServerUrl = '';
  let indexerFailure: Error | null = null;
  const heightWaiters = new Set<() => void>();
  const indexer = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_DIR, 'indexer/main.ts')], {
    cwd: PROJECT_DIR,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DAEMON_URL: simNode.url,
      COIN: coin.name,
      NET: coin.net,
      DB_DIRECTORY: dbDirectory,
      INDEX_SERVER_HOST: '127.0.0.1',
      INDEX_SERVER_PORT: String(indexServerPort),
      INDEX_SERVER_TOKEN: indexServerToken,
      RPC_HOST: adminRpc.host,
      RPC_PORT: String(adminRpc.port),
      RPC_USER: adminRpc.user,
      RPC_PASSWORD: adminRpc.password,
      ...rootEnv,
      ...relayEnv,
      ...notifyEnv,
      ...options.indexerEnv,
    },
  });
  indexer.once('exit', (code, signal) => {
    indexerFailure = new Error(`indexer exited (code ${code}, signal ${signal})`);
    for (const wake of heightWaiters) wake();
  });
  followLines(indexer, 'indexer', onLog, (event) => {
    if (event.event === 'index_server_listening' && typeof event.url === 'string') {
      indexServerUrl = event.url;
    }
    if (event.event === 'caught_up' && typeof event.height === 'number') {
      indexHeight = Math.max(indexHeight, event.height);
      for (const wake of heightWaiters) wake();
    }
  });

  const waitForIndexHeight = async (height: number, timeoutMs = READY_TIMEOUT_MS): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (indexHeight < height) {
      if (indexerFailure !== null) throw indexerFailure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`index did not reach height ${height} in ${timeoutMs} ms`);
      await new Promise<void>((done) => {
        const wake = (): void => {
          clearTimeout(timer);
          heightWaiters.delete(wake);
          done();
        };
        const timer = setTimeout(wake, Math.min(left, 1_000));
        heightWaiters.add(wake);
      });
    }
  };

  const wrangler = await startWrangler({
    port: workerPort,
    stateDir: join(dbDirectory, 'wrangler-state'),
    logDir: join(dbDirectory, 'wrangler-logs'),
    vars: {
      LIBSQL_URL: `http://127.0.0.1:${indexServerPort}`,
      LIBSQL_AUTH_TOKEN: indexServerToken,
      COIN: coin.name,
      NET: coin.net,
      RELAY_URL: txRelay.url,
      RELAY_SECRET: txRelay.secret,
      ...(notifySecret === null ? {} : { NOTIFY_SECRET: notifySecret }),
      ...options.workerVars,
    },
    https: tls,
    nodeFlags: ['--no-warnings', '--experimental-vm-modules'],
    keepOutput: false,
  });
  followLines(wrangler.child, 'worker', onLog, () => {});

  const wsUrl = `${tls ? 'wss' : 'ws'}://127.0.0.1:${workerPort}`;
  let notifier: Notifier | null = null;
  const stop = async (): Promise<void> => {
    await notifier?.close();
    await Promise.all([wrangler.stop(), stopProcessGroup(indexer)]);
    await relay?.close();
    await simNode.close();
    if (ownsDb) rmSync(dbDirectory, { recursive: true, force: true });
  };

  try {
    const tipHeight = simNode.tipHeight();
    await waitForIndexHeight(tipHeight);
    await waitUntil(
      'the Worker to answer at the chain tip',
      READY_TIMEOUT_MS,
      async () => {
        const tip = (await electrumCall(wsUrl, 'blockchain.headers.subscribe', [])) as {
          height?: number;
        };
        return tip.height === tipHeight;
      },
      () => {
        const { exitCode } = wrangler.child;
        return exitCode !== null ? `wrangler exited with code ${exitCode}` : null;
      }
    );
    if (options.notify === 'stack' && notifySecret !== null) {
      notifier = startNotifier({
        dbPath: join(dbDirectory, 'index.db'),
        url: notifyUrl,
        secret: notifySecret,
        retryMaxMs: 1_000,
        onSent: options.onNotifySent,
        log: notifierLog(onLog),
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    wsUrl,
    httpUrl,
    workerPort,
    simNode,
    indexServerUrl,
    indexServerToken,
    adminRpc,
    dbDirectory,
    indexer,
    wrangler: wrangler.child,
    notifySecret,
    notifier,
    relay: txRelay,
    waitForIndexHeight,
    stop,
  };
}

// Secrets and tokens would show on wrangler's command line to every local user (`ps`): they go
// in a file only this user can read, which `--env-file` loads ahead of a .dev.vars. Values that
// a .env file could not hold as they are (quotes, spaces, '#') stay flags.
const SECRET_NAME = /SECRET|TOKEN|PASSWORD/;
const PLAIN_VALUE = /^[A-Za-z0-9._~:/+=@,-]*$/;

function workerVarArgs(vars: Record<string, string>, stateDir: string): string[] {
  const entries = Object.entries(vars);
  const hidden = entries.filter(([name, value]) => {
    return SECRET_NAME.test(name) && PLAIN_VALUE.test(value);
  });
  const flags = entries
    .filter((entry) => !hidden.includes(entry))
    .flatMap(([name, value]) => ['--var', `${name}:${value}`]);
  if (hidden.length === 0) return flags;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const envFile = join(stateDir, 'worker-secrets.env');
  const text = hidden.map(([name, value]) => `${name}=${value}\n`).join('');
  writeFileSync(envFile, text, { mode: 0o600 });
  return [...flags, '--env-file', envFile];
}

// The in-process notifier's log lines go where the children's do, marked as its own.
function notifierLog(onLog: (line: string) => void): NonNullable<NotifierOptions['log']> {
  const at = (level: string) => (event: string, fields: Record<string, unknown> = {}) => {
    onLog(`[notifier] ${JSON.stringify({ level, event, ...fields })}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

// wrangler dev's certificate is self-signed: accepted for loopback addresses only, where the
// stack itself started the server.
function loopbackTlsOptions(url: string): WebSocket.ClientOptions {
  const { protocol, hostname } = new URL(url);
  const loopback = hostname === '127.0.0.1' || hostname === '[::1]' || hostname === 'localhost';
  return protocol === 'wss:' && loopback ? { rejectUnauthorized: false } : {};
}

/**
 * Plain HTTP on a free loopback port, forwarded over TLS to the Worker on `targetPort`. Node's
 * fetch (the notifier's) refuses wrangler's self-signed certificate and takes no TLS options.
 */
async function startNoticeRelay(
  targetPort: number
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHttpServer((incoming, outgoing) => {
    const { method, url: path, headers } = incoming;
    const target = { host: '127.0.0.1', port: targetPort, method, path, headers };
    const upstream = httpsRequest({ ...target, rejectUnauthorized: false }, (reply) => {
      outgoing.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(outgoing);
    });
    upstream.once('error', () => {
      if (outgoing.headersSent) outgoing.destroy();
      else outgoing.writeHead(502).end();
    });
    // An aborted notice (timeout, stop) must not leave the TLS request open.
    outgoing.once('close', () => upstream.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const close = (): Promise<void> =>
    new Promise((done) => {
      server.closeAllConnections();
      server.close(() => done());
    });
  return { url: `http://127.0.0.1:${port}`, close };
}
