// The admin commands on an index built by hand: query with mempool rows, refusals with clear
// messages, the Worker admin API missing or unreachable, and stop after the reply.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { RpcError } from '../core/protocol/errors.ts';
import {
  createAdminCommands,
  type AdminCommandDeps,
  type AdminCommands,
} from './admin-commands.ts';
import { openIndexDb, type IndexDb } from './db.ts';
import { configureLog } from './log.ts';

const coin = getCoin('BitcoinCash', 'regtest');

// Base58 (Bitcoin's alphabet), written out here so the address under test is not made by the
// code under test.
function base58(bytes: Buffer): string {
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let value = BigInt(`0x${bytes.toString('hex')}`);
  let text = '';
  for (; value > 0n; value /= 58n) text = `${alphabet[Number(value % 58n)] ?? ''}${text}`;
  for (const byte of bytes) {
    if (byte !== 0) break;
    text = `1${text}`;
  }
  return text;
}
const WORKER_TOKEN = 'worker-token-abcdefghijklmnop';
let dir: string;
let db: IndexDb;
let commands: AdminCommands | undefined;

beforeEach(() => {
  configureLog({ level: 'info', destination: { write: () => true } });
  dir = mkdtempSync(join(tmpdir(), 'admin-commands-'));
  db = openIndexDb(join(dir, 'index.db'), coin);
});

