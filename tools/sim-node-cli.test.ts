// Tests for `npm run sim-node`: serving a chain file on 127.0.0.1 and driving it from the client
// commands, as separate processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callNode } from './sim-node-client.ts';
import { chainBlocks, displayHex, sha512_256d } from './sim-node-testkit.ts';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const CLI = ['--import', 'tsx', 'tools/sim-node-cli.ts'];
const RADIANT_BLOCK_1 = '000000007dcdf37998c00a132c37b5f35143434aa02ef272e1ecf3cd8cbd180d';

let server: ChildProcess;
let url = '';

async function client(...args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, [...CLI, ...args], { cwd: ROOT, timeout: 30_000 });
  return JSON.parse(stdout) as unknown;
}

beforeAll(async () => {
  const serveArgs = ['--chain', 'data/radiant_mainnet_0-1.json', '--coin', 'Radiant'];
  server = spawn(process.execPath, [...CLI, ...serveArgs, '--port', '0', '--password', 'pw'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: server.stdout ?? process.stdin });
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('sim-node CLI did not start in 30 s')), 30_000);
    lines.on('line', (line) => {
      const match = /^sim-node listening: (\S+)$/.exec(line);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    server.once('exit', (code) => reject(new Error(`sim-node CLI exited with ${code}`)));
  });
});

afterAll(() => {
  if (server.pid !== undefined && server.exitCode === null) process.kill(server.pid, 'SIGTERM');
});

describe('sim-node CLI', () => {
  it('serves the chain file with the given password on loopback', async () => {
    expect(url).toMatch(/^http:\/\/sim:pw@127\.0\.0\.1:\d+$/);
    expect(await callNode(url, 'getbestblockhash')).toBe(RADIANT_BLOCK_1);
    const blocks = chainBlocks('data/radiant_mainnet_0-1.json');
    const header1 = Buffer.from((blocks[1] ?? '').slice(0, 160), 'hex');
    expect(displayHex(sha512_256d(header1))).toBe(RADIANT_BLOCK_1);
  });

  it('mines, reorgs and calls through the client commands', async () => {
    const mined = (await client('mine', '--url', url, '--count', '2', '--to', '51')) as string[];
    expect(mined).toHaveLength(2);
    expect(await callNode(url, 'getbestblockhash')).toBe(mined[1]);
    const replaced = (await client('reorg', '--url', url, '--depth', '1')) as string[];
    expect(replaced).toHaveLength(2);
    expect(await client('call', '--url', url, 'getblockcount')).toBe(4);
    const hashArg = JSON.stringify(replaced[0]);
    const header = (await client('call', '--url', url, 'getblockheader', hashArg)) as {
      previousblockhash: string;
      height: number;
    };
    expect(header).toMatchObject({ previousblockhash: mined[0], height: 3 });
  });

  it('pays a script from a coin of the chain into the mempool, then mines it', async () => {
    const script = '76a914' + '11'.repeat(20) + '88ac';
    const txid = (await client('pay', '--url', url, '--to', script, '--value', '5000')) as string;
    expect(await callNode(url, 'getrawmempool')).toEqual([txid]);
    const tx = (await callNode(url, 'getrawtransaction', [txid, true])) as {
      vin: { txid: string; vout: number }[];
      vout: { value: number; scriptPubKey: { hex: string } }[];
    };
    expect(tx.vout[0]).toMatchObject({ value: 0.00005, scriptPubKey: { hex: script } });
    // It spends a coinbase output of the chain.
    const source = (await callNode(url, 'getrawtransaction', [tx.vin[0]?.txid, true])) as {
      vin: { coinbase?: string }[];
    };
    expect(source.vin[0]?.coinbase).toBeDefined();
    // A second payment takes another coin: both stay in the mempool.
    const second = (await client('pay', '--url', url, '--to', script)) as string;
    const pooled = (await callNode(url, 'getrawmempool')) as string[];
    expect([...pooled].sort()).toEqual([txid, second].sort());
    await client('mine', '--url', url);
    expect(await callNode(url, 'getrawmempool')).toEqual([]);
    const refused = await run(process.execPath, [...CLI, 'pay', '--url', url, '--to', 'zz'], {
      cwd: ROOT,
    }).catch((error: { code: number; stderr: string }) => error);
    const { stderr } = refused as { stderr: string };
    expect(stderr).toContain('script must be non-empty even-length hex');
  });

  it('refuses a reorg depth below 1 or not whole, with one line and nothing mined', async () => {
    const height = await callNode(url, 'getblockcount');
    const refusals: [string, string][] = [
      ['0', 'sim-node: --depth must be at least 1 (blocks to replace), got 0\n'],
      ['1.5', 'sim-node: --depth must be a whole number, got "1.5"\n'],
    ];
    for (const [depth, message] of refusals) {
      const args = [...CLI, 'reorg', '--url', url, '--depth', depth];
      const refused = await run(process.execPath, args, { cwd: ROOT }).catch(
        (error: { code: number; stderr: string }) => error
      );
      expect(refused).toMatchObject({ code: 1, stderr: message });
    }
    expect(await callNode(url, 'getblockcount')).toBe(height);
  });

  it('reports a node error and prints usage on --help', async () => {
    const failed = await run(process.execPath, [...CLI, 'send', '--url', url, 'zz'], {
      cwd: ROOT,
    }).catch((error: { code: number; stderr: string }) => error);
    expect('code' in failed && failed.code).toBe(1);
    expect((failed as { stderr: string }).stderr).toContain('TX decode failed');
    const wrongPassword = url.replace(':pw@', ':nope@');
    const refused = await run(process.execPath, [...CLI, 'mine', '--url', wrongPassword], {
      cwd: ROOT,
    }).catch((error: { code: number; stderr: string }) => error);
    expect((refused as { stderr: string }).stderr).toContain('wrong user or password');
    const unquoted = await run(process.execPath, [...CLI, 'call', '--url', url, 'getblock', 'ab'], {
      cwd: ROOT,
    }).catch((error: { code: number; stderr: string }) => error);
    expect((unquoted as { stderr: string }).stderr).toContain(`parameter 1 (ab) is not JSON`);
    const { stdout } = await run(process.execPath, [...CLI, '--help'], { cwd: ROOT });
    expect(stdout).toContain('npm run sim-node -- mine --url URL');
  });

  it('serves a chain file as the coin whose genesis block it starts with', async () => {
    // Bitcoin mainnet 0-255 (data/SOURCES.md); its genesis hash is Bitcoin's (and Bitcoin
    // Cash's: Bitcoin comes first, as in the demo).
    const args = ['--chain', 'data/bitcoin_mainnet_0-255.json', '--port', '0'];
    const bitcoin = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT });
    try {
      const lines = createInterface({ input: bitcoin.stdout ?? process.stdin });
      const coinLine = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no coin line in 30 s')), 30_000);
        lines.on('line', (line) => {
          if (!/ tip \d+ /.test(line)) return;
          clearTimeout(timer);
          resolve(line);
        });
      });
      expect(coinLine).toMatch(/^Bitcoin mainnet, tip 255 [0-9a-f]{64}$/);
    } finally {
      bitcoin.kill('SIGTERM');
    }
  });
});
