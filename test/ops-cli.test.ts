// End to end: the electrum-edge launcher and its `rpc` client against a real admin RPC server.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../cli/io.ts';
import { main } from '../cli/main.ts';
import { RpcError } from '../core/protocol/errors.ts';
import { startAdminRpc, type AdminRpcServer } from '../indexer/admin-rpc.ts';
import { runCli } from './support/run-cli.ts';

const UNAUTHORIZED_SHOWN =
  'unauthorized: the indexer refused RPC_USER and RPC_PASSWORD (use the ones it runs with)';

const USER = 'cli-test-operator';
const PASSWORD = 'cli-test-password-1b2c3d4e';

const run = (args: string[], env: Record<string, string>) => runCli(args, env, 30_000);

describe('electrum-edge rpc', () => {
  let server: AdminRpcServer;
  const received: unknown[][] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startAdminRpc({
      port: 0,
      user: USER,
      password: PASSWORD,
      authFailureDelayMs: 0,
      handlers: {
        getinfo: () => ({ height: 1234, sessions: 2 }),
        disconnect: (params) => {
          received.push([...params]);
          return `disconnected ${params.length}`;
        },
        reorg: () => {
          throw new RpcError(1, 'count must be a positive integer');
        },
      },
    });
    env = {
      RPC_HOST: '127.0.0.1',
      RPC_PORT: String(server.port),
      RPC_USER: USER,
      RPC_PASSWORD: PASSWORD,
    };
  });

  afterAll(async () => {
    await server.close();
  });

  it('prints the result as JSON and exits 0', async () => {
    const result = await run(['rpc', 'getinfo'], env);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({ height: 1234, sessions: 2 });
  });

  it('sends JSON-looking arguments as JSON and the rest as strings', async () => {
    const result = await run(['rpc', 'disconnect', '12', 'all', '[1,2]', 'true'], env);
    expect(result.code).toBe(0);
    expect(received.at(-1)).toEqual([12, 'all', [1, 2], true]);
  });

  it('prints an error reply on stderr and exits 1', async () => {
    const result = await run(['rpc', 'reorg', '-3'], env);
    expect(result.code).toBe(1);
    const refused = { code: 1, message: 'count must be a positive integer' };
    expect(JSON.parse(result.stderr)).toEqual(refused);
    const unknown = await run(['rpc', 'frobnicate'], env);
    // The commands are the three handlers this file gives the server.
    const message = 'unknown method "frobnicate"; the commands: disconnect, getinfo, reorg';
    const notFound = { code: -32601, message };
    expect(JSON.parse(unknown.stderr)).toEqual(notFound);
  });

  it('reports wrong credentials without echoing them', async () => {
    const wrong = { ...env, RPC_PASSWORD: 'wrong-password-zzzzzzzz' };
    const result = await run(['rpc', 'getinfo'], wrong);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toEqual({ code: -32001, message: UNAUTHORIZED_SHOWN });
    expect(result.stderr + result.stdout).not.toContain('wrong-password');
  });

  it('refuses to run without credentials in the environment', async () => {
    const result = await run(['rpc', 'getinfo'], { RPC_PORT: String(server.port) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('RPC_USER and RPC_PASSWORD');
  });

  it('exits 2 when nothing listens, naming the address', async () => {
    const result = await run(['rpc', 'getinfo', '--port', '1'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('http://127.0.0.1:1');
    expect(result.stderr).toContain('is the indexer running? RPC_HOST and RPC_PORT');
  });
});

describe('electrum-edge usage', () => {
  it('prints usage: help exits 0, no command or an unknown one exits 2', async () => {
    const help = await run(['help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: electrum-edge/);
    expect((await run([], {})).code).toBe(2);
    const unknown = await run(['frob'], {});
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frob"');
  });

  it('rejects unknown options and missing arguments', async () => {
    const option = await run(['doctor', '--bogus'], {});
    expect(option.code).toBe(2);
    expect(option.stderr).toContain('unknown option --bogus');
    const restore = await run(['restore', 'x.db'], {});
    expect(restore.code).toBe(2);
    expect(restore.stderr).toContain('restore <file> [--db <path of the index>] (or DB_DIRECTORY)');
  });
});

describe('electrum-edge backup into BACKUP_DIRECTORY', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-cli-backup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names backups by time and keeps BACKUP_KEEP of them', async () => {
    const dbPath = join(dir, 'index.db');
    const db = new Database(dbPath);
    db.exec(
      'CREATE TABLE chain_state (id INTEGER PRIMARY KEY, coin TEXT, net TEXT, height INTEGER, ' +
        "tip_hash BLOB); INSERT INTO chain_state VALUES (0, 'Bitcoin', 'regtest', 0, NULL)"
    );
    db.close();
    let clock = new Date('2026-02-03T04:05:06.789Z');
    let out = '';
    const io: CliIo = {
      stdout: (text) => (out += text),
      stderr: (text) => (out += text),
      env: { BACKUP_DIRECTORY: join(dir, 'backups'), BACKUP_KEEP: '1', BACKUP_RETENTION_DAYS: '0' },
      uid: 1000,
      now: () => clock,
    };
    expect(await main(['backup', '--db', dbPath], io)).toBe(0);
    clock = new Date('2026-02-04T04:05:06.789Z');
    out = '';
    expect(await main(['backup', '--db', dbPath], io)).toBe(0);
    const result = JSON.parse(out) as { file: string; pruned: string[] };
    expect(result.file).toBe('index-20260204T040506Z.db');
    expect(result.pruned).toEqual([join(dir, 'backups', 'index-20260203T040506Z.db')]);
    expect(readdirSync(join(dir, 'backups')).sort()).toEqual([
      'index-20260204T040506Z.db',
      'index-20260204T040506Z.db.json',
      'index-20260204T040506Z.db.sha256',
    ]);
  });
});
