// End to end: the indexer's operations on a simulated node: unsafe starts refused, metrics scraped
// during a sync, every admin command through `./bin/electrum-edge.js rpc`, no secret in any line.
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import type { SimNode } from '../tools/sim-node.ts';
import { freePort } from '../tools/stack.ts';
import {
  caughtUpAt,
  expectIndexMatchesReference,
  indexerEnv,
  PROJECT_DIR,
  startIndexer,
  startTestNode,
  stopIndexer,
  tempDir,
  TEST_TOKEN,
  type IndexerRun,
} from './indexer-support.ts';
import { readReferenceChain } from './support/reference-chain.ts';
import { runCli } from './support/run-cli.ts';

const UNAUTHORIZED_SHOWN =
  'unauthorized: the indexer refused RPC_USER and RPC_PASSWORD (use the ones it runs with)';

const coin = getCoin('BitcoinCash', 'regtest');
const CHAIN = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
const TIP = CHAIN.length - 1;
const NODE_PASSWORD = 'node-pass-7d1e5c3b9a0f';
const RPC_USER = 'ops-test-4e2a';
const RPC_PASSWORD = 'admin-pass-8c3f1a6b2d90';
const WORKER_TOKEN = 'worker-admin-token-5b7d9f1e3a';
const NOTIFY_SECRET = 'notify-secret-6a8c0e2f4b';
const ROOT_ENV: Record<string, string> = process.getuid?.() === 0 ? { ALLOW_ROOT: '1' } : {};
const SECRETS = [NODE_PASSWORD, RPC_PASSWORD, WORKER_TOKEN, NOTIFY_SECRET, TEST_TOKEN];

/** `./bin/electrum-edge.js ...` with only the given environment (plus PATH). */
const cli = (args: string[], env: Record<string, string>) => runCli(args, env, 30_000);

function scrape(port: number): Promise<string> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => done(body));
    });
    req.on('error', fail);
    req.setTimeout(5_000, () => req.destroy(new Error('scrape timed out')));
    req.end();
  });
}

/** Prometheus text format: `name{labels} value`; returns value by `name` or `name{labels}`. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not an exposition line: ${line}`);
    out.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return out;
}

interface WorkerCall {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

/** A stand-in for the Worker's /admin API and /internal/notify that records what it was asked. */
async function mockWorkerAdmin(calls: WorkerCall[]): Promise<Server> {
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const { method = '', url = '', headers } = req;
      calls.push({ method, url, authorization: headers.authorization, body });
      const replies: Record<string, unknown> = {
        'GET /internal/notify': { seq: null },
        'POST /internal/notify': { ok: true },
        'GET /admin/sessions': { sessions: [{ id: 'a1', ip: '203.0.113.9', subs: 3 }] },
        'GET /admin/limits/groups?ip=203.0.113.9': { group: '203.0.113.0/24', cost: 12 },
        'POST /admin/sessions/disconnect': { disconnected: 1 },
      };
      const reply = replies[`${req.method ?? ''} ${req.url ?? ''}`];
      res.writeHead(reply === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply ?? { error: 'no such route' }));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
}

let node: SimNode;
let dir: string;

beforeAll(async () => {
  node = await startTestNode(coin, CHAIN, { password: NODE_PASSWORD, slowDelayMs: 100 });
  dir = tempDir('indexer-ops-');
});

