// End to end: the indexer process at start and stop: one indexer per DB_DIRECTORY (lock file),
// the modes of what it creates, a prompt stop with the node down, and a wrong COIN named.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { RELAY_PATH } from '../indexer/relay.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import type { SimNode } from '../tools/sim-node.ts';
import { freePort } from '../tools/stack.ts';
import {
  caughtUpAt,
  indexerEnv,
  PROJECT_DIR,
  SIM_PASSWORD,
  SIM_USER,
  startIndexer,
  stopIndexer,
  TestProcesses,
} from './indexer-support.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const CHAIN = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
const TIP = CHAIN.length - 1;
const STOP_LIMIT_MS = 2_000;

const processes = new TestProcesses();
let node: SimNode;

beforeAll(async () => {
  node = await processes.node(coin, CHAIN);
});

afterAll(() => processes.cleanup());

const mode = (path: string): number => statSync(path).mode & 0o777;

// The pid of a process that has exited: a lock holding it is stale.
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}


describe('one indexer per DB_DIRECTORY', () => {
  it('refuses a second indexer with one line naming the directory and the first pid', async () => {
    const { run: first, dbPath } = processes.indexer(node, coin);
    await first.waitFor(caughtUpAt(TIP), 60_000);
    const lockPath = `${dbPath}.lock`;
    const firstPid = Number(readFileSync(lockPath, 'utf8').trim());
    // The pid in the lock is a live process other than this test.
    expect(firstPid).toBeGreaterThan(0);
    expect(firstPid).not.toBe(process.pid);
    expect(() => process.kill(firstPid, 0)).not.toThrow();
    const directory = join(dbPath, '..');
    const second = startIndexer(indexerEnv(node, coin, directory));
    const { code } = await second.exited;
    expect(code).toBe(1);
    const refusal = second.events.filter((event) => event.level === 'error');
    expect(refusal).toHaveLength(1);
    expect(String(refusal[0]?.error)).toContain(directory);
    expect(String(refusal[0]?.error)).toContain(`pid ${firstPid}`);
    // The first one runs on, and removes its lock at a clean stop.
    expect(await Promise.race([first.exited, Promise.resolve('running')])).toBe('running');
    expect(await stopIndexer(first)).toBe(0);
    expect(existsSync(lockPath)).toBe(false);
  }, 90_000);

  it('refuses while a live process holds the lock', async () => {
    const dir = processes.tempDir();
    writeFileSync(join(dir, 'index.db.lock'), `${process.pid}\n`);
    const run = startIndexer(indexerEnv(node, coin, dir));
    expect((await run.exited).code).toBe(1);
    const line = run.events.find((event) => event.event === 'index_locked');
    expect(String(line?.error)).toContain(`${dir} is in use`);
    expect(String(line?.error)).toContain(`pid ${process.pid}`);
    expect(existsSync(join(dir, 'index.db'))).toBe(false);
  }, 30_000);

  it('takes over a stale lock with a warning', async () => {
    const dir = processes.tempDir();
    const stale = deadPid();
    writeFileSync(join(dir, 'index.db.lock'), `${stale}\n`);
    // A misspelled setting too: warned about by its own field, the logger's name intact.
    const run = startIndexer({ ...indexerEnv(node, coin, dir), FLUSH_BLOCK: '5' });
    await run.waitFor(caughtUpAt(TIP), 60_000);
    const warning = run.events.find((event) => event.event === 'stale_lock_taken_over');
    expect(warning).toMatchObject({ level: 'warn', pid: stale });
    const typo = run.events.find((event) => event.event === 'unknown_setting');
    expect(typo).toMatchObject({ name: 'indexer', setting: 'FLUSH_BLOCK' });
    expect(typo).toMatchObject({ did_you_mean: 'FLUSH_BLOCKS' });
    expect(await stopIndexer(run)).toBe(0);
    expect(existsSync(join(dir, 'index.db.lock'))).toBe(false);
  }, 90_000);
});

describe('modes of what the indexer creates', () => {
  it('creates DB_DIRECTORY 0700 and its files 0600, as doctor wants', async () => {
    const parent = processes.tempDir();
    const dir = join(parent, 'new-index');
    const run = startIndexer(indexerEnv(node, coin, dir));
    await run.waitFor(caughtUpAt(TIP), 60_000);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'index.db'))).toBe(0o600);
    expect(mode(join(dir, 'index.db-wal'))).toBe(0o600);
    expect(mode(join(dir, 'index.db.lock'))).toBe(0o600);
    expect(await stopIndexer(run)).toBe(0);
  }, 90_000);

  it('leaves the mode of a directory the operator made', async () => {
    const parent = processes.tempDir();
    const dir = join(parent, 'operator-made');
    mkdirSync(dir);
    chmodSync(dir, 0o750);
    const run = startIndexer(indexerEnv(node, coin, dir));
    await run.waitFor(caughtUpAt(TIP), 60_000);
    expect(mode(dir)).toBe(0o750);
    expect(mode(join(dir, 'index.db'))).toBe(0o600);
    expect(await stopIndexer(run)).toBe(0);
  }, 90_000);
});

