// Prometheus metrics of the indexer: the figures, the calls that update them, the /metrics server.
import { statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger.ts';

/** What a flush of whole blocks did, as sync.ts measures it. */
export interface FlushReport {
  blocks: number;
  txs: number;
  durationMs: number;
}

/** The indexer's metrics and the calls that update them. */
export interface IndexerMetrics {
  readonly registry: Registry;
  /** After each commit: the height the index now holds. */
  setIndexHeight(height: number): void;
  /** After each poll of the node: its best height (lag = node - index). */
  setNodeHeight(height: number): void;
  /** After each committed flush: counts and duration; feeds blocks/s and tx/s. */
  recordFlush(report: FlushReport): void;
  /** After each mempool refresh. */
  setMempool(txCount: number, sizeBytes?: number): void;
  /** A failed or refused node RPC call; `kind` is a short fixed word such as `timeout`. */
  recordNodeError(kind: string): void;
  /** A change notice pushed to the Worker (delivered or not). */
  recordNotify(delivered: boolean): void;
  /** Whether sync refuses a block the node serves (and waits below it). */
  setBlockRejected(rejected: boolean): void;
}

/** Options of `createIndexerMetrics`. */
export interface MetricsOptions {
  /** The index file; its size (with -wal) is read at each scrape. */
  dbPath?: string;
  /** Add Node's process metrics (memory, CPU, event loop lag); default true. */
  processMetrics?: boolean;
  /** The window blocks/s and tx/s are averaged over; default 60 s. */
  rateWindowMs?: number;
  /** Clock for tests. */
  now?: () => number;
}

const PREFIX = 'electrum_edge_';
// Flushes take from milliseconds (one block at the tip) to seconds (FLUSH_BLOCKS during sync).
const FLUSH_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

// A label value from the caller; bounded so a bug cannot create unbounded time series.
function labelWord(kind: string): string {
  const word = kind.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 32);
  return word === '' ? 'other' : word;
}

/** A sliding window of (time, blocks, txs) giving rates over the last `windowMs`. */
class RateWindow {
  private readonly samples: { atMs: number; blocks: number; txs: number }[] = [];
  constructor(
    private readonly windowMs: number,
    private readonly now: () => number
  ) {}

  add(blocks: number, txs: number): void {
    this.samples.push({ atMs: this.now(), blocks, txs });
    this.trim();
  }

  perSecond(): { blocks: number; txs: number } {
    this.trim();
    let blocks = 0;
    let txs = 0;
    for (const sample of this.samples) {
      blocks += sample.blocks;
      txs += sample.txs;
    }
    const seconds = this.windowMs / 1000;
    return { blocks: blocks / seconds, txs: txs / seconds };
  }

  private trim(): void {
    const oldestMs = this.now() - this.windowMs;
    while (this.samples.length > 0 && (this.samples[0]?.atMs ?? 0) < oldestMs) this.samples.shift();
  }
}

type Collect = (set: (value: number) => void) => void;

// Rates and the DB size are computed when Prometheus scrapes (prom-client's `collect`), so the
// indexer pays nothing for them between scrapes.
function defineMetrics(registry: Registry, rates: RateWindow, dbPath: string | undefined) {
  const registers = [registry];
  const gauge = (name: string, help: string, collect?: Collect): Gauge => {
    const config = { name: `${PREFIX}${name}`, help, registers };
    if (collect === undefined) return new Gauge(config);
    return new Gauge({
      ...config,
      collect() {
        collect((value) => this.set(value));
      },
    });
  };
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name: `${PREFIX}${name}`, help, labelNames, registers });
  gauge('blocks_per_second', 'Blocks indexed per second over the rate window', (set) =>
    set(rates.perSecond().blocks)
  );
  gauge('txs_per_second', 'Transactions indexed per second over the rate window', (set) =>
    set(rates.perSecond().txs)
  );
  gauge('db_size_bytes', 'Size of the index file and its write-ahead log', (set) => {
    if (dbPath !== undefined) set(fileBytes(dbPath) + fileBytes(`${dbPath}-wal`));
  });
  return {
    height: gauge('index_height', 'Height of the last block in the index (-1 when empty)'),
    nodeHeight: gauge('node_height', 'Best block height the node reports'),
    lag: gauge('node_lag_blocks', 'Blocks the index is behind the node'),
    blocks: counter('blocks_indexed_total', 'Blocks committed to the index'),
    txs: counter('txs_indexed_total', 'Transactions committed to the index'),
    mempoolTxs: gauge('mempool_txs', 'Transactions in the indexed mempool'),
    mempoolBytes: gauge('mempool_bytes', 'Serialized size of the indexed mempool'),
    flushSeconds: new Histogram({
      name: `${PREFIX}flush_duration_seconds`,
      help: 'Time to commit one flush of whole blocks',
      buckets: FLUSH_BUCKETS_SECONDS,
      registers,
    }),
    nodeErrors: counter('node_errors_total', 'Failed node RPC calls, by kind', ['kind']),
    notifies: counter('notify_deliveries_total', 'Change notices pushed to the Worker', ['result']),
    blockRejected: gauge(
      'block_rejected',
      '1 while the index waits below a block the node serves that it refuses, else 0'
    ),
  };
}

