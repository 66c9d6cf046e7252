// `npm run demo`, the README's first command: ready line, the admin RPC line it prints works (with
// the Worker's admin API behind it), the index file it names exists, its pay, reorg and mine
// lines show a mempool tx and a reorg to an Electrum client, Ctrl-C stops everything, and a busy
// port is refused before any indexing.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadChainFile } from '../tools/chain-file.ts';
import { electrumCall, freePort } from '../tools/stack.ts';
import { PROJECT_DIR } from './indexer-support.ts';
import { runCli } from './support/run-cli.ts';

const DEMO_TIMEOUT_MS = 120_000;
const started: ChildProcess[] = [];

// A demo a failed test left running gets Ctrl-C first, so it stops the node, indexer and
// Worker it started (a SIGKILL would leave wrangler and workerd behind); SIGKILL after 15 s.
afterAll(async () => {
  const running = started.filter((child) => child.exitCode === null);
  await Promise.all(
    running.map(async (child) => {
      child.kill('SIGINT');
      const stopped = await Promise.race([
        exited(child).then(() => true),
        new Promise<boolean>((done) => setTimeout(() => done(false), 15_000)),
      ]);
      if (!stopped) child.kill('SIGKILL');
    })
  );
}, 30_000);

interface DemoRun {
  child: ChildProcess;
  output: () => string;
}

function startDemo(port: number, args: string[] = []): DemoRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/demo.ts', ...args], {
    cwd: PROJECT_DIR,
    env: { ...process.env, PORT: String(port) },
  });
  started.push(child);
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { child, output: () => text };
}

