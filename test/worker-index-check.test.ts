// End to end under `wrangler dev`: a Worker refuses an index of another chain, and /health and
// upgrades name a bad setting instead of answering 200 and 500.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { IndexServer } from '../indexer/index-server/server.ts';
import {
  electrumCall,
  freePort,
  startStack,
  startWrangler,
  type Stack,
  type WranglerProcess,
} from '../tools/stack.ts';
import { startLoopbackIndexServer, writeMigratedIndex } from './support/local-index.ts';

const PROJECT_DIR = resolve(import.meta.dirname, '..');
// data/SOURCES.md: Bitcoin Cash regtest, blocks 0..103; block 0 is Bitcoin Core's regtest genesis
// (chainparams.cpp), the hash below.
const CHAIN_FILE = join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json');
const REGTEST_GENESIS = '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206';
// Bitcoin Cash Node chainparams.cpp (the same block as Bitcoin Core's mainnet genesis).
const MAINNET_GENESIS = '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f';
const START_TIMEOUT_MS = 120_000;
const ANSWER_TIMEOUT_MS = 90_000;
// DESIGN §5, internal row: the closest to "this server cannot serve".
const INTERNAL_ERROR = { code: -32603, message: 'internal server error' };

interface RpcReply {
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}

const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
}, 60_000);

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'worker-index-check-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A Worker with these vars; resolves once it answers /health with our JSON (200 or 503). */
async function startWorker(vars: Record<string, string>): Promise<WranglerProcess> {
  const dir = tempDir();
  const worker = await startWrangler({
    port: await freePort(),
    stateDir: join(dir, 'state'),
    logDir: join(dir, 'logs'),
    vars,
    nodeFlags: ['--no-warnings', '--experimental-vm-modules'],
  });
  cleanups.push(() => worker.stop());
  const deadline = Date.now() + ANSWER_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (worker.child.exitCode !== null) {
      throw new Error(`wrangler exited:\n${worker.output.join('')}`);
    }
    const health = await fetch(`http://127.0.0.1:${worker.port}/health`).catch(() => null);
    const body: unknown = await health?.json().catch(() => null);
    if (typeof body === 'object' && body !== null && 'ok' in body) return worker;
    await new Promise((done) => setTimeout(done, 500));
  }
  throw new Error(`the Worker did not answer /health:\n${worker.output.join('').slice(-4_000)}`);
}

async function health(worker: WranglerProcess): Promise<{ status: number; body: unknown }> {
  const reply = await fetch(`http://127.0.0.1:${worker.port}/health`);
  return { status: reply.status, body: await reply.json() };
}

async function postRpc(
  worker: WranglerProcess,
  method: string,
  params: unknown[]
): Promise<RpcReply> {
  const reply = await fetch(`http://127.0.0.1:${worker.port}/rpc`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }),
  });
  expect(reply.status).toBe(200);
  return (await reply.json()) as RpcReply;
}

/** The HTTP status of a WebSocket upgrade (101 when it opened) and the refusal's body. */
function upgrade(worker: WranglerProcess): Promise<{ status: number; body: string }> {
  const socket = new WebSocket(`ws://127.0.0.1:${worker.port}/`);
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error('no answer to the upgrade')), 10_000);
    socket.once('open', () => {
      clearTimeout(timer);
      socket.terminate();
      done({ status: 101, body: '' });
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += String(chunk)));
      response.on('end', () => {
        clearTimeout(timer);
        socket.terminate();
        done({ status: response.statusCode ?? 0, body });
      });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
  });
}

/** Log lines of `event` the Worker printed, waiting briefly for stdout to catch up. */
async function logLines(worker: WranglerProcess, event: string): Promise<string[]> {
  const find = () =>
    worker.output
      .join('')
      .split('\n')
      .filter((line) => line.includes(`"event":"${event}"`));
  for (let attempt = 0; attempt < 20 && find().length === 0; attempt++) {
    await new Promise((done) => setTimeout(done, 100));
  }
  return find();
}

