// The index server under load: reads while the indexer's thread blocks, runaway reads, reads/s.
import { Worker } from 'node:worker_threads';
import { createClient } from '@libsql/client/web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexServer } from '../indexer/index-server/server.ts';
import { TEST_TOKEN, type TempIndex } from '../indexer/index-server/test-index.ts';
import {
  serveWithTestToken,
  startTempIndexServer,
  type TempIndexServer,
} from './support/local-index.ts';

let fixture: TempIndexServer;
let index: TempIndex;
let server: IndexServer;

beforeAll(async () => {
  fixture = await startTempIndexServer();
  ({ index, server } = fixture);
});

afterAll(() => fixture.stop());

// Client code for an eval worker (plain JS). It runs in its own thread because the test thread
// is about to block, or, for throughput, so the client does not share a thread with the test.
// It posts one pipeline per request over keep-alive node:http and reports each read.
const CLIENT_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { url, token, sql, concurrency, maxMs } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const body = JSON.stringify({ baton: null, requests: [
  { type: 'execute', stmt: { sql } }, { type: 'close' }] });
const headers = { authorization: 'Bearer ' + token, 'content-length': Buffer.byteLength(body) };
function one() {
  return new Promise((resolve, reject) => {
    const req = http.request(url + '/v2/pipeline', { method: 'POST', agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(body);
  });
}
let stop = false;
parentPort.on('message', () => { stop = true; });
async function loop(reads) {
  const endMs = Date.now() + maxMs;
  for (let i = 0; i < 1e6 && !stop && Date.now() < endMs; i++) {
    const startedMs = Date.now();
    const reply = await one();
    const value = reply.results[0].response.result.rows[0][0].value;
    reads.push({ startedMs, endedMs: Date.now(), value });
  }
}
(async () => {
  parentPort.postMessage({ kind: 'started' });
  const reads = [];
  await Promise.all(Array.from({ length: concurrency }, () => loop(reads)));
  agent.destroy();
  parentPort.postMessage({ kind: 'done', reads });
})();
`;

interface Read {
  startedMs: number;
  endedMs: number;
  value: string;
}

type ClientMessage = { kind: 'started' } | { kind: 'done'; reads: Read[] };

interface ClientThread {
  started: Promise<void>;
  done: Promise<Read[]>;
  stop(): void;
}

function clientThread(sql: string, concurrency: number, maxMs: number): ClientThread {
  const workerData = { url: server.url, token: TEST_TOKEN, sql, concurrency, maxMs };
  const worker = new Worker(CLIENT_THREAD, { eval: true, workerData });
  let started = (): void => undefined;
  let done = (_reads: Read[]): void => undefined;
  worker.on('message', (message: ClientMessage) => {
    if (message.kind === 'started') started();
    else done(message.reads);
  });
  return {
    started: new Promise((resolve) => (started = resolve)),
    done: new Promise<Read[]>((resolve) => (done = resolve)).finally(() => worker.terminate()),
    stop: () => worker.postMessage('stop'),
  };
}

function blockThisThreadMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('reads while the main thread writes', () => {
  it('flow on through a 600 ms synchronous write and see only committed rows', async () => {
    const poller = clientThread('SELECT count(*) FROM items', 1, 10_000);
    await poller.started;
    await sleep(200);

    const countSql = 'SELECT count(*) AS n FROM items';
    const before = String((index.writer.prepare(countSql).get() as { n: number }).n);
    const blockStartMs = Date.now();
    index.writer.exec('BEGIN IMMEDIATE');
    index.writer.prepare("INSERT INTO items (id, label) VALUES (70, 'written')").run();
    blockThisThreadMs(600);
    const commitMs = Date.now();
    index.writer.exec('COMMIT');
    await sleep(200);
    poller.stop();
    const reads = await poller.done;
    index.writer.prepare('DELETE FROM items WHERE id = 70').run();

    // Reads that ended before the commit began ran entirely while this thread was blocked:
    // dozens of them complete, quickly, and none sees the uncommitted row.
    const during = reads.filter((r) => r.startedMs >= blockStartMs && r.endedMs < commitMs);
    expect(during.length).toBeGreaterThan(20);
    expect(during.every((r) => r.value === before)).toBe(true);
    expect(Math.max(...during.map((r) => r.endedMs - r.startedMs))).toBeLessThan(200);
    expect(reads.at(-1)?.value).toBe(String(Number(before) + 1));
  });
});

describe('a read that runs away', () => {
  it('is abandoned with 503 and its reader replaced, so later reads are served', async () => {
    const stuckReadMs = 300;
    const guarded = await serveWithTestToken(index.dbPath, { readerThreads: 1, stuckReadMs });
    const post = (sql: string) =>
      fetch(`${guarded.url}/v2/pipeline`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}` },
        body: JSON.stringify({
          baton: null,
          requests: [{ type: 'execute', stmt: { sql } }, { type: 'close' }],
        }),
      });
    try {
      // About 15 million recursive rows: over a second of SQLite time that no call can stop.
      const runaway =
        'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 15000000) ' +
        'SELECT count(*) FROM c';
      const startedMs = Date.now();
      const abandoned = await post(runaway);
      const waitedMs = Date.now() - startedMs;
      let status = 0;
      for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
        status = (await post('SELECT 1')).status;
        if (status !== 200) await sleep(50);
      }

      expect(abandoned.status).toBe(503);
      expect(await abandoned.json()).toMatchObject({ code: 'READ_TIMEOUT' });
      expect(waitedMs).toBeLessThan(stuckReadMs * 4);
      expect(status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('throughput of a point query with 8 concurrent clients', () => {
  const durationMs = 2_000;
  const pointSql = 'SELECT label FROM items WHERE id = ?';

  it('through @libsql/client/web, the client sharing this thread', async () => {
    const clients = Array.from({ length: 8 }, () =>
      createClient({ url: server.url, authToken: TEST_TOKEN, intMode: 'bigint' })
    );
    const endMs = Date.now() + durationMs;
    const counts = await Promise.all(
      clients.map(async (client, i) => {
        let done = 0;
        for (let n = 0; n < 1_000_000 && Date.now() < endMs; n++) {
          const rs = await client.execute({ sql: pointSql, args: [BigInt((n + i) % 5) + 1n] });
          if (rs.rows.length === 1) done++;
        }
        return done;
      })
    );
    for (const client of clients) client.close();
    const perSecond = Math.round(counts.reduce((a, b) => a + b, 0) / (durationMs / 1000));
    process.stdout.write(`index server: ${perSecond} reads/s via @libsql/client (8 clients)\n`);
    // A floor that only catches a gross regression; the measured figure is in the report.
    expect(perSecond).toBeGreaterThan(300);
  });

  it('through raw HTTP pipelines from a client thread of its own', async () => {
    const client = clientThread('SELECT label FROM items WHERE id = 3', 8, durationMs);
    const reads = await client.done;
    const perSecond = Math.round(reads.length / (durationMs / 1000));
    process.stdout.write(`index server: ${perSecond} reads/s via raw HTTP (8 in flight)\n`);
    expect(reads.every((r) => r.value === 'gamma ☃ "quoted"')).toBe(true);
    expect(perSecond).toBeGreaterThan(1_000);
  });
});
