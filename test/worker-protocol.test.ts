// End to end: the Worker under `wrangler dev` answering over WebSocket and HTTP from a real index.
// The Worker (Session Durable Objects, POST /rpc) reads the index through the real Hrana index
// server. The index is written here through migrations/ with rows from an independent reading of
// the Bitcoin Cash regtest chain file (test/support), plus synthetic mempool, large-value and fee
// rows; every expected answer comes from that reading, the rows written, or the protocol docs.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ElectrumClient,
  type ElectrumClientEvents,
  type RPCNotification,
} from '@electrum-cash/network';
import { ElectrumWebSocket } from '@electrum-cash/web-socket';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexServer } from '../indexer/index-server/server.ts';
import {
  freePort,
  startWrangler,
  waitForWorkerHealth,
  type WranglerProcess,
} from '../tools/stack.ts';
import {
  openRpcSession,
  type ErrorJson as RpcErrorJson,
  type ReplyJson as Reply,
  type RpcSession,
} from './support/frame-socket.ts';
import { startLoopbackIndexServer, writeMigratedIndex } from './support/local-index.ts';
import {
  readReferenceChain,
  referenceBranch,
  referenceStatus,
  type ReferenceChain,
  type ReferenceOutput,
} from './support/reference-chain.ts';

const PROJECT_DIR = resolve(import.meta.dirname, '..');
const CHAIN_FILE = join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json');
const TIP_HEIGHT = 103;
const START_TIMEOUT_MS = 90_000;
// data/SOURCES.md: Bitcoin Cash regtest; the genesis hash is Bitcoin Core's regtest one
// (chainparams.cpp), which block 0 of the file must hash to.
const REGTEST_GENESIS = '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206';

// ---------------------------------------------------------------------------------------------
// The index, written from the reference reading.

function internal(displayHex: string): Buffer {
  return Buffer.from(displayHex, 'hex').reverse();
}

