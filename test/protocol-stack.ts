// Support for the protocol conformance suite: a Radiant chain mined by the simulated node, an
// index written in this process (with its header tree), the Hrana index server behind a counting
// proxy, the broadcast relay, the Worker under wrangler dev, and a raw WebSocket client.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { checkMerkleRoot, parseBlock } from '../core/block.ts';
import { hexToBytes } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { BlockWriter } from '../indexer/block-writer.ts';
import { Daemon } from '../indexer/daemon.ts';
import { openIndexDb, type IndexDb } from '../indexer/db.ts';
import { startIndexServer, type IndexServer } from '../indexer/index-server/server.ts';
import { startRelay, type Relay, type RelayDaemon } from '../indexer/relay.ts';
import type { SimNode } from '../tools/sim-node.ts';

const PROJECT_DIR = resolve(import.meta.dirname, '..');
const WRANGLER_CLI = join(PROJECT_DIR, 'node_modules/wrangler/wrangler-dist/cli.js');
const START_TIMEOUT_MS = 90_000;
const REPLY_TIMEOUT_MS = 10_000;

/** Writes every block of the node the index does not have yet (the writer adds header-tree nodes). */
export function indexBlocks(db: IndexDb, node: SimNode, coin: Coin, reorgLimit: number): void {
  const writer = new BlockWriter(db, coin, reorgLimit);
  const from = db.readChainState().height + 1;
  db.transaction(() => {
    writer.beginFlush();
    for (let height = from; height <= node.tipHeight(); height++) {
      const block = parseBlock(hexToBytes(node.blockHex(height)), coin);
      checkMerkleRoot(block);
      writer.applyBlock(block);
    }
    writer.endFlush();
  });
}

/** An HTTP proxy to the index server that counts the Hrana requests passing through. */
export interface CountingProxy {
  url: string;
  requests(): number;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  let count = 0;
  const server: Server = createServer((req, res) => {
    count += 1;
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      }
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** The Worker under wrangler dev, with its output kept for the log checks. */
export interface WorkerProcess {
  port: number;
  output: string[];
  stop(): Promise<void>;
}

export async function startWorker(
  vars: Record<string, string>,
  stateDir: string
): Promise<WorkerProcess> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const output: string[] = [];
  const varArgs = Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]);
  // wrangler's own node process (no npx wrapper), so its PID is the one to signal (DESIGN §9).
  const child: ChildProcess = spawn(
    process.execPath,
    [
      WRANGLER_CLI,
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspectorPort),
      '--persist-to',
      stateDir,
      ...varArgs,
    ],
    {
      cwd: PROJECT_DIR,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_HIDE_BANNER: 'true',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_LOG_PATH: join(stateDir, 'logs'),
        NO_COLOR: '1',
      },
    }
  );
  child.stdout?.on('data', (data: Buffer) => output.push(String(data)));
  child.stderr?.on('data', (data: Buffer) => output.push(String(data)));
  const stop = async (): Promise<void> => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      try {
        // Still up after the grace period: end the group this test started (wrangler, workerd).
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (child.exitCode !== null) throw new Error(`wrangler exited:\n${output.join('')}`);
    const health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
    if (health?.status === 200) return { port, output, stop };
    await new Promise((done) => setTimeout(done, Math.min(250 * (attempt + 1), 1_000)));
  }
  await stop();
  throw new Error(`the Worker did not become healthy:\n${output.join('')}`);
}

/** A JSON-RPC error as the wire carries it. */
export interface ErrorJson {
  code: number;
  message: string;
}

/** A raw WebSocket client that sees every frame as sent. */
export interface RawClient {
  /** Sends a request and returns the whole reply object. */
  call(method: string, params?: unknown): Promise<{ result?: unknown; error?: ErrorJson }>;
  result(method: string, params?: unknown): Promise<unknown>;
  failure(method: string, params?: unknown): Promise<ErrorJson | undefined>;
  /** Sends one frame and returns the next frame received, as text. */
  exchange(text: string): Promise<string>;
  closed: Promise<number>;
  close(): void;
}