/**
 * Creates the indexer's metrics in a registry of their own: index and node height and lag,
 * blocks and txs indexed (counters, plus per-second gauges over a window), mempool size, DB size,
 * flush duration (histogram), node errors, change-notice deliveries, and Node's process metrics.
 */
export function createIndexerMetrics(options: MetricsOptions = {}): IndexerMetrics {
  const registry = new Registry();
  const rates = new RateWindow(options.rateWindowMs ?? 60_000, options.now ?? Date.now);
  const m = defineMetrics(registry, rates, options.dbPath);
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: PREFIX });
  }
  let indexHeight = -1;
  let nodeHeight = -1;
  const updateLag = (): void => {
    if (nodeHeight >= 0) m.lag.set(Math.max(0, nodeHeight - indexHeight));
  };
  return {
    registry,
    setIndexHeight(height) {
      indexHeight = height;
      m.height.set(height);
      updateLag();
    },
    setNodeHeight(height) {
      nodeHeight = height;
      m.nodeHeight.set(height);
      updateLag();
    },
    recordFlush({ blocks, txs, durationMs }) {
      m.blocks.inc(blocks);
      m.txs.inc(txs);
      rates.add(blocks, txs);
      m.flushSeconds.observe(durationMs / 1000);
    },
    setMempool(txCount, sizeBytes) {
      m.mempoolTxs.set(txCount);
      if (sizeBytes !== undefined) m.mempoolBytes.set(sizeBytes);
    },
    recordNodeError: (kind) => m.nodeErrors.inc({ kind: labelWord(kind) }),
    recordNotify: (delivered) => m.notifies.inc({ result: delivered ? 'delivered' : 'failed' }),
    setBlockRejected: (rejected) => m.blockRejected.set(rejected ? 1 : 0),
  };
}

/** A running /metrics server. */
export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Settings of `startMetricsServer`. */
export interface MetricsServerOptions {
  registry: Registry;
  /** Default 127.0.0.1 (PROMETHEUS_HOST). */
  host?: string;
  /** PROMETHEUS_PORT; 0 picks a free port. */
  port: number;
  logger?: Logger;
}

/** Serves `GET /metrics` in Prometheus' text format; everything else is 404 or 405. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    } else if (request.method !== 'GET' && request.method !== 'HEAD') {
      const headers = { allow: 'GET, HEAD', 'content-type': 'text/plain' };
      response.writeHead(405, headers).end('use GET\n');
    } else {
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': options.registry.contentType }).end(text);
        },
        (error: unknown) => {
          options.logger?.error('metrics_failed', { err: error });
          response.writeHead(500, { 'content-type': 'text/plain' }).end('internal server error\n');
        }
      );
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, host, () => {
      server.off('error', fail);
      done();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger?.info('metrics_listening', { host, port });
  return {
    host,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** PROMETHEUS_HOST and PROMETHEUS_PORT; undefined when PROMETHEUS_PORT is unset (metrics off). */
export function metricsSettings(
  env: Record<string, string | undefined>
): { host: string; port: number } | undefined {
  const rawPort = env['PROMETHEUS_PORT']?.trim() ?? '';
  if (rawPort === '') return undefined;
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    const shown = rawPort.slice(0, 20);
    throw new Error(`PROMETHEUS_PORT must be a port from 0 to 65535, got "${shown}"`);
  }
  return { host: env['PROMETHEUS_HOST']?.trim() || '127.0.0.1', port };
}