function display(internalBytes: Buffer): string {
  return Buffer.from(internalBytes).reverse().toString('hex');
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Synthetic rows the chain does not have: mempool txs, a huge UTXO, fee estimates. */
interface Synthetic {
  /** A script hash with confirmed outputs whose first output a mempool tx spends. */
  spender: string;
  spent: ReferenceOutput;
  /** A script hash seen only in the mempool (three txs: heights 0, 0, -1). */
  fresh: string;
  mempool: { txid: string; height: number; fee: bigint; raw: Buffer; value: bigint }[];
  /** A script hash holding one output worth more than 2^53. */
  whale: string;
  whaleValue: bigint;
}

function writeChain(db: Database.Database, chain: ReferenceChain): Map<string, number> {
  const txNums = new Map<string, number>();
  const insertHeader = db.prepare('INSERT INTO headers VALUES (?, ?, ?, ?, ?)');
  const insertTx = db.prepare('INSERT INTO txs VALUES (?, ?, ?, ?, ?)');
  let txNum = 0;
  chain.headers.forEach((header, height) => {
    // The genesis coinbase is not indexed (DESIGN §3, core/schema.ts): tx_count 0.
    const txids = height === 0 ? [] : (chain.blockTxids[height] ?? []);
    const hash = internal(chain.blockHashes[height] ?? '');
    insertHeader.run(height, hash, header, txNum, txids.length);
    txids.forEach((txid, position) => {
      const tx = chain.txs.get(txid);
      if (tx === undefined) throw new Error(`reference lacks tx ${txid}`);
      insertTx.run(txNum, internal(txid), height, position, tx.raw);
      txNums.set(txid, txNum++);
    });
  });
  const insertHistory = db.prepare('INSERT INTO history VALUES (?, ?)');
  const insertStatus = db.prepare('INSERT INTO status VALUES (?, ?, NULL, ?)');
  for (const [scriptHash, history] of chain.history) {
    for (const item of history) insertHistory.run(internal(scriptHash), txNums.get(item.txHash));
    const status = referenceStatus(history);
    const statusBytes = status === null ? null : Buffer.from(status, 'hex');
    insertStatus.run(internal(scriptHash), statusBytes, history.length);
  }
  const insertUtxo = db.prepare('INSERT INTO utxos VALUES (?, ?, ?, ?, NULL)');
  for (const [scriptHash, outputs] of chain.unspent) {
    for (const output of outputs) {
      insertUtxo.run(txNums.get(output.txid), output.vout, internal(scriptHash), output.value);
    }
  }
  const tipHash = internal(chain.blockHashes[TIP_HEIGHT] ?? '');
  const chainState =
    'INSERT INTO chain_state (id, coin, net, height, tip_hash, tx_count, ' +
    'last_change_seq, relay_fee) VALUES (0, ?, ?, ?, ?, ?, 0, ?)';
  db.prepare(chainState).run(
    'BitcoinCash',
    'regtest',
    TIP_HEIGHT,
    tipHash,
    txNum,
    0.00001
  );
  return txNums;
}

function writeSynthetic(
  db: Database.Database,
  chain: ReferenceChain,
  txNums: Map<string, number>
): Synthetic {
  const spenderEntry = [...chain.unspent].find(([, outputs]) => outputs.length >= 2);
  if (spenderEntry === undefined) throw new Error('chain has no script hash with two outputs');
  const [spender, outputs] = spenderEntry;
  const spent = outputs[0] as ReferenceOutput;
  const fresh = display(sha256(Buffer.from('electrum-edge test: fresh script')));
  const whale = display(sha256(Buffer.from('electrum-edge test: whale script')));
  // Display txids chosen so that the protocol order (height 0 first, then display hex) differs
  // from both insertion order and internal-byte order.
  const mempoolTx = (txid: string, height: number, fee: bigint, value: bigint) => {
    // The Worker never parses mempool raw bytes, so any distinct bytes do.
    return { txid, height, fee, raw: Buffer.from(`01000000${txid.slice(0, 4)}`, 'hex'), value };
  };
  const mempool = [
    mempoolTx(`00${'aa'.repeat(31)}`, -1, 300n, 7_000n),
    mempoolTx(`ff${'01'.repeat(31)}`, 0, 200n, 5_000n),
    mempoolTx(`11${'02'.repeat(31)}`, 0, 100n, 3_000n),
  ];
  const insertMempoolTx = db.prepare('INSERT INTO mempool_txs VALUES (?, ?, ?, ?, ?, 1700000000)');
  const insertMempoolHistory = db.prepare('INSERT INTO mempool_history VALUES (?, ?)');
  const insertOutput = db.prepare('INSERT INTO mempool_outputs VALUES (?, 0, ?, ?, NULL)');
  for (const tx of mempool) {
    insertMempoolTx.run(internal(tx.txid), tx.raw, tx.fee, tx.height, tx.raw.length);
    insertMempoolHistory.run(internal(fresh), internal(tx.txid));
    insertOutput.run(internal(tx.txid), internal(fresh), tx.value);
  }
  // The second mempool tx spends the spender's first confirmed output.
  const spendTx = mempool[1];
  if (spendTx === undefined) throw new Error('no mempool tx');
  insertMempoolHistory.run(internal(spender), internal(spendTx.txid));
  db.prepare('INSERT INTO mempool_spends VALUES (?, ?, ?, ?, ?)').run(
    internal(spent.txid),
    spent.vout,
    internal(spendTx.txid),
    internal(spender),
    spent.value
  );
  const whaleValue = 2n ** 60n + 1n;
  const anyTxNum = txNums.get(spent.txid);
  const insertWhale = db.prepare('INSERT INTO utxos VALUES (?, 77, ?, ?, NULL)');
  insertWhale.run(anyTxNum, internal(whale), whaleValue);
  const insertFee = db.prepare('INSERT INTO fee_estimates VALUES (?, ?)');
  for (const [target, rate] of [[1, 0.0002], [2, 0.00015], [6, 0.0001], [25, -1]] as const) {
    insertFee.run(target, rate);
  }
  return { spender, spent, fresh, mempool, whale, whaleValue };
}

function buildIndex(dbPath: string, chain: ReferenceChain): Synthetic {
  return writeMigratedIndex(dbPath, (db) => writeSynthetic(db, chain, writeChain(db, chain)));
}

// ---------------------------------------------------------------------------------------------
// Processes: the index server in this process, the Worker under wrangler dev as a child.

function startWorker(port: number, indexUrl: string, token: string, stateDir: string) {
  const vars = {
    LIBSQL_URL: indexUrl,
    LIBSQL_AUTH_TOKEN: token,
    COIN: 'BitcoinCash',
    NET: 'regtest',
    DONATION_ADDRESS: 'bchreg:qtestdonation',
  };
  return startWrangler({ port, stateDir, logDir: join(stateDir, 'logs'), vars });
}

// ---------------------------------------------------------------------------------------------
// Clients: a raw WebSocket that sees frames exactly as sent, and HTTP.

/** A raw session whose calls also check that each reply echoes its request's id. */
async function openRaw(
  port: number
): Promise<RpcSession & { exchangeBinary(bytes: Buffer): Promise<string> }> {
  const session = await openRpcSession(`ws://127.0.0.1:${port}/`);
  const call = async (method: string, params?: unknown): Promise<Reply> => {
    const { sentId, reply } = await session.request(method, params);
    expect(reply.id).toBe(sentId);
    return reply;
  };
  return {
    ...session,
    exchangeBinary: (bytes) => session.exchange(bytes),
    call,
    result: async (method, params) => (await call(method, params)).result,
    failure: async (method, params) => (await call(method, params)).error,
  };
}

async function postRpc(port: number, body: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/rpc`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body,
  });
}

function sumValues(outputs: readonly { value: bigint }[]): bigint {
  return outputs.reduce((total, output) => total + output.value, 0n);
}

function rpcError(code: number, message: string): RpcErrorJson {
  return { code, message };
}

// ---------------------------------------------------------------------------------------------

let chain: ReferenceChain;
let synthetic: Synthetic;
let workDir = '';
let indexServer: IndexServer | undefined;
let worker: WranglerProcess | undefined;
let port = 0;

beforeAll(async () => {
  const blocks = (JSON.parse(readFileSync(CHAIN_FILE, 'utf8')) as { blocks: string[] }).blocks;
  chain = readReferenceChain(blocks, 'sha256d');
  workDir = mkdtempSync(join(tmpdir(), 'worker-protocol-'));
  const dbPath = join(workDir, 'index.db');
  synthetic = buildIndex(dbPath, chain);
  const served = await startLoopbackIndexServer(dbPath);
  indexServer = served.server;
  port = await freePort();
  worker = await startWorker(port, indexServer.url, served.token, join(workDir, 'wrangler'));
  await waitForWorkerHealth(worker, START_TIMEOUT_MS);
}, START_TIMEOUT_MS + 30_000);

afterAll(async () => {
  try {
    await worker?.stop();
  } finally {
    await indexServer?.close();
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  }
});

describe('HTTP routes', () => {
  it('names the server on GET / and reports the index tip on /health', async () => {
    const home = await fetch(`http://127.0.0.1:${port}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('electrum-edge');
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(await health.json()).toMatchObject({
      ok: true,
      coin: 'BitcoinCash',
      net: 'regtest',
      height: TIP_HEIGHT,
    });
  });

  it('answers POST /rpc singly and in batches, with CORS, and refuses subscriptions', async () => {
    const single = await postRpc(
      port,
      '{"jsonrpc":"2.0","id":"h","method":"blockchain.block.header","params":[1]}'
    );
    expect(single.status).toBe(200);
    expect(single.headers.get('access-control-allow-origin')).toBe('*');
    expect(await single.json()).toEqual({
      jsonrpc: '2.0',
      result: chain.headers[1]?.toString('hex'),
      id: 'h',
    });
    const batch = await postRpc(
      port,
      JSON.stringify([
        { id: 1, method: 'server.version', params: ['http-test', '1.4.2'] },
        { id: 2, method: 'blockchain.scripthash.subscribe', params: [synthetic.fresh] },
        { id: 3, method: 'blockchain.headers.subscribe' },
        { method: 'server.ping' },
      ])
    );
    const refusal = (method: string) =>
      rpcError(1, `${method} needs a WebSocket session; it is not available over HTTP`);
    expect(await batch.json()).toEqual([
      { jsonrpc: '2.0', result: ['electrum-edge 0.1.0', '1.4.2'], id: 1 },
      { jsonrpc: '2.0', error: refusal('blockchain.scripthash.subscribe'), id: 2 },
      { jsonrpc: '2.0', error: refusal('blockchain.headers.subscribe'), id: 3 },
    ]);
    const notification = await postRpc(port, '{"jsonrpc":"2.0","method":"server.ping"}');
    expect(notification.status).toBe(204);
    const invalid = await postRpc(port, '{"id":');
    expect(await invalid.json()).toEqual({
      jsonrpc: '2.0',
      error: rpcError(-32700, 'invalid JSON'),
      id: null,
    });
  });

  it('refuses bodies over MAX_RECV, with or without Content-Length', async () => {
    const body = `{"id":1,"method":"server.ping","params":["${'a'.repeat(1_000_001)}"]}`;
    const expected = {
      jsonrpc: '2.0',
      error: rpcError(-32600, 'request too large (over 1,000,000 bytes)'),
      id: null,
    };
    const declared = await postRpc(port, body);
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual(expected);
    const chunks = [body.slice(0, 600_000), body.slice(600_000)];
    const streamed = await fetch(`http://127.0.0.1:${port}/rpc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: new ReadableStream({
        pull(controller) {
          const chunk = chunks.shift();
          if (chunk === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(chunk));
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toEqual(expected);
  });

  it('answers the CORS preflight of /rpc', async () => {
    const preflight = await fetch(`http://127.0.0.1:${port}/rpc`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://wallet.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('answers another method on /rpc with 405 and Allow: POST', async () => {
    for (const method of ['GET', 'PUT']) {
      const response = await fetch(`http://127.0.0.1:${port}/rpc`, { method });
      expect([method, response.status, response.headers.get('allow')]).toEqual([
        method,
        405,
        'POST',
      ]);
      expect(await response.text()).toBe('POST JSON-RPC to /rpc\n');
    }
  });
});

