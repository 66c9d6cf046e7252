// Front thread: the HTTP server, auth and stream registry, off the indexer's busy main thread.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { HranaRoutes } from './http-routes.ts';
import type {
  FrontConfig,
  FrontToMain,
  LogMessage,
  MainToFront,
  ReaderConfig,
} from './messages.ts';
import { ReaderPool } from './reader-pool.ts';
import { StreamRegistry } from './stream-registry.ts';

// The indexer's main thread runs synchronous write transactions of hundreds of milliseconds. HTTP
// served there would stall for as long, so this thread owns the listening socket and the reader
// threads own the SQLite connections; the main thread only starts and stops us.

// Slow-client bounds (slowloris): headers within 10 s, a whole request within 30 s.
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_CONNECTIONS = 1_024;
// In-flight requests get this long to finish at shutdown before their sockets are cut.
const CLOSE_GRACE_MS = 1_000;

const port = parentPort;
if (port === null) throw new Error('front-thread.ts must run as a worker thread');
const config = workerData as FrontConfig;

function post(message: FrontToMain): void {
  port?.postMessage(message);
}

function log(level: LogMessage['level'], event: string, fields: Record<string, unknown>): void {
  post({ kind: 'log', level, event, fields });
}

function readerConfigs(): ReaderConfig[] {
  return Array.from({ length: config.readerThreads }, (_, index) => ({
    index,
    dbPath: config.dbPath,
    maxResponseBytes: config.maxResponseBytes,
    readOnly: config.readOnly,
  }));
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: config.host, port: config.port }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function shutDown(server: Server, readers: ReaderPool, sweep: NodeJS.Timeout): Promise<void> {
  clearInterval(sweep);
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
  await closed;
  clearTimeout(cut);
  await readers.close();
  port?.close();
}

async function start(): Promise<void> {
  const registry = new StreamRegistry(config);
  const readers = await ReaderPool.start(readerConfigs(), config.stuckReadMs, {
    log: (message) => post(message),
    readerLost: (reader) => registry.forgetReader(reader),
  });
  const routes = new HranaRoutes({ config, registry, readers, log });
  const server = createServer(
    {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    routes.listener
  );
  server.maxConnections = MAX_CONNECTIONS;
  // Idle streams are checked a few times per idle period, so one lives at most ~1.25 periods
  // unnoticed; a baton presented late is refused on the spot anyway (StreamRegistry.acquire).
  const sweepMs = Math.min(1_000, Math.max(10, Math.floor(config.idleStreamMs / 4)));
  const sweep = setInterval(() => {
    for (const entry of registry.expireIdle()) readers.drop(entry.reader, entry.key);
  }, sweepMs);
  try {
    post({ kind: 'listening', port: await listen(server) });
  } catch (error) {
    clearInterval(sweep);
    await readers.close();
    throw error;
  }
  port?.on('message', (message: MainToFront) => {
    if (message.kind === 'close') void shutDown(server, readers, sweep);
  });
}

start().catch((error: unknown) => {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  post({ kind: 'failed', message, ...(code === undefined ? {} : { code }) });
  port.close();
});