describe('stopping while the node is unusable', () => {
  async function expectPromptStop(daemonUrl: string, awaited: string): Promise<void> {
    const dir = processes.tempDir();
    const run = startIndexer({ ...indexerEnv(node, coin, dir), DAEMON_URL: daemonUrl });
    await run.waitFor((event) => event.event === awaited, 30_000);
    // Past the first node-info attempt, which used to leave a 60 s wait behind.
    await new Promise((done) => setTimeout(done, 500));
    const startedMs = Date.now();
    const code = await stopIndexer(run);
    expect(Date.now() - startedMs).toBeLessThan(STOP_LIMIT_MS);
    expect(code).toBe(0);
  }

  it('stops within 2 s when the node is down', async () => {
    const url = `http://${SIM_USER}:${SIM_PASSWORD}@127.0.0.1:${await freePort()}`;
    await expectPromptStop(url, 'daemon_unavailable');
  }, 60_000);

  it('stops within 2 s when the node refuses the password', async () => {
    const wrong = new URL(node.url);
    wrong.password = 'not-the-password-1234';
    await expectPromptStop(wrong.href, 'daemon_unavailable');
  }, 60_000);
});

describe('a port that is taken', () => {
  it.each(['RPC_PORT', 'INDEX_SERVER_PORT', 'RELAY_PORT', 'PROMETHEUS_PORT'])(
    'names %s in one error line and exits 1',
    async (setting) => {
      const holder = createServer();
      await new Promise<void>((done) => holder.listen(0, '127.0.0.1', done));
      const port = (holder.address() as AddressInfo).port;
      try {
        const dir = processes.tempDir();
        const env = { ...indexerEnv(node, coin, dir), [setting]: String(port) };
        if (setting === 'RELAY_PORT') env['RELAY_SECRET'] = 'relay-secret-0123456789ab';
        const run = startIndexer(env);
        expect((await run.exited).code).toBe(1);
        const errors = run.events.filter((event) => event.level === 'error');
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ event: 'port_in_use', setting, port, host: '127.0.0.1' });
        expect(String(errors[0]?.error)).toBe(
          `${setting} ${port} on 127.0.0.1 is in use: stop what holds it, or choose another port`
        );
      } finally {
        holder.close();
      }
    },
    60_000
  );
});

describe('a broadcast while the node is down', () => {
  it('is answered 502 by the relay within seconds, not after sync-style retries', async () => {
    const port = await freePort();
    const secret = 'relay-secret-0123456789ab';
    const env = { ...indexerEnv(node, coin, processes.tempDir()), RELAY_PORT: String(port) };
    const run = startIndexer({ ...env, RELAY_SECRET: secret });
    try {
      await run.waitFor(caughtUpAt(TIP), 60_000);
      // A tx that parses (one input, one OP_TRUE output), built here by hand.
      const tx =
        '01000000' + '01' + 'ab'.repeat(32) + '00000000' + '00' + 'ffffffff' +
        '01' + '0000000000000000' + '01' + '51' + '00000000';
      node.setFault('down');
      const startedMs = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}${RELAY_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ rawtx: tx }),
      });
      const elapsedMs = performance.now() - startedMs;
      expect(response.status).toBe(502);
      expect(await response.json()).toEqual({ error: 'the node is unavailable' });
      // Two seconds of retries (the relay's), well under a wallet's request timeout.
      expect(elapsedMs).toBeLessThan(8_000);
    } finally {
      node.setFault('none');
      await stopIndexer(run);
    }
  }, 90_000);
});

describe('a wrong COIN', () => {
  it("says the node's genesis is not this coin's and to check COIN/NET", async () => {
    const dir = processes.tempDir();
    const run = startIndexer({ ...indexerEnv(node, coin, dir), COIN: 'Radiant', NET: 'regtest' });
    expect((await run.exited).code).toBe(1);
    const line = run.events.find((event) => event.level === 'error');
    expect(String(line?.error)).toMatch(/genesis block is not Radiant regtest/);
    expect(String(line?.error)).toContain('check COIN and NET');

    // The fixed COIN starts on the same directory: the index holds no block yet, so it is taken.
    const fixed = startIndexer(indexerEnv(node, coin, dir));
    await fixed.waitFor(caughtUpAt(TIP), 60_000);
    const relabelled = fixed.events.find((event) => event.event === 'empty_index_relabelled');
    expect(relabelled).toMatchObject({ from: 'Radiant regtest', to: `${coin.name} ${coin.net}` });
    expect(await stopIndexer(fixed)).toBe(0);
  }, 60_000);
});