describe('WebSocket framing and errors', () => {
  it('negotiates the version once and keeps the session open after errors', async () => {
    const session = await openRaw(port);
    try {
      expect(await session.result('server.version', ['raw-test', ['1.4', '1.4.2']])).toEqual([
        'electrum-edge 0.1.0',
        '1.4.2',
      ]);
      expect(await session.failure('server.version', ['raw-test', '1.4'])).toEqual(
        rpcError(1, 'server.version already sent')
      );
      expect(await session.failure('blockchain.block.header', [])).toEqual(
        rpcError(-32602, '0 arguments passed to method "blockchain.block.header" but it requires 1')
      );
      expect(await session.failure('no.such.method')).toEqual(
        rpcError(-32601, 'unknown method "no.such.method"')
      );
      expect(await session.result('server.ping')).toBeNull();
    } finally {
      session.close();
    }
  });

  it('echoes ids with their JSON type, one JSON value per frame, no newline', async () => {
    const session = await openRaw(port);
    try {
      for (const id of [0, 'abc', null, 12.5]) {
        const request = JSON.stringify({ id, method: 'server.ping', params: [] });
        const frame = await session.exchange(`${request}\n`);
        expect(frame.endsWith('\n')).toBe(false);
        expect(JSON.parse(frame)).toEqual({ jsonrpc: '2.0', result: null, id });
      }
      // A notification gets no reply: the next frame is the answer to the request after it.
      session.send('{"jsonrpc":"2.0","method":"server.ping","params":[]}');
      expect(JSON.parse(await session.exchange('{"id":"after","method":"server.ping"}'))).toEqual({
        jsonrpc: '2.0',
        result: null,
        id: 'after',
      });
    } finally {
      session.close();
    }
  });

  it('answers batches in order with per-item errors', async () => {
    const session = await openRaw(port);
    try {
      const frame = await session.exchange(
        JSON.stringify([
          { jsonrpc: '2.0', id: 1, method: 'server.ping' },
          { jsonrpc: '2.0', method: 'server.ping' },
          { jsonrpc: '2.0', id: 2, method: 'blockchain.block.header', params: ['x'] },
          { jsonrpc: '2.0', id: true, method: 'server.ping' },
          { jsonrpc: '2.0', id: 3, method: 'nope' },
        ])
      );
      expect(JSON.parse(frame)).toEqual([
        { jsonrpc: '2.0', result: null, id: 1 },
        { jsonrpc: '2.0', error: rpcError(1, 'x should be a non-negative integer'), id: 2 },
        { jsonrpc: '2.0', error: rpcError(-32600, 'invalid "id": true'), id: null },
        { jsonrpc: '2.0', error: rpcError(-32601, 'unknown method "nope"'), id: 3 },
      ]);
    } finally {
      session.close();
    }
  });

  it('answers whole-message errors with id null and stays open', async () => {
    const session = await openRaw(port);
    const expectError = async (text: string, code: number, message: string) => {
      const reply = JSON.parse(await session.exchange(text)) as unknown;
      expect(reply).toEqual({ jsonrpc: '2.0', error: rpcError(code, message), id: null });
    };
    try {
      await expectError('[]', -32600, 'batch is empty');
      await expectError('{"id":1,"method":', -32700, 'invalid JSON');
      await expectError('"text"', -32600, 'request object must be a dictionary');
      const padded = `{"id":9,"method":"server.ping","params":["${'a'.repeat(1_000_001)}"]}`;
      await expectError(padded, -32600, 'request too large (over 1,000,000 bytes)');
      const notUtf8 = await session.exchangeBinary(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
      expect(JSON.parse(notUtf8)).toEqual({
        jsonrpc: '2.0',
        error: rpcError(-32700, 'messages must be encoded in UTF-8'),
        id: null,
      });
      const binary = await session.exchangeBinary(Buffer.from('{"id":5,"method":"server.ping"}'));
      expect(JSON.parse(binary)).toEqual({ jsonrpc: '2.0', result: null, id: 5 });
      expect(await session.result('server.ping')).toBeNull();
    } finally {
      session.close();
    }
  });

  it('closes the session after refusing an unsupported protocol version', async () => {
    const session = await openRaw(port);
    expect(await session.failure('server.version', ['old-wallet', '1.2'])).toEqual(
      rpcError(1, 'unsupported protocol version: 1.2')
    );
    expect((await session.closed).code).toBe(1008);
  });
});

describe('chain answers against the reference reading', () => {
  it('serves features, banner, donation address, peers and fees', async () => {
    expect(chain.blockHashes[0]).toBe(REGTEST_GENESIS);
    const session = await openRaw(port);
    try {
      expect(await session.result('server.features')).toEqual({
        genesis_hash: REGTEST_GENESIS,
        hosts: {},
        protocol_max: '1.6',
        protocol_min: '1.4',
        pruning: null,
        server_version: 'electrum-edge 0.1.0',
        hash_function: 'sha256',
      });
      expect(await session.result('server.banner')).toContain('BitcoinCash regtest');
      expect(await session.result('server.donation_address')).toBe('bchreg:qtestdonation');
      expect(await session.result('server.peers.subscribe')).toEqual([]);
      expect(await session.result('server.add_peer', [{}])).toBe(false);
      expect(await session.result('blockchain.relayfee')).toBe(0.00001);
      // fee_estimates rows written above: 1, 2, 6 and 25 (-1) blocks.
      expect(await session.result('blockchain.estimatefee', [1])).toBe(0.0002);
      expect(await session.result('blockchain.estimatefee', [5])).toBe(0.00015);
      expect(await session.result('blockchain.estimatefee', [1000])).toBe(-1);
      expect(await session.result('blockchain.estimatefee', [0])).toBe(-1);
      expect(await session.result('mempool.get_fee_histogram')).toEqual([]);
    } finally {
      session.close();
    }
  });

  it('serves the tip, single headers, chunks, and out-of-range errors', async () => {
    const session = await openRaw(port);
    const hex = (height: number): string => chain.headers[height]?.toString('hex') ?? '';
    try {
      expect(await session.result('blockchain.headers.subscribe')).toEqual({
        hex: hex(TIP_HEIGHT),
        height: TIP_HEIGHT,
      });
      expect(await session.result('blockchain.block.header', [0])).toBe(hex(0));
      expect(await session.result('blockchain.block.header', ['57'])).toBe(hex(57));
      expect(await session.failure('blockchain.block.header', [TIP_HEIGHT + 1])).toEqual(
        rpcError(1, 'height 104 out of range')
      );
      expect(await session.failure('blockchain.block.header', [1_000_000])).toEqual(
        rpcError(1, 'height 1,000,000 out of range')
      );
      expect(await session.result('blockchain.block.headers', [100, 10])).toEqual({
        hex: [100, 101, 102, 103].map(hex).join(''),
        count: 4,
        max: 2016,
      });
      expect(await session.result('blockchain.block.headers', [0, 5000])).toEqual({
        hex: chain.headers.map((header) => header.toString('hex')).join(''),
        count: TIP_HEIGHT + 1,
        max: 2016,
      });
      expect(await session.result('blockchain.block.headers', [200, 3])).toEqual({
        hex: '',
        count: 0,
        max: 2016,
      });
      expect(await session.failure('blockchain.block.headers', [-1, 3])).toEqual(
        rpcError(1, '-1 should be a non-negative integer')
      );
    } finally {
      session.close();
    }
  });

  it('serves raw txs, merkle proofs and txids by position', async () => {
    const session = await openRaw(port);
    try {
      for (const height of [1, 102, TIP_HEIGHT]) {
        const txids = chain.blockTxids[height] ?? [];
        for (const [pos, txid] of txids.entries()) {
          const raw = chain.txs.get(txid)?.raw.toString('hex');
          expect(await session.result('blockchain.transaction.get', [txid])).toBe(raw);
          const merkle = referenceBranch(txids, pos);
          expect(await session.result('blockchain.transaction.get_merkle', [txid, height])).toEqual(
            { block_height: height, merkle, pos }
          );
          const byPos = 'blockchain.transaction.id_from_pos';
          expect(await session.result(byPos, [height, pos])).toBe(txid);
          const proved = await session.result(byPos, [height, pos, true]);
          expect(proved).toEqual({ tx_hash: txid, merkle });
        }
      }
    } finally {
      session.close();
    }
  });

  it('refuses txs outside their block, positions past its end and unknown txids', async () => {
    const session = await openRaw(port);
    try {
      const tipTxid = chain.blockTxids[TIP_HEIGHT]?.[3] ?? '';
      expect(await session.failure('blockchain.transaction.get_merkle', [tipTxid, 102])).toEqual(
        rpcError(1, `tx ${tipTxid} not in block at height 102`)
      );
      expect(await session.failure('blockchain.transaction.get_merkle', [tipTxid, 5000])).toEqual(
        rpcError(1, 'height 5,000 out of range')
      );
      const pastEnd = rpcError(1, 'no tx at position 4 in block at height 103');
      const byPos = 'blockchain.transaction.id_from_pos';
      expect(await session.failure(byPos, [TIP_HEIGHT, 4])).toEqual(pastEnd);
      expect(await session.failure(byPos, [TIP_HEIGHT, 4, true])).toEqual(pastEnd);
      // The genesis coinbase is not indexed, yet its txid is the genesis merkle root.
      expect(await session.result(byPos, [0, 0, true])).toEqual({
        tx_hash: chain.blockTxids[0]?.[0],
        merkle: [],
      });
      const unknown = await session.failure('blockchain.transaction.get', ['ab'.repeat(32)]);
      expect(unknown?.code).toBe(2);
      expect(unknown?.message).toContain('No such mempool or blockchain transaction');
      const verbose = (await session.result('blockchain.transaction.get', [tipTxid, true])) as {
        txid: string;
        hex: string;
        blockhash: string;
      };
      expect(verbose.txid).toBe(tipTxid);
      expect(verbose.hex).toBe(chain.txs.get(tipTxid ?? '')?.raw.toString('hex'));
      expect(verbose.blockhash).toBe(chain.blockHashes[TIP_HEIGHT]);
      expect(await session.failure('blockchain.transaction.get', ['zz'])).toEqual(
        rpcError(1, 'zz should be a transaction hash')
      );
      const mempoolTx = synthetic.mempool[0];
      expect(await session.result('blockchain.transaction.get', [mempoolTx?.txid])).toBe(
        mempoolTx?.raw.toString('hex')
      );
    } finally {
      session.close();
    }
  });

  it('serves history, balance, unspent outputs and status of every script hash', async () => {
    const session = await openRaw(port);
    try {
      for (const [scriptHash, history] of chain.history) {
        if (scriptHash === synthetic.spender) continue;
        const unspent = chain.unspent.get(scriptHash) ?? [];
        const params = [scriptHash];
        expect(await session.result('blockchain.scripthash.get_history', params)).toEqual(
          history.map((item) => ({ tx_hash: item.txHash, height: item.height }))
        );
        expect(await session.result('blockchain.scripthash.get_balance', params)).toEqual({
          confirmed: Number(sumValues(unspent)),
          unconfirmed: 0,
        });
        expect(await session.result('blockchain.scripthash.listunspent', params)).toEqual(
          unspent.map((output) => ({
            tx_hash: output.txid,
            tx_pos: output.vout,
            height: output.height,
            value: Number(output.value),
          }))
        );
        expect(await session.result('blockchain.scripthash.get_mempool', params)).toEqual([]);
        const status = referenceStatus(history);
        expect(await session.result('blockchain.scripthash.subscribe', params)).toBe(status);
      }
    } finally {
      session.close();
    }
  });

  it('subscribes to unknown script hashes, unsubscribes once, and refuses bad ones', async () => {
    const session = await openRaw(port);
    try {
      const never = ['cd'.repeat(32)];
      expect(await session.result('blockchain.scripthash.subscribe', never)).toBeNull();
      expect(await session.result('blockchain.scripthash.get_history', never)).toEqual([]);
      expect(await session.result('blockchain.scripthash.unsubscribe', never)).toBe(true);
      expect(await session.result('blockchain.scripthash.unsubscribe', never)).toBe(false);
      expect(await session.failure('blockchain.scripthash.get_balance', ['12ab'])).toEqual(
        rpcError(1, '12ab is not a valid script hash')
      );
    } finally {
      session.close();
    }
  });

  it('adds the mempool tables to history, balance and unspent outputs', async () => {
    const session = await openRaw(port);
    const { spender, spent, fresh, mempool } = synthetic;
    const [minusOne, zeroHigh, zeroLow] = mempool;
    if (minusOne === undefined || zeroHigh === undefined || zeroLow === undefined) {
      throw new Error('mempool rows missing');
    }
    const entry = (tx: typeof minusOne) => {
      return { tx_hash: tx.txid, height: tx.height, fee: Number(tx.fee) };
    };
    try {
      // Height 0 before -1, ties by txid display hex (DESIGN §5).
      const freshMempool = [entry(zeroLow), entry(zeroHigh), entry(minusOne)];
      expect(await session.result('blockchain.scripthash.get_mempool', [fresh])).toEqual(
        freshMempool
      );
      expect(await session.result('blockchain.scripthash.get_history', [fresh])).toEqual(
        freshMempool
      );
      expect(await session.result('blockchain.scripthash.get_balance', [fresh])).toEqual({
        confirmed: 0,
        unconfirmed: Number(sumValues(mempool)),
      });
      const freshUtxos = mempool
        .map((tx) => ({ tx_hash: tx.txid, tx_pos: 0, height: 0, value: Number(tx.value) }))
        .sort((a, b) => (a.tx_hash < b.tx_hash ? -1 : 1));
      expect(await session.result('blockchain.scripthash.listunspent', [fresh])).toEqual(
        freshUtxos
      );
      const history = chain.history.get(spender) ?? [];
      expect(await session.result('blockchain.scripthash.get_history', [spender])).toEqual([
        ...history.map((item) => ({ tx_hash: item.txHash, height: item.height })),
        entry(zeroHigh),
      ]);
      const unspent = chain.unspent.get(spender) ?? [];
      expect(await session.result('blockchain.scripthash.get_balance', [spender])).toEqual({
        confirmed: Number(sumValues(unspent)),
        unconfirmed: -Number(spent.value),
      });
      const listed = (await session.result('blockchain.scripthash.listunspent', [spender])) as {
        tx_hash: string;
        tx_pos: number;
      }[];
      const kept = unspent.filter((output) => output !== spent);
      expect(listed.map((utxo) => `${utxo.tx_hash}:${utxo.tx_pos}`)).toEqual(
        kept.map((output) => `${output.txid}:${output.vout}`)
      );
    } finally {
      session.close();
    }
  });

  it('writes amounts past 2^53 exactly', async () => {
    const session = await openRaw(port);
    try {
      const request = {
        id: 1,
        method: 'blockchain.scripthash.get_balance',
        params: [synthetic.whale],
      };
      expect(await session.exchange(JSON.stringify(request))).toBe(
        `{"jsonrpc":"2.0","result":{"confirmed":${synthetic.whaleValue},"unconfirmed":0},"id":1}`
      );
    } finally {
      session.close();
    }
  });
});

describe('@electrum-cash/network client', () => {
  it('connects, negotiates, requests and receives the headers subscription', async () => {
    const socket = new ElectrumWebSocket('127.0.0.1', port, false);
    const client = new ElectrumClient<ElectrumClientEvents>('worker-protocol-test', '1.4', socket);
    const notifications: RPCNotification[] = [];
    client.on('notification', (message) => notifications.push(message));
    await client.connect();
    try {
      const tipHex = chain.headers[TIP_HEIGHT]?.toString('hex');
      const [scriptHash, history] =
        [...chain.history].find(([hash]) => hash !== synthetic.spender) ?? [];
      if (scriptHash === undefined || history === undefined) throw new Error('no script hash');
      expect(await client.request('blockchain.scripthash.get_history', scriptHash)).toEqual(
        history.map((item) => ({ tx_hash: item.txHash, height: item.height }))
      );
      expect(await client.request('blockchain.block.header', TIP_HEIGHT)).toBe(tipHex);
      await client.subscribe('blockchain.headers.subscribe');
      expect(notifications).toContainEqual({
        jsonrpc: '2.0',
        method: 'blockchain.headers.subscribe',
        params: [{ hex: tipHex, height: TIP_HEIGHT }],
      });
      const failure = await client.request('blockchain.block.header', 999);
      expect(failure).toBeInstanceOf(Error);
      expect(String(failure)).toContain('height 999 out of range');
    } finally {
      await client.disconnect(true);
    }
  });
});

describe('Worker logs', () => {
  it('hold one JSON event per session open and no internal errors', () => {
    const lines = (worker?.output ?? []).join('').split('\n');
    const events = lines.filter((line) => line.includes('{"level":'));
    expect(events.some((line) => line.includes('"event":"session_open"'))).toBe(true);
    expect(events.filter((line) => line.includes('"level":"error"'))).toEqual([]);
  });
});
