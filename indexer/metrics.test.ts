// Tests of the indexer metrics: updated through the API, scraped over HTTP, parsed independently.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIndexerMetrics,
  metricsSettings,
  startMetricsServer,
  type MetricsServer,
} from './metrics.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// The Prometheus text exposition format (0.0.4): `name{label="v",...} value` per line, # comments.
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] !== undefined && type[2] !== undefined) types.set(type[1], type[2]);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] === undefined || match[3] === undefined) {
      throw new Error(`bad exposition line: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      if (pair[1] !== undefined && pair[2] !== undefined) labels[pair[1]] = pair[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return { samples, types };
}

interface HttpReply {
  status: number;
  type: string;
  body: string;
}

function get(port: number, path: string, method = 'GET'): Promise<HttpReply> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        done({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          body: Buffer.concat(chunks).toString(),
        })
      );
    });
    req.on('error', fail);
    req.end();
  });
}

function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {}
): number | undefined {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )?.value;
}

describe('indexer metrics over HTTP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-metrics-'));
  const dbPath = join(dir, 'index.db');
  let clockMs = 1_000_000;
  const metrics = createIndexerMetrics({ dbPath, rateWindowMs: 10_000, now: () => clockMs });
  let server: MetricsServer;

  beforeAll(async () => {
    writeFileSync(dbPath, Buffer.alloc(4096));
    writeFileSync(`${dbPath}-wal`, Buffer.alloc(1000));
    server = await startMetricsServer({ registry: metrics.registry, port: 0 });
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves every figure the indexer updates', async () => {
    metrics.setNodeHeight(1_000);
    metrics.setIndexHeight(990);
    metrics.recordFlush({ blocks: 10, txs: 5_000, durationMs: 250 });
    clockMs += 2_000;
    metrics.recordFlush({ blocks: 30, txs: 15_000, durationMs: 1_500 });
    metrics.setMempool(12, 4_800);
    metrics.recordNodeError('timeout');
    metrics.recordNodeError('timeout');
    metrics.recordNodeError('Weird Kind!{}');
    metrics.recordNotify(true);
    metrics.recordNotify(false);
    metrics.setBlockRejected(true);

    const reply = await get(server.port, '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.type).toContain('text/plain');
    const { samples, types } = parseExposition(reply.body);
    const p = 'electrum_edge_';
    expect(valueOf(samples, `${p}index_height`)).toBe(990);
    expect(valueOf(samples, `${p}node_height`)).toBe(1_000);
    expect(valueOf(samples, `${p}node_lag_blocks`)).toBe(10);
    expect(valueOf(samples, `${p}blocks_indexed_total`)).toBe(40);
    expect(valueOf(samples, `${p}txs_indexed_total`)).toBe(20_000);
    // 40 blocks and 20,000 txs inside a 10 s window.
    expect(valueOf(samples, `${p}blocks_per_second`)).toBeCloseTo(4, 9);
    expect(valueOf(samples, `${p}txs_per_second`)).toBeCloseTo(2_000, 9);
    expect(valueOf(samples, `${p}mempool_txs`)).toBe(12);
    expect(valueOf(samples, `${p}mempool_bytes`)).toBe(4_800);
    expect(valueOf(samples, `${p}db_size_bytes`)).toBe(4096 + 1000);
    expect(valueOf(samples, `${p}flush_duration_seconds_count`)).toBe(2);
    expect(valueOf(samples, `${p}flush_duration_seconds_sum`)).toBeCloseTo(1.75, 9);
    expect(valueOf(samples, `${p}flush_duration_seconds_bucket`, { le: '0.25' })).toBe(1);
    expect(valueOf(samples, `${p}flush_duration_seconds_bucket`, { le: '2.5' })).toBe(2);
    expect(valueOf(samples, `${p}node_errors_total`, { kind: 'timeout' })).toBe(2);
    expect(valueOf(samples, `${p}node_errors_total`, { kind: 'weird_kind___' })).toBe(1);
    expect(valueOf(samples, `${p}notify_deliveries_total`, { result: 'delivered' })).toBe(1);
    expect(valueOf(samples, `${p}notify_deliveries_total`, { result: 'failed' })).toBe(1);
    expect(valueOf(samples, `${p}block_rejected`)).toBe(1);
    expect(types.get(`${p}flush_duration_seconds`)).toBe('histogram');
    expect(types.get(`${p}blocks_indexed_total`)).toBe('counter');
    expect(valueOf(samples, `${p}process_resident_memory_bytes`)).toBeGreaterThan(0);
  });

  it('drops flushes that left the rate window', async () => {
    clockMs += 60_000;
    const { samples } = parseExposition((await get(server.port, '/metrics')).body);
    expect(valueOf(samples, 'electrum_edge_blocks_per_second')).toBe(0);
    expect(valueOf(samples, 'electrum_edge_blocks_indexed_total')).toBe(40);
  });

  it('answers 404 off /metrics and 405 to other methods', async () => {
    expect((await get(server.port, '/')).status).toBe(404);
    expect((await get(server.port, '/metrics', 'POST')).status).toBe(405);
  });
});

describe('metricsSettings', () => {
  it('is off without PROMETHEUS_PORT and on loopback by default', () => {
    expect(metricsSettings({})).toBeUndefined();
    expect(metricsSettings({ PROMETHEUS_PORT: '9464' })).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(() => metricsSettings({ PROMETHEUS_PORT: '99999' })).toThrow(/PROMETHEUS_PORT/);
  });
});
