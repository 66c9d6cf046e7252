// Support for the protocol conformance suite: a Radiant chain mined by the simulated node, an
// index written in this process (with its header tree), the Hrana index server behind a counting
// proxy, the broadcast relay, the Worker under wrangler dev, and a raw WebSocket client.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkMerkleRoot, parseBlock } from '../core/block.ts';
import { hexToBytes } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { BlockWriter } from '../indexer/block-writer.ts';
import { Daemon } from '../indexer/daemon.ts';
import { openIndexDb, type IndexDb } from '../indexer/db.ts';
import type { IndexServer } from '../indexer/index-server/server.ts';
import { startRelay, type Relay, type RelayDaemon } from '../indexer/relay.ts';
import type { SimNode } from '../tools/sim-node.ts';
import {
  freePort,
  startWrangler,
  waitForWorkerHealth,
  type WranglerProcess,
} from '../tools/stack.ts';
import { openRpcSession, type ErrorJson } from './support/frame-socket.ts';
import { startLoopbackIndexServer } from './support/local-index.ts';

export type { ErrorJson } from './support/frame-socket.ts';

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

/** The Worker under wrangler dev, with its output kept for the log checks. */
export type WorkerProcess = WranglerProcess;

/** Starts the Worker with `vars` and waits until it answers /health. */
export async function startWorker(
  vars: Record<string, string>,
  stateDir: string
): Promise<WorkerProcess> {
  const port = await freePort();
  const worker = await startWrangler({ port, stateDir, logDir: join(stateDir, 'logs'), vars });
  try {
    await waitForWorkerHealth(worker);
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return worker;
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
  const session = await openRpcSession(`ws://127.0.0.1:${port}/`);
  return {
    call: session.call,
    result: session.result,
    failure: session.failure,
    exchange: session.exchange,
    closed: session.closed.then(({ code }) => code),
    close: session.close,
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
  const { server: indexServer, token } = await startLoopbackIndexServer(join(workDir, 'index.db'));
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
