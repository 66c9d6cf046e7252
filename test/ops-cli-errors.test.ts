// End to end: operator mistakes at the electrum-edge command and the indexer's start get a clear
// message and a documented exit code (1 failed, 2 usage or settings), never 70 or a raw errno.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../cli/doctor.ts';
import { startIndexer, tempDir } from './indexer-support.ts';
import { runCli } from './support/run-cli.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const RPC_ENV = { RPC_USER: 'cli-errors-operator', RPC_PASSWORD: 'cli-errors-pass-5e6f7a8b9c' };
// No admin RPC listens here: every case below must stop before any connection.
const run = (args: string[], env: Record<string, string> = {}) => runCli(args, env, 30_000);

// Settings the indexer accepts (checked by the last case), to vary one at a time.
function acceptedEnv(dir: string): Record<string, string> {
  return {
    COIN: 'Bitcoin',
    NET: 'regtest',
    DAEMON_URL: 'http://node:9e8d7c6b5a4f3e2d1c0b@127.0.0.1:18443',
    DB_DIRECTORY: dir,
    INDEX_SERVER_TOKEN: 'c0ffee12d00d4b1ea7e5aa90',
    RPC_USER: 'ops-7f3a',
    RPC_PASSWORD: '3f9c1e7a2b8d4c60a1e5f7b9',
  };
}

describe('electrum-edge exit codes', () => {
  it('a bad RPC_PORT: exit 2 naming RPC_PORT', async () => {
    const result = await run(['rpc', 'getinfo'], { ...RPC_ENV, RPC_PORT: 'abc' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('RPC_PORT must be a port');
    expect(result.stderr).toContain('"abc"');
  });

  it('a missing env file: exit 2, says it does not exist, no raw ENOENT', async () => {
    const dir = tempDir('cli-errors-');
    dirs.push(dir);
    const missing = join(dir, 'missing.env');
    const result = await run(['doctor', '--env', missing]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${missing} does not exist`);
    expect(result.stderr).not.toContain('ENOENT');
  });

  it('rpc reorg without a count: exit 2, says the count is missing', async () => {
    const result = await run(['rpc', 'reorg'], { ...RPC_ENV, RPC_PORT: '1' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('rpc reorg needs the number of blocks');
    expect(result.stderr).not.toContain('undefined');
  });

  it('restore of a backup that does not exist: exit 1, says so', async () => {
    const dir = tempDir('cli-errors-');
    dirs.push(dir);
    const result = await run(['restore', join(dir, 'nope.db'), '--db', join(dir, 'index.db')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the backup ${join(dir, 'nope.db')} does not exist`);
    expect(result.stderr).not.toContain('sha256');
  });

  it('restore while an indexer holds the lock: exit 1 naming its pid', async () => {
    const dir = tempDir('cli-errors-');
    dirs.push(dir);
    writeFileSync(join(dir, 'backup.db'), '');
    // This test process is alive: its pid in the lock stands for a running indexer.
    writeFileSync(join(dir, 'index.db.lock'), `${process.pid}\n`);
    const result = await run(['restore', join(dir, 'backup.db'), '--db', join(dir, 'index.db')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`is in use by the indexer (pid ${process.pid})`);
  });
});

describe('doctor runs the indexer config parser', () => {
  it('fails settings the indexer refuses (UTXO_CACHE_MB=abc, FLUSH_BLOCKS=0)', async () => {
    const dir = tempDir('cli-errors-');
    dirs.push(dir);
    for (const [name, value] of [
      ['UTXO_CACHE_MB', 'abc'],
      ['FLUSH_BLOCKS', '0'],
      ['COIN', 'bitcoin-nope'],
    ] as const) {
      const env = { ...acceptedEnv(dir), [name]: value };
      const checks = await runDoctor({ env, uid: 1000, now: new Date() });
      const line = checks.find((check) => check.item === 'indexer settings');
      expect(line?.status, name).toBe('fail');
      expect(line?.message, name).toContain(name === 'COIN' ? 'COIN/NET' : name);
    }
  });

  it('fails a DAEMON_URL without http://, saying it needs http://', async () => {
    const env = { ...acceptedEnv('/tmp/x'), DAEMON_URL: 'sim:pw-9e8d7c6b5a4f3e2d@127.0.0.1:1' };
    const checks = await runDoctor({ env, uid: 1000, now: new Date() });
    const daemon = checks.find((check) => check.item === 'DAEMON_URL');
    expect(daemon?.status).toBe('fail');
    expect(daemon?.message).toContain('http://');
    expect(daemon?.message).not.toContain('no credentials');
    expect(JSON.stringify(checks)).not.toContain('pw-9e8d7c6b5a4f3e2d');
  });

  it('passes the settings the indexer accepts', async () => {
    const checks = await runDoctor({ env: acceptedEnv('/tmp/x'), uid: 1000, now: new Date() });
    expect(checks.find((check) => check.item === 'indexer settings')?.status).toBe('pass');
  });
});

describe('indexer start', () => {
  it('a DAEMON_URL without http://: exit 2, says it needs http://', async () => {
    const dir = tempDir('cli-errors-');
    dirs.push(dir);
    const indexer = startIndexer({
      DAEMON_URL: 'sim:pw-9e8d7c6b5a4f3e2d@127.0.0.1:1',
      COIN: 'Bitcoin',
      NET: 'regtest',
      DB_DIRECTORY: dir,
    });
    expect((await indexer.exited).code).toBe(2);
    const text = indexer.output.join('\n');
    expect(text).toContain('DAEMON_URL must start with http:// or https://');
    expect(text).not.toContain('no credentials');
    expect(text).not.toContain('pw-9e8d7c6b5a4f3e2d');
  }, 30_000);
});

