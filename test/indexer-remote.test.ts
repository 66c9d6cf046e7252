// End to end: an indexer with DB_URL writing through our Hrana server (made writable as a stand-in
// for sqld) ends with a remote index equal, table by table, to an independent local sync.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { startIndexServer, type IndexServer } from '../indexer/index-server/server.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { startSimNode, type SimNode } from '../tools/sim-node.ts';
import { freePort } from '../tools/stack.ts';
import {
  caughtUpAt,
  PROJECT_DIR,
  startIndexer,
  stopIndexer,
  tableDigests,
  TABLE_KEYS,
  tempDir,
  type IndexerRun,
} from './indexer-support.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const CHAIN = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
const NODE_PASSWORD = 'node-pass-2b4d6f8a0c1e';
const DB_TOKEN = 'remote-db-token-9e8d7c6b5a';
const ROOT_ENV: Record<string, string> = process.getuid?.() === 0 ? { ALLOW_ROOT: '1' } : {};

let node: SimNode;
let dir: string;
let remote: IndexServer;
const remotePath = (): string => join(dir, 'remote.db');
const runs: IndexerRun[] = [];

beforeAll(async () => {
  node = await startSimNode({ coin, blocks: CHAIN, user: 'rpc', password: NODE_PASSWORD });
  dir = tempDir('indexer-remote-');
  // An empty database in WAL mode, as a new sqld or Turso database starts.
  writeFileSync(remotePath(), '');
  const file = new Database(remotePath());
  file.pragma('journal_mode = WAL');
  file.close();
  remote = await startIndexServer({
    dbPath: remotePath(),
    host: '127.0.0.1',
    port: 0,
    authToken: DB_TOKEN,
    readOnly: false,
    readerThreads: 1,
    maxBodyBytes: 64 * 1_048_576,
    log: () => {},
  });
});

afterAll(async () => {
  for (const run of runs) {
    if ((await Promise.race([run.exited, Promise.resolve(null)])) === null) await stopIndexer(run);
  }
  await remote.close();
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

async function indexer(name: string, extra: Record<string, string> = {}): Promise<IndexerRun> {
  const run = startIndexer({
    DAEMON_URL: node.url,
    COIN: coin.name,
    NET: coin.net,
    DB_DIRECTORY: join(dir, name),
    FLUSH_BLOCKS: '10',
    RPC_PORT: String(await freePort()),
    RPC_USER: 'ops-remote-test',
    RPC_PASSWORD: 'admin-pass-3c5e7a9b1d2f',
    ...ROOT_ENV,
    ...extra,
  });
  runs.push(run);
  return run;
}

describe('an indexer with DB_URL', () => {
  it('leaves the remote equal to a local sync, through new blocks and a reorg', async () => {
    const mirrored = await indexer('mirrored', { DB_URL: remote.url, DB_AUTH_TOKEN: DB_TOKEN });
    const local = await indexer('local');
    const tip = (): ((event: Record<string, unknown>) => boolean) =>
      caughtUpAt(node.tipHeight(), node.tipHash());
    await Promise.all([mirrored.waitFor(tip(), 60_000), local.waitFor(tip(), 60_000)]);
    node.mine({ count: 2 });
    await Promise.all([mirrored.waitFor(tip()), local.waitFor(tip())]);
    node.reorgMine(node.tipHeight() - 1, 3);
    await Promise.all([mirrored.waitFor(tip()), local.waitFor(tip())]);
    // The reorg's hold on notices ends with the next mempool read (chain_state, both copies).
    const released = (event: Record<string, unknown>): boolean => event.event === 'notices_released';
    await Promise.all([mirrored.waitFor(released), local.waitFor(released)]);
    expect([await stopIndexer(mirrored), await stopIndexer(local)]).toEqual([0, 0]);

    const tables = Object.keys(TABLE_KEYS);
    const expected = tableDigests(join(dir, 'local', 'index.db'), tables);
    expect(expected['txs']).not.toMatch(/^0:/);
    expect(tableDigests(remotePath(), tables)).toEqual(expected);
    expect(tableDigests(join(dir, 'mirrored', 'index.db'), tables)).toEqual(expected);
    const events = mirrored.events.map((event) => event.event);
    expect(events).toEqual(expect.arrayContaining(['remote_index_created', 'remote_index_ready']));
    expect(mirrored.output.join('\n')).not.toContain(DB_TOKEN);
  });

  it('refuses to start when the remote holds another index than the working copy', async () => {
    const stranger = await indexer('stranger', { DB_URL: remote.url, DB_AUTH_TOKEN: DB_TOKEN });
    const { code } = await stranger.exited;
    expect(code).toBe(1);
    const refused = stranger.events.find((event) => event.event === 'remote_index_refused');
    expect(String(refused?.error)).toMatch(
      new RegExp(`remote index holds BitcoinCash regtest height ${node.tipHeight()} .* height -1`)
    );
    expect(stranger.events.some((event) => event.event === 'index_server_listening')).toBe(false);
  });
});