afterEach(() => {
  commands?.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function make(overrides: Partial<AdminCommandDeps> = {}): AdminCommands {
  commands = createAdminCommands({
    db,
    dbPath: join(dir, 'index.db'),
    coin,
    reorgLimit: 200,
    daemon: { reachability: 'ok' },
    daemonUrl: 'http://127.0.0.1:18443',
    daemonUser: 'rpc',
    nodeHeight: () => null,
    startedAtMs: Date.now() - 5_000,
    stop: () => {},
    ...overrides,
  });
  return commands;
}

async function call(name: string, ...params: unknown[]): Promise<unknown> {
  const handler = commands?.handlers[name];
  if (handler === undefined) throw new Error(`no handler ${name}`);
  return handler(params);
}

async function failure(name: string, ...params: unknown[]): Promise<RpcError> {
  const error = await call(name, ...params).catch((caught: unknown) => caught);
  if (!(error instanceof RpcError)) throw new Error(`${name} did not fail with an RpcError`);
  return error;
}

// 32 bytes from a label, so the test's expectations never come from the code under test.
const hash = (label: string): Buffer => createHash('sha256').update(label).digest();
const display = (bytes: Buffer): string => Buffer.from(bytes).reverse().toString('hex');

describe('admin commands', () => {
  it('reports a fresh index as starting, with the node state and uptime', async () => {
    make();
    expect(await call('getinfo')).toMatchObject({
      coin: 'BitcoinCash',
      net: 'regtest',
      height: -1,
      tip: null,
      sync: 'starting',
      node: 'ok',
      node_height: null,
      lag_blocks: null,
      mempool: { txs: 0, bytes: 0 },
      uptime_seconds: 5,
      remote: null,
    });
    expect(await call('daemon_url')).toBe('http://rpc@127.0.0.1:18443');
  });

  it('reports a block sync refuses, and the sync state again once it is over', async () => {
    const error = `block 7 ${'ab'.repeat(32)}: merkle root mismatch`;
    const sinceMs = Date.UTC(2026, 11, 5, 3, 0, 0);
    let rejection: ReturnType<NonNullable<AdminCommandDeps['rejection']>> = {
      height: 7,
      hash: 'ab'.repeat(32),
      error,
      sinceMs,
    };
    make({ nodeHeight: () => 9, rejection: () => rejection });
    expect(await call('getinfo')).toMatchObject({
      sync: 'block_rejected',
      node_height: 9,
      rejected_block: { height: 7, error, since: '2026-12-05T03:00:00.000Z' },
    });
    rejection = null;
    expect(await call('getinfo')).toMatchObject({ sync: 'syncing', rejected_block: null });
  });

  it('does not claim caught_up while the node does not answer', async () => {
    const daemon = { reachability: 'ok' };
    make({ daemon, nodeHeight: () => -1 });
    expect(await call('getinfo')).toMatchObject({ sync: 'caught_up', node: 'ok' });
    // The last poll's tip stays, as the last thing known of the node.
    daemon.reachability = 'down';
    expect(await call('getinfo')).toMatchObject({
      sync: 'node_unavailable',
      node: 'down',
      node_height: -1,
    });
    commands?.close();
    make({ daemon: { reachability: 'warming_up' } });
    expect(await call('getinfo')).toMatchObject({ sync: 'node_unavailable', node: 'warming_up' });
  });

  it('answers query from utxos and the mempool: balance, history, unspent outputs', async () => {
    const hashx = hash('script');
    const [txA, txB, memC, memD] = [hash('tx-a'), hash('tx-b'), hash('tx-c'), hash('tx-d')];
    const insert = (sql: string, ...args: unknown[]): void => {
      db.sqlite.prepare(sql).run(...args);
    };
    insert("INSERT INTO txs VALUES (0, ?, 5, 1, x'00')", txA);
    insert("INSERT INTO txs VALUES (1, ?, 7, 0, x'00')", txB);
    insert('INSERT INTO history VALUES (?, 0), (?, 1)', hashx, hashx);
    insert('INSERT INTO utxos VALUES (0, 1, ?, 9007199254740993, NULL)', hashx);
    insert('INSERT INTO utxos VALUES (1, 0, ?, 500, NULL)', hashx);
    // memC spends txB:0 and pays 120 back to the script; memD (unconfirmed parent) sorts after.
    insert("INSERT INTO mempool_txs VALUES (?, x'00', 10, 0, 150, 1)", memC);
    insert("INSERT INTO mempool_txs VALUES (?, x'00', 10, -1, 100, 1)", memD);
    insert('INSERT INTO mempool_history VALUES (?, ?), (?, ?)', hashx, memD, hashx, memC);
    insert('INSERT INTO mempool_spends VALUES (?, 0, ?, ?, 500)', txB, memC, hashx);
    insert('INSERT INTO mempool_outputs VALUES (?, 1, ?, 120, NULL)', memC, hashx);
    make();
    const answer = (await call('query', display(hashx))) as Record<string, unknown>;
    expect(answer).toEqual({
      script_hash: display(hashx),
      balance: { confirmed: 9007199254740993n + 500n, unconfirmed: 120n - 500n },
      history: [
        { tx_hash: display(txA), height: 5 },
        { tx_hash: display(txB), height: 7 },
        { tx_hash: display(memC), height: 0 },
        { tx_hash: display(memD), height: -1 },
      ],
      utxos: [
        { tx_hash: display(txA), tx_pos: 1, height: 5, value: 9007199254740993n },
        { tx_hash: display(memC), tx_pos: 1, height: 0, value: 120n },
      ],
      truncated: false,
    });
    expect(await call('getinfo')).toMatchObject({ mempool: { txs: 2, bytes: 250 } });
  });

  it('answers query for an address: the script hash of its output script', async () => {
    // DESIGN §3's worked example: P2PKH of the key Radiant's genesis coinbase pays has the script
    // hash 9932d8a6...03fd. Its address is base58check of version 0 and the hash160, made here.
    const hash160 = Buffer.from('4f9ab47a237441c0dc61dcd39fd92709f281b033', 'hex');
    const payload = Buffer.concat([Buffer.of(0), hash160]);
    const sha = (data: Buffer): Buffer => createHash('sha256').update(data).digest();
    const address = base58(Buffer.concat([payload, sha(sha(payload)).subarray(0, 4)]));
    const expected = '9932d8a64601168b894a4a2a4fbc72b3e71698a3c09e8010a6f297f7b9bc03fd';
    const hashx = Buffer.from(expected, 'hex').reverse();
    db.sqlite.prepare("INSERT INTO txs VALUES (0, ?, 5, 1, x'00')").run(hash('tx-a'));
    db.sqlite.prepare('INSERT INTO utxos VALUES (0, 0, ?, 700, NULL)').run(hashx);
    make({ coin: getCoin('Radiant', 'mainnet') });
    const answer = (await call('query', address)) as Record<string, unknown>;
    expect(answer).toMatchObject({ script_hash: expected, balance: { confirmed: 700n } });
    const typo = `${address.slice(0, -1)}${address.endsWith('z') ? 'y' : 'z'}`;
    expect((await failure('query', typo)).message).toBe(
      `${typo} is not a script hash (64 hex) or a Radiant mainnet address (bad base58check)`
    );
  });

  it('refuses bad arguments with messages naming the value', async () => {
    make();
    const notHash = await failure('query', 'not-a-hash');
    expect(notHash.message).toMatch(/^not-a-hash is not a script hash/);
    expect((await failure('log', 'loud')).message).toBe(
      'log level loud is not one of debug, info, warning, error'
    );
    const empty = await failure('reorg', 1);
    expect(empty.message).toBe('nothing to unwind: the index is at height -1');
    db.sqlite.exec('UPDATE chain_state SET height = 10 WHERE id = 0');
    const tooDeep = await failure('reorg', 11);
    expect(tooDeep.message).toBe('reorg count 11 must be an integer from 1 to 10');
    expect((await failure('reorg')).message).toBe('reorg needs the number of blocks, 1 to 10');
  });

  it('does not unwind while a flush is being written, or with txs_by_txid deferred', async () => {
    db.sqlite.exec('UPDATE chain_state SET height = 10 WHERE id = 0');
    make();
    const refusal = /in initial sync; try again once it has caught up/;
    db.sqlite.exec('BEGIN');
    try {
      expect((await failure('reorg', 2)).message).toMatch(refusal);
    } finally {
      db.sqlite.exec('ROLLBACK');
    }
    // As initial sync leaves it far behind the node (db.ts DEFERRED_INDEXES).
    db.sqlite.exec('DROP INDEX txs_by_txid');
    expect((await failure('reorg', 2)).message).toMatch(refusal);
  });

  it('needs the Worker admin API for sessions, groups, disconnect; hides its token', async () => {
    make();
    for (const name of ['sessions', 'groups', 'disconnect']) {
      const error = await failure(name, '1');
      expect([error.code, error.message]).toEqual([
        1,
        `${name} asks the Worker's admin API: set WORKER_ADMIN_URL and WORKER_ADMIN_TOKEN ` +
          "in the indexer's environment, then restart the indexer",
      ]);
    }
    commands?.close();
    const unreachable: typeof fetch = () => Promise.reject(new TypeError('connect ECONNREFUSED'));
    const workerAdmin = { url: 'http://127.0.0.1:9', secret: WORKER_TOKEN };
    make({ workerAdmin, fetch: unreachable });
    const error = await failure('sessions');
    const where = /^cannot reach the Worker's admin API at http:\/\/127\.0\.0\.1:9: /;
    expect(error.message).toMatch(where);
    expect(error.message).not.toContain(WORKER_TOKEN);
  });

  it('replies to stop before stopping', async () => {
    let stopped = 0;
    make({ stop: () => (stopped += 1) });
    expect(await call('stop')).toBe('stopping');
    expect(stopped).toBe(0);
    await new Promise((done) => setTimeout(done, 300));
    expect(stopped).toBe(1);
  });
});