export async function openClient(port: number): Promise<RawClient> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  const frames: string[] = [];
  const waiters: ((frame: string) => void)[] = [];
  socket.on('message', (data) => {
    const waiter = waiters.shift();
    if (waiter === undefined) frames.push(String(data));
    else waiter(String(data));
  });
  const closed = new Promise<number>((done) => socket.once('close', (code) => done(code)));
  await new Promise((done, fail) => {
    socket.once('open', done);
    socket.once('error', fail);
  });
  const next = (): Promise<string> => {
    const frame = frames.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    return new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error('no reply frame in time')), REPLY_TIMEOUT_MS);
      waiters.push((received) => {
        clearTimeout(timer);
        done(received);
      });
    });
  };
  let nextId = 1;
  const exchange = (text: string): Promise<string> => {
    socket.send(text);
    return next();
  };
  const call = async (method: string, params: unknown = []) => {
    const id = nextId++;
    const frame = await exchange(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    const reply = JSON.parse(frame) as { id?: unknown; result?: unknown; error?: ErrorJson };
    if (reply.id !== id) throw new Error(`reply id ${String(reply.id)} for request ${id}`);
    return reply;
  };
  return {
    call,
    result: async (method, params) => (await call(method, params)).result,
    failure: async (method, params) => (await call(method, params)).error,
    exchange,
    closed,
    close: () => socket.close(),
  };
}

/** Everything the suite runs against. */
export interface ProtocolStack {
  db: IndexDb;
  indexServer: IndexServer;
  proxy: CountingProxy;
  relay: Relay;
  /** Raw txs the relay handed to the node. */
  relayed: () => number;
  worker: WorkerProcess;
  workDir: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  node: SimNode;
  nodeUser: string;
  nodePassword: string;
  coin: Coin;
  reorgLimit: number;
}

/** Indexes the node's chain and starts index server, proxy, relay and Worker. */
export async function startProtocolStack(options: StackOptions): Promise<ProtocolStack> {
  const { node, coin, reorgLimit } = options;
  const workDir = mkdtempSync(join(tmpdir(), 'protocol-conformance-'));
  const db = openIndexDb(join(workDir, 'index.db'), coin);
  indexBlocks(db, node, coin, reorgLimit);
  const token = randomBytes(24).toString('hex');
  const indexServer = await startIndexServer({
    dbPath: join(workDir, 'index.db'),
    host: '127.0.0.1',
    port: 0,
    authToken: token,
    log: () => {},
  });
  const proxy = await startCountingProxy(indexServer.url);
  const daemon = new Daemon({
    url: `http://127.0.0.1:${node.port}`,
    user: options.nodeUser,
    password: options.nodePassword,
    giveUpAfterMs: 5_000,
  });
  let relayed = 0;
  const counting: RelayDaemon = {
    call: (method, params) => {
      relayed += 1;
      return daemon.call(method, params);
    },
  };
  const secret = randomBytes(24).toString('hex');
  const relay = await startRelay({ host: '127.0.0.1', port: 0, secret, daemon: counting, coin });
  const worker = await startWorker(
    {
      COIN: coin.name,
      NET: coin.net,
      LIBSQL_URL: proxy.url,
      LIBSQL_AUTH_TOKEN: token,
      REORG_LIMIT: String(reorgLimit),
      RELAY_URL: relay.url,
      RELAY_SECRET: secret,
    },
    join(workDir, 'wrangler')
  );
  const stop = async (): Promise<void> => {
    await worker.stop();
    await relay.close();
    await proxy.close();
    await indexServer.close();
    db.close();
    rmSync(workDir, { recursive: true, force: true });
  };
  return { db, indexServer, proxy, relay, relayed: () => relayed, worker, workDir, stop };
}