afterAll(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

function expectNoSecrets(run: IndexerRun): void {
  const text = run.output.join('\n');
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

describe('indexer start checks', () => {
  it('refuses unsafe settings, one line per setting, exit code 2, no secret shown', async () => {
    const weakUrl = new URL(node.url);
    weakUrl.password = 'Password123!';
    const run = startIndexer({
      DAEMON_URL: weakUrl.href,
      DB_DIRECTORY: join(dir, 'refused'),
      RPC_USER: 'admin',
      RPC_PASSWORD: RPC_PASSWORD.slice(0, 10),
      INDEX_SERVER_HOST: '0.0.0.0',
      PROMETHEUS_HOST: '192.0.2.7',
      // startIndexer allows root by default; this run must not be allowed it.
      ALLOW_ROOT: '',
    });
    const { code } = await run.exited;
    expect(code).toBe(2);
    const refused = run.events.filter((event) => event.event === 'unsafe_setting');
    const expected = ['RPC_USER', 'RPC_PASSWORD', 'DAEMON_URL'];
    expected.push('PROMETHEUS_HOST', 'INDEX_SERVER_HOST');
    if (process.getuid?.() === 0) expected.push('ALLOW_ROOT');
    expect(refused.map((event) => event.setting)).toEqual(expected);
    expect(refused.every((event) => event.level === 'error')).toBe(true);
    expect(String(refused[1]?.error)).toMatch(/RPC_PASSWORD has 10 characters, fewer than 16; set/);
    expect(run.output.join('\n')).not.toContain('Password123!');
    expect(run.output.join('\n')).not.toContain(RPC_PASSWORD.slice(0, 10));
    expect(run.events.some((event) => event.event === 'index_server_listening')).toBe(false);
  });
});

describe('a running indexer', () => {
  const calls: WorkerCall[] = [];
  let worker: Server;
  let run: IndexerRun;
  let rpcEnv: Record<string, string>;
  let metricsPort: number;

  beforeAll(async () => {
    worker = await mockWorkerAdmin(calls);
    const rpcPort = await freePort();
    metricsPort = await freePort();
    rpcEnv = { RPC_PORT: String(rpcPort), RPC_USER, RPC_PASSWORD };
    node.setFault('slow');
    run = startIndexer({
      ...indexerEnv(node, coin, join(dir, 'running')),
      FLUSH_BLOCKS: '1',
      PROMETHEUS_PORT: String(metricsPort),
      WORKER_ADMIN_URL: `http://127.0.0.1:${(worker.address() as AddressInfo).port}`,
      WORKER_ADMIN_TOKEN: WORKER_TOKEN,
      NOTIFY_URL: `http://127.0.0.1:${(worker.address() as AddressInfo).port}`,
      NOTIFY_SECRET,
      LOG_LEVEL: 'debug',
      ...rpcEnv,
      ...ROOT_ENV,
    });
    await run.waitFor((event) => event.event === 'admin_rpc_listening');
  });

  afterAll(async () => {
    node.setFault('none');
    if (run.events.every((event) => event.event !== 'stopped')) await stopIndexer(run);
    await new Promise((done) => worker.close(done));
  });

  const rpc = (...args: string[]) => cli(['rpc', ...args], rpcEnv);
  const json = async (...args: string[]): Promise<Record<string, unknown>> => {
    const result = await rpc(...args);
    expect(result, args.join(' ')).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };

  it('serves metrics that follow the sync while it runs', async () => {
    let during = new Map<string, number>();
    for (let attempt = 0; attempt < 100; attempt++) {
      during = parseMetrics(await scrape(metricsPort));
      if ((during.get('electrum_edge_index_height') ?? -1) >= 3) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    node.setFault('none');
    const height = during.get('electrum_edge_index_height') ?? -1;
    expect(height).toBeGreaterThanOrEqual(3);
    expect(height).toBeLessThan(TIP);
    expect(during.get('electrum_edge_node_height')).toBe(TIP);
    expect(during.get('electrum_edge_node_lag_blocks')).toBe(TIP - height);
    // Genesis counts as a block; every block so far was its own flush (FLUSH_BLOCKS=1).
    expect(during.get('electrum_edge_blocks_indexed_total')).toBe(height + 1);
    expect(during.get('electrum_edge_flush_duration_seconds_count')).toBe(height + 1);
    expect(during.get('electrum_edge_db_size_bytes')).toBeGreaterThan(0);

    await run.waitFor(caughtUpAt(TIP), 60_000);
    const after = parseMetrics(await scrape(metricsPort));
    expect(after.get('electrum_edge_index_height')).toBe(TIP);
    expect(after.get('electrum_edge_node_lag_blocks')).toBe(0);
    expect(after.get('electrum_edge_blocks_indexed_total')).toBe(TIP + 1);
    expect(after.get('electrum_edge_mempool_txs') ?? 0).toBe(0);
  });

  it('counts node errors while the node is down', async () => {
    const name = 'electrum_edge_node_errors_total{kind="down"}';
    const before = parseMetrics(await scrape(metricsPort)).get(name) ?? 0;
    const from = run.events.length;
    const later = (event: string) => (e: Record<string, unknown>) =>
      e.event === event && run.events.indexOf(e) >= from;
    node.setFault('down');
    await run.waitFor(later('daemon_unavailable'));
    node.setFault('none');
    await run.waitFor(later('daemon_available'));
    const after = parseMetrics(await scrape(metricsPort)).get(name) ?? 0;
    expect(after).toBeGreaterThan(before);
  });

  it('pushes change notices to NOTIFY_URL and counts the deliveries', async () => {
    const posted = (): WorkerCall[] =>
      calls.filter((call) => call.method === 'POST' && call.url === '/internal/notify');
    const noticesOf = (calls: WorkerCall[]) =>
      calls.flatMap((call) => JSON.parse(call.body) as { height: number }[]);
    const deliveredName = 'electrum_edge_notify_deliveries_total{result="delivered"}';
    // The stand-in records a POST before its answer reaches the indexer, which counts the
    // delivery only then: wait for the count too instead of scraping once.
    let delivered: number | undefined;
    for (let attempt = 0; attempt < 100; attempt++) {
      const last = posted().at(-1);
      if (last !== undefined && last.body.includes(`"height":${TIP},`)) {
        delivered = parseMetrics(await scrape(metricsPort)).get(deliveredName);
        if (delivered === noticesOf(posted()).length) break;
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    const notices = noticesOf(posted());
    expect(notices.at(-1)?.height).toBe(TIP);
    expect(posted().every((call) => call.authorization === `Bearer ${NOTIFY_SECRET}`)).toBe(true);
    expect(delivered).toBe(notices.length);
  });

  it('asks for credentials, refuses wrong ones and accepts the right ones', async () => {
    const none = await cli(['rpc', 'getinfo'], { RPC_PORT: rpcEnv['RPC_PORT'] ?? '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/RPC_USER and RPC_PASSWORD must be set/);
    const wrongEnv = { ...rpcEnv, RPC_PASSWORD: 'wrong-pass-0123456789' };
    const wrong = await cli(['rpc', 'getinfo'], wrongEnv);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stderr)).toEqual({ code: -32001, message: UNAUTHORIZED_SHOWN });
    const info = await json('getinfo');
    expect(info).toMatchObject({
      coin: 'BitcoinCash',
      net: 'regtest',
      height: TIP,
      tip: node.tipHash(),
      sync: 'caught_up',
      node: 'ok',
      node_height: TIP,
      lag_blocks: 0,
      mempool: { txs: 0, bytes: 0 },
      log_level: 'debug',
      remote: null,
    });
    expect(info['db_bytes']).toBeGreaterThan(0);
    expect(info['uptime_seconds']).toBeGreaterThanOrEqual(0);
  });

  it('answers daemon_url without the password, and changes the log level', async () => {
    const url = new URL(node.url);
    expect(await json('daemon_url')).toBe(`http://rpc@127.0.0.1:${url.port}`);
    expect(await json('log', 'warning')).toEqual({ level: 'warn' });
    expect(await json('log')).toEqual({ level: 'warn' });
    const bad = await rpc('log', 'chatty');
    expect(bad.code).toBe(1);
    const message = expect.stringMatching(/chatty/);
    expect(JSON.parse(bad.stderr)).toMatchObject({ code: 1, message });
    expect(await json('log', 'debug')).toEqual({ level: 'debug' });
  });

  it('queries a script hash: history, balance and unspent outputs as in the chain', async () => {
    const ref = readReferenceChain(CHAIN, 'sha256d');
    const [scriptHash, history] = [...ref.history.entries()].sort(
      (a, b) => b[1].length - a[1].length
    )[0] ?? ['', []];
    const unspent = ref.unspent.get(scriptHash) ?? [];
    const answer = await json('query', scriptHash);
    expect(answer['script_hash']).toBe(scriptHash);
    const expectedHistory = history.map((h) => ({ tx_hash: h.txHash, height: h.height }));
    expect(answer['history']).toEqual(expectedHistory);
    const total = unspent.reduce((sum, out) => sum + out.value, 0n);
    expect(answer['balance']).toEqual({ confirmed: Number(total), unconfirmed: 0 });
    const utxos = answer['utxos'] as { tx_hash: string; tx_pos: number }[];
    const got = utxos.map((u) => `${u.tx_hash}:${u.tx_pos}`).sort();
    expect(got).toEqual(unspent.map((out) => `${out.txid}:${out.vout}`).sort());
    expect(history.length).toBeGreaterThan(1);

    // A testnet/regtest P2PKH address (Bitcoin's base58 test vectors: version 111, hash
    // 243f1394...e924) is read as its output script; its script hash computed here with node:crypto.
    const p2pkh = Buffer.from('76a914243f1394f44554f4ce3fd68649c19adc483ce92488ac', 'hex');
    const expectedHash = Buffer.from(createHash('sha256').update(p2pkh).digest()).reverse();
    const byAddress = await json('query', 'mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn');
    expect(byAddress['script_hash']).toBe(expectedHash.toString('hex'));
    expect(byAddress['history']).toEqual([]);
    // One character changed: the checksum fails and the reply says so.
    const address = await rpc('query', 'mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfm');
    expect(address.code).toBe(1);
    const refusal = /is not a script hash .*address \(bad base58check\)/;
    expect(JSON.parse(address.stderr).message).toMatch(refusal);
  });

  it('unwinds blocks on reorg N and syncs them again from the node', async () => {
    expect(await json('reorg', '3')).toMatchObject({ unwound: 3, height: TIP - 3 });
    for (let attempt = 0; attempt < 100; attempt++) {
      if ((await json('getinfo'))['height'] === TIP) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(await json('getinfo')).toMatchObject({ height: TIP, tip: node.tipHash() });
    const ref = readReferenceChain(CHAIN, 'sha256d');
    expectIndexMatchesReference(join(dir, 'running', 'index.db'), ref);
    expect(run.events.some((event) => event.event === 'reorg' && event.depth === 3)).toBe(true);
    for (const count of ['0', '-2', '201', '"3"']) {
      const bad = await rpc('reorg', count);
      expect(bad.code, count).toBe(1);
      expect(JSON.parse(bad.stderr).message).toMatch(/must be an integer from 1 to 103/);
    }
  });

  it('relays sessions, groups and disconnect to the Worker admin API with its token', async () => {
    const sessions = [{ id: 'a1', ip: '203.0.113.9', subs: 3 }];
    expect(await json('sessions')).toEqual({ sessions });
    expect(await json('groups', '203.0.113.9')).toEqual({ group: '203.0.113.0/24', cost: 12 });
    expect(await json('disconnect', 'a1')).toEqual({ disconnected: 1 });
    const admin = calls.filter((call) => call.url.startsWith('/admin/'));
    expect(admin.map((call) => `${call.method} ${call.url}`)).toEqual([
      'GET /admin/sessions',
      'GET /admin/limits/groups?ip=203.0.113.9',
      'POST /admin/sessions/disconnect',
    ]);
    expect(admin.every((call) => call.authorization === `Bearer ${WORKER_TOKEN}`)).toBe(true);
    expect(JSON.parse(admin[2]?.body ?? '{}')).toEqual({ target: 'a1' });
    const missing = await rpc('groups');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr).message).toMatch(/answered HTTP 404 to \/limits\/lists/);
    expect(missing.stderr).not.toContain(WORKER_TOKEN);
  });

  it('stops gracefully on `stop`, after replying, and never logged a secret', async () => {
    expect(await json('stop')).toBe('stopping');
    const { code } = await run.exited;
    expect(code).toBe(0);
    const stopped = run.events.find((event) => event.event === 'stopped');
    expect(stopped?.height).toBe(TIP);
    expectNoSecrets(run);
    expect(run.events.filter((event) => event.event === 'index_server_listening')).toHaveLength(1);
    // Every line is a JSON event (the demo and the tests parse them).
    expect(run.events).toHaveLength(run.output.length);
  });
});