describe('a Worker pointed at an index of another coin', () => {
  const logs: string[] = [];
  let stack: Stack;
  let wrong: WranglerProcess;
  const REASON = 'index is BitcoinCash regtest, this Worker is Radiant mainnet';

  beforeAll(async () => {
    stack = await startStack({
      chainFile: CHAIN_FILE,
      coin: 'BitcoinCash',
      net: 'regtest',
      onLog: (line) => logs.push(line),
    }).catch((error: unknown) => {
      console.error(logs.slice(-60).join('\n'));
      throw error;
    });
    cleanups.push(() => stack.stop());
    // The same index server as the stack's own Worker, read as Radiant mainnet.
    wrong = await startWorker({
      LIBSQL_URL: stack.indexServerUrl,
      LIBSQL_AUTH_TOKEN: stack.indexServerToken,
      COIN: 'Radiant',
      NET: 'mainnet',
    });
  }, START_TIMEOUT_MS + ANSWER_TIMEOUT_MS);

  it('still serves from the Worker whose COIN/NET match the index', async () => {
    const features = (await electrumCall(stack.wsUrl, 'server.features', [])) as {
      genesis_hash: string;
    };
    expect(features.genesis_hash).toBe(REGTEST_GENESIS);
  });

  it('answers /health 503 naming both chains', async () => {
    const { status, body } = await health(wrong);
    expect(status).toBe(503);
    expect(body).toMatchObject({ ok: false, reason: REASON });
  });

  it('refuses the WebSocket upgrade with the reason', async () => {
    const { status, body } = await upgrade(wrong);
    expect(status).toBe(503);
    expect(body).toContain(REASON);
  });

  it('answers every Electrum request with the internal error, index reads or not', async () => {
    const requests: [string, unknown[]][] = [
      ['server.features', []],
      ['server.ping', []],
      ['blockchain.block.header', [0]],
      ['blockchain.scripthash.get_balance', ['00'.repeat(32)]],
    ];
    for (const [method, params] of requests) {
      const reply = await postRpc(wrong, method, params);
      expect(reply.result).toBeUndefined();
      expect(reply.error).toEqual(INTERNAL_ERROR);
    }
  });

  it('logs the mismatch once, not per request', async () => {
    const lines = await logLines(wrong, 'index_chain_mismatch');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(REASON);
  });
});

describe('a Worker pointed at an index whose genesis block is not its chain', () => {
  let worker: WranglerProcess;
  let indexServer: IndexServer;
  // Not a real block: a hash no chain starts with, internal order as the index stores hashes.
  const fakeGenesis = createHash('sha256').update('not a genesis block').digest();
  const fakeGenesisDisplay = Buffer.from(fakeGenesis).reverse().toString('hex');

  beforeAll(async () => {
    const dbPath = join(tempDir(), 'index.db');
    writeMigratedIndex(dbPath, (db) => {
      db.prepare('INSERT INTO headers VALUES (0, ?, ?, 0, 0)').run(fakeGenesis, Buffer.alloc(80));
      const chainState =
        'INSERT INTO chain_state (id, coin, net, height, tip_hash, tx_count, ' +
        'last_change_seq) VALUES (0, ?, ?, 0, ?, 0, 0)';
      db.prepare(chainState).run(
        'BitcoinCash',
        'mainnet',
        fakeGenesis
      );
    });
    const served = await startLoopbackIndexServer(dbPath);
    indexServer = served.server;
    cleanups.push(() => indexServer.close());
    worker = await startWorker({
      LIBSQL_URL: indexServer.url,
      LIBSQL_AUTH_TOKEN: served.token,
      COIN: 'BitcoinCash',
      NET: 'mainnet',
    });
  }, ANSWER_TIMEOUT_MS + 30_000);

  it('answers /health 503 and refuses requests', async () => {
    const { status, body } = await health(worker);
    expect(status).toBe(503);
    const reason =
      `index genesis block is ${fakeGenesisDisplay}, ` +
      `BitcoinCash mainnet has ${MAINNET_GENESIS}`;
    expect(body).toMatchObject({ ok: false, reason });
    const reply = await postRpc(worker, 'server.features', []);
    expect(reply.error).toEqual(INTERNAL_ERROR);
  });
});

