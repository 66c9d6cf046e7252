// `npm run demo`, the README's first command: ready line, the admin RPC line it prints works,
// Ctrl-C stops everything, and a busy port is refused before any indexing.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadChainFile } from '../tools/chain-file.ts';
import { freePort } from '../tools/stack.ts';
import { PROJECT_DIR } from './indexer-support.ts';
import { runCli } from './support/run-cli.ts';

const DEMO_TIMEOUT_MS = 120_000;
const started: ChildProcess[] = [];

afterAll(() => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
});

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

describe('npm run demo', () => {
  it('gets ready at the tip, prints a working admin RPC line, and stops on Ctrl-C', async () => {
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

    const port = await freePort();
    const bch = startDemo(port, ['--chain', 'data/bitcoincash_regtest_0-103.json']);
    const ready = await waitForText(bch.output, /ready in [\d.]+s: (\S+ \S+) at height (\d+)/);
    expect(ready.slice(1)).toEqual(['BitcoinCash regtest', '103']);
    bch.child.kill('SIGINT');
    expect(await exited(bch.child)).toBe(0);
  }, 180_000);
});