async function waitForText(output: () => string, pattern: RegExp): Promise<RegExpMatchArray> {
  const deadline = Date.now() + DEMO_TIMEOUT_MS;
  for (;;) {
    const found = output().match(pattern);
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${output()}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => child.once('exit', (code) => done(code)));
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** Runs one `npm run sim-node -- <args>` command the demo printed (without npm); its JSON. */
async function simNodeCommand(printed: string): Promise<unknown> {
  const args = printed.replace(/^npm run sim-node -- /, '').split(' ');
  const cli = ['--import', 'tsx', 'tools/sim-node-cli.ts', ...args];
  const { stdout } = await promisify(execFile)(process.execPath, cli, { cwd: PROJECT_DIR });
  return JSON.parse(stdout) as unknown;
}

/** Polls an Electrum call on `wsUrl` until `check` accepts its answer; returns that answer. */
async function answerWhen(
  wsUrl: string,
  method: string,
  params: unknown[],
  check: (answer: unknown) => boolean
): Promise<unknown> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await electrumCall(wsUrl, method, params);
    if (check(answer)) return answer;
    if (Date.now() > deadline) throw new Error(`${method}: still ${JSON.stringify(answer)}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

describe('npm run demo', () => {
  it('gets ready at the tip, its printed commands work, and it stops on Ctrl-C', async () => {
    const port = await freePort();
    const demo = startDemo(port);
    const ready = await waitForText(demo.output, /ready in [\d.]+s: .* at (ws:\/\/\S+)/);
    expect(ready[1]).toBe(`ws://127.0.0.1:${port}`);
    // The default chain is the bundled Bitcoin 0-255 file: its tip is its last index.
    const chain = loadChainFile(join(PROJECT_DIR, 'data/bitcoin_mainnet_0-255.json'));
    const line = await waitForText(demo.output, /admin RPC: +(.*) \.\/bin\/electrum-edge\.js/);
    const env = Object.fromEntries(
      (line[1] ?? '').split(' ').map((pair) => pair.split('=', 2) as [string, string])
    );
    const info = await runCli(['rpc', 'getinfo'], env);
    expect(info.stderr).toBe('');
    expect(JSON.parse(info.stdout)).toMatchObject({ height: chain.length - 1 });
    // The demo shares an admin token between its Worker and indexer: the indexer's `sessions`
    // reaches the Worker's admin API instead of failing for want of WORKER_ADMIN_URL.
    const sessions = await runCli(['rpc', 'sessions'], env);
    expect([sessions.code, sessions.stderr]).toEqual([0, '']);
    expect(JSON.parse(sessions.stdout)).toMatchObject({ sessions: expect.any(Array) });
    const indexFile = (await waitForText(demo.output, /index file: +(\S+\/index\.db) /))[1];
    expect(existsSync(indexFile ?? '')).toBe(true);

    // The printed commands show a mempool transaction, then a reorg that mines it.
    const wsUrl = ready[1] ?? '';
    const pay = (await waitForText(demo.output, /pay \(mempool\): (npm run sim-node -- .*)/))[1];
    const script = (pay ?? '').split(' --to ')[1] ?? '';
    const wallet = await waitForText(demo.output, /its wallet: +\S+scripthash=([0-9a-f]{64})/);
    // The Electrum script hash, computed here: sha256 of the script, shown reversed.
    const digest = createHash('sha256').update(Buffer.from(script, 'hex')).digest();
    const payee = Buffer.from(digest).reverse().toString('hex');
    expect(wallet[1]).toBe(payee);
    const txid = (await simNodeCommand(pay ?? '')) as string;
    const inMempool = [{ tx_hash: txid, height: 0, fee: 1000 }];
    const mempool = await answerWhen(wsUrl, 'blockchain.scripthash.get_mempool', [payee], (a) =>
      Array.isArray(a) && a.length > 0
    );
    expect(mempool).toEqual(inMempool);
    const reorg = (await waitForText(demo.output, /reorg: +(npm run sim-node -- .*)/))[1];
    const before = (await electrumCall(wsUrl, 'blockchain.headers.subscribe', [])) as {
      hex: string;
    };
    const replaced = (await simNodeCommand(reorg ?? '')) as string[];
    // Depth 2 and three new blocks: a new tip one higher; the payment (a mature coin) stays.
    expect(replaced).toHaveLength(3);
    const tip = (await answerWhen(wsUrl, 'blockchain.headers.subscribe', [], (a) => {
      return (a as { height: number }).height === chain.length;
    })) as { hex: string };
    expect(tip.hex).not.toBe(before.hex);
    expect(await electrumCall(wsUrl, 'blockchain.scripthash.get_mempool', [payee])).toEqual(
      inMempool
    );
    const mine = (await waitForText(demo.output, /mine a block: +(npm run sim-node -- .*)/))[1];
    await simNodeCommand(mine ?? '');
    const history = await answerWhen(wsUrl, 'blockchain.scripthash.get_history', [payee], (a) =>
      Array.isArray(a) && a.some((entry: { height: number }) => entry.height > 0)
    );
    expect(history).toEqual([{ tx_hash: txid, height: chain.length + 1 }]);

    demo.child.kill('SIGINT');
    expect(await exited(demo.child)).toBe(0);
    expect(await portAnswers(port)).toBe(false);
  }, 180_000);

  it('refuses a port in use before it indexes anything', async () => {
    const holder = createServer();
    const port = await new Promise<number>((done) => {
      holder.listen(0, '127.0.0.1', () => {
        const address = holder.address();
        done(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
    try {
      const demo = startDemo(port);
      expect(await exited(demo.child)).toBe(1);
      expect(demo.output()).toContain(`port ${port} is in use`);
      expect(demo.output()).not.toContain('simulated node:');
    } finally {
      holder.close();
    }
  }, 60_000);

  it('finds the coin from the chain file, refuses a --coin it does not start with', async () => {
    // The file is Radiant mainnet from genesis (data/SOURCES.md), whose hash is not Bitcoin's.
    const radiantAsBitcoin = ['--chain', 'data/radiant_mainnet_0-1.json', '--coin', 'Bitcoin'];
    const wrong = startDemo(await freePort(), radiantAsBitcoin);
    expect(await exited(wrong.child)).toBe(1);
    expect(wrong.output()).toMatch(/starts with the genesis block of Radiant mainnet, not Bitcoin/);

    // Radiant's two blocks: the printed reorg replaces the one block above genesis, and works.
    const radiant = startDemo(await freePort(), ['--chain', 'data/radiant_mainnet_0-1.json']);
    await waitForText(radiant.output, /ready in [\d.]+s: Radiant mainnet at height 1/);
    const reorg = (await waitForText(radiant.output, /reorg: +(npm run sim-node -- .*)/))[1];
    expect(reorg).toMatch(/--depth 1$/);
    expect((await simNodeCommand(reorg ?? '')) as string[]).toHaveLength(2);
    radiant.child.kill('SIGINT');
    expect(await exited(radiant.child)).toBe(0);

    const port = await freePort();
    const bch = startDemo(port, ['--chain', 'data/bitcoincash_regtest_0-103.json']);
    const ready = await waitForText(bch.output, /ready in [\d.]+s: (\S+ \S+) at height (\d+)/);
    expect(ready.slice(1)).toEqual(['BitcoinCash regtest', '103']);
    bch.child.kill('SIGINT');
    expect(await exited(bch.child)).toBe(0);
  }, 180_000);
});