describe('a Worker whose index token is wrong', () => {
  let worker: WranglerProcess;
  let token = '';
  let url = '';

  beforeAll(async () => {
    const dbPath = join(tempDir(), 'index.db');
    writeMigratedIndex(dbPath, () => {});
    const served = await startLoopbackIndexServer(dbPath);
    cleanups.push(() => served.server.close());
    token = `${served.token}-not-it`;
    url = served.server.url;
    worker = await startWorker({
      LIBSQL_URL: url,
      LIBSQL_AUTH_TOKEN: token,
      COIN: 'BitcoinCash',
      NET: 'regtest',
    });
  }, ANSWER_TIMEOUT_MS + 30_000);

  it('says in /health that the index refused the token, not that it is unreachable', async () => {
    const { status, body } = await health(worker);
    expect(status).toBe(503);
    expect(body).toMatchObject({ ok: false, error: 'index refused LIBSQL_AUTH_TOKEN' });
  });

  it('answers a request with the internal error and logs which index refused what', async () => {
    const reply = await postRpc(worker, 'blockchain.block.header', [0]);
    expect(reply.error).toEqual(INTERNAL_ERROR);
    const [line] = await logLines(worker, 'internal_error');
    expect(line).toContain('"hint":"the index refused LIBSQL_AUTH_TOKEN"');
    expect(line).toContain(`"index_url":"${url}"`);
    expect(line).not.toContain(token);
  });

  it('was given its token in a file, not on the command line `ps` shows', () => {
    const args = worker.child.spawnargs.join(' ');
    expect(args).not.toContain(token);
    expect(args).toContain('--env-file');
    expect(args).toContain('--var COIN:BitcoinCash');
  });
});

describe('a Worker with a bad limit setting', () => {
  let worker: WranglerProcess;

  beforeAll(async () => {
    // Nothing listens there: a bad setting must be reported before the index is touched.
    worker = await startWorker({
      LIBSQL_URL: `http://127.0.0.1:${await freePort()}`,
      COIN: 'BitcoinCash',
      NET: 'regtest',
      COST_SOFT_LIMIT: 'lots',
    });
  }, ANSWER_TIMEOUT_MS + 30_000);

  it('answers /health 503 naming the setting and its value', async () => {
    const { status, body } = await health(worker);
    expect(status).toBe(503);
    expect(body).toMatchObject({ ok: false });
    const { reason } = body as { reason: string };
    expect(reason).toContain('COST_SOFT_LIMIT');
    expect(reason).toContain('lots');
  });

  it('refuses upgrades with 503 naming the setting, not a bare 500', async () => {
    const { status, body } = await upgrade(worker);
    expect(status).toBe(503);
    expect(body).toContain('COST_SOFT_LIMIT');
  });

  it('answers the plain GET / with 503 naming the setting', async () => {
    const response = await fetch(`http://127.0.0.1:${worker.port}/`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('COST_SOFT_LIMIT');
  });
});

describe('a Worker with an unknown COIN', () => {
  let worker: WranglerProcess;

  beforeAll(async () => {
    worker = await startWorker({
      LIBSQL_URL: `http://127.0.0.1:${await freePort()}`,
      COIN: 'Dogecoin',
      NET: 'regtest',
      MAX_SUB: '5',
    });
  }, ANSWER_TIMEOUT_MS + 30_000);

  it('answers GET /, /health and upgrades with 503 naming COIN, not a bare 500', async () => {
    const page = await fetch(`http://127.0.0.1:${worker.port}/`);
    expect(page.status).toBe(503);
    const pageText = await page.text();
    expect(pageText).toContain('COIN');
    expect(pageText).toContain('Dogecoin');
    const { status, body } = await health(worker);
    expect(status).toBe(503);
    expect((body as { reason: string }).reason).toContain('Dogecoin');
    expect((await upgrade(worker)).status).toBe(503);
    // Logged once for the isolate, not once per request.
    const logged = worker.output.join('').split('\n').filter((line) => line.includes('bad_config'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('Dogecoin');
  });

  it('lists a misspelled var and the secrets not set under warnings in /health', async () => {
    const { body } = await health(worker);
    expect((body as { warnings?: string[] }).warnings).toEqual([
      'MAX_SUB is not a setting (did you mean MAX_SUBS?)',
      expect.stringMatching(/^LIBSQL_AUTH_TOKEN is not set: the index server and Turso refuse/),
      'NOTIFY_SECRET is not set: sessions get no notifications',
      'RELAY_URL is not set: every broadcast is refused',
    ]);
  });
});
