// Tests for the simulated node's read-only RPC methods and its JSON-RPC / HTTP behaviour, over real
// HTTP on 127.0.0.1. Expected hashes come from test/fixtures/chains/SOURCES.md or are recomputed
// here with node:crypto from the chain file bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { NodeCallError } from './sim-node-client.ts';
import { startSimNode, type SimNode } from './sim-node.ts';
import {
  chainBlocks,
  displayHex,
  headerHashHex,
  post,
  rpc,
  sha256d,
  sha512_256d,
} from './sim-node-testkit.ts';

const BLOCKS = chainBlocks('data/bitcoin_mainnet_0-255.json');
// test/fixtures/chains/SOURCES.md
const TIP_HASH = '00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c';
const BLOCK_1_HASH = '00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048';
const RADIANT_GENESIS = '0000000065d8ed5d8be28d6876b3ffb660ac2a6c0ca59e437e1f7a6f4e003fb4';
const RADIANT_BLOCK_1 = '000000007dcdf37998c00a132c37b5f35143434aa02ef272e1ecf3cd8cbd180d';

const header = (height: number): Buffer => Buffer.from((BLOCKS[height] ?? '').slice(0, 160), 'hex');

async function rpcError(promise: Promise<unknown>): Promise<NodeCallError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught
  );
  if (!(error instanceof NodeCallError)) throw new Error(`expected an error: ${String(error)}`);
  return error;
}

/** Outputs of a legacy tx whose varints are all single bytes (enough for these fixtures). */
function legacyOutputs(hex: string): { valueSats: bigint; scriptHex: string }[] {
  const raw = Buffer.from(hex, 'hex');
  let pos = 4;
  const inputCount = raw[pos++] ?? 0;
  for (let i = 0; i < inputCount; i++) pos += 36 + 1 + (raw[pos + 36] ?? 0) + 4;
  const outputs = [];
  const outputCount = raw[pos++] ?? 0;
  for (let i = 0; i < outputCount; i++) {
    const valueSats = raw.readBigUInt64LE(pos);
    const length = raw[pos + 8] ?? 0;
    outputs.push({ valueSats, scriptHex: raw.subarray(pos + 9, pos + 9 + length).toString('hex') });
    pos += 9 + length;
  }
  return outputs;
}

let node: SimNode;

beforeAll(async () => {
  const coin = getCoin('Bitcoin', 'mainnet');
  node = await startSimNode({ coin, blocks: BLOCKS, user: 'u', password: 'p' });
});
afterAll(async () => {
  await node.close();
});

describe('chain methods on Bitcoin mainnet 0-255', () => {
  it('reports the tip', async () => {
    expect(node.url).toBe(`http://u:p@127.0.0.1:${node.port}`);
    expect(await rpc(node, 'getblockcount')).toBe(255);
    expect(await rpc(node, 'getbestblockhash')).toBe(TIP_HASH);
    expect(await rpc(node, 'getblockhash', [1])).toBe(BLOCK_1_HASH);
    expect(await rpc(node, 'getblockhash', [0])).toBe(headerHashHex(BLOCKS[0] ?? ''));
    expect(node.tipHeight()).toBe(255);
    expect(node.tipHash()).toBe(TIP_HASH);
    expect(node.blockHex(7)).toBe(BLOCKS[7]);
  });

  it('getblockchaininfo has the node fields', async () => {
    const info = (await rpc(node, 'getblockchaininfo')) as Record<string, unknown>;
    const workPerBlock = (1n << 256n) / ((0xffffn << 208n) + 1n);
    expect(info).toMatchObject({
      chain: 'main',
      blocks: 255,
      headers: 255,
      bestblockhash: TIP_HASH,
      difficulty: 1,
      initialblockdownload: false,
      pruned: false,
      verificationprogress: 1,
      chainwork: (256n * workPerBlock).toString(16).padStart(64, '0'),
      size_on_disk: BLOCKS.reduce((sum, hex) => sum + hex.length / 2, 0),
    });
  });

  it('getblockheader by height and by hash, verbose and raw', async () => {
    const h = header(170);
    const times = Array.from({ length: 11 }, (_, i) => header(160 + i).readUInt32LE(68)).sort();
    const expected = {
      hash: headerHashHex(BLOCKS[170] ?? ''),
      confirmations: 86,
      height: 170,
      version: 1,
      versionHex: '00000001',
      merkleroot: displayHex(h.subarray(36, 68)),
      time: h.readUInt32LE(68),
      mediantime: times[5],
      nonce: h.readUInt32LE(76),
      bits: '1d00ffff',
      difficulty: 1,
      chainwork: (171n * ((1n << 256n) / ((0xffffn << 208n) + 1n))).toString(16).padStart(64, '0'),
      nTx: 2,
      previousblockhash: headerHashHex(BLOCKS[169] ?? ''),
      nextblockhash: headerHashHex(BLOCKS[171] ?? ''),
    };
    expect(await rpc(node, 'getblockheader', [170])).toEqual(expected);
    expect(await rpc(node, 'getblockheader', [expected.hash, true])).toEqual(expected);
    expect(await rpc(node, 'getblockheader', [expected.hash, false])).toBe(h.toString('hex'));
    const tip = (await rpc(node, 'getblockheader', [TIP_HASH])) as Record<string, unknown>;
    expect(tip.confirmations).toBe(1);
    expect(tip.nextblockhash).toBeUndefined();
    const genesis = (await rpc(node, 'getblockheader', [0])) as Record<string, unknown>;
    expect(genesis.previousblockhash).toBeUndefined();
  });

  it('getblock verbosity 0, 1 and 2 agree with the raw block', async () => {
    const hash = headerHashHex(BLOCKS[170] ?? '');
    expect(await rpc(node, 'getblock', [hash, 0])).toBe(BLOCKS[170]);
    expect(await rpc(node, 'getblock', [hash, false])).toBe(BLOCKS[170]);
    const block = (await rpc(node, 'getblock', [hash])) as {
      tx: string[];
      size: number;
      nTx: number;
    };
    expect(block.size).toBe((BLOCKS[170] ?? '').length / 2);
    expect(block.nTx).toBe(2);
    const raws = await Promise.all(block.tx.map((txid) => rpc(node, 'getrawtransaction', [txid])));
    block.tx.forEach((txid, i) => {
      expect(displayHex(sha256d(Buffer.from(raws[i] as string, 'hex')))).toBe(txid);
    });
    expect(`${header(170).toString('hex')}02${raws.join('')}`).toBe(BLOCKS[170]);
    const root = sha256d(Buffer.concat(block.tx.map((txid) => Buffer.from(txid, 'hex').reverse())));
    expect(root.equals(header(170).subarray(36, 68))).toBe(true);
    const full = (await rpc(node, 'getblock', [hash, 2])) as {
      tx: { txid: string; hex: string }[];
    };
    expect(full.tx.map((tx) => tx.txid)).toEqual(block.tx);
    expect(full.tx.map((tx) => tx.hex)).toEqual(raws);
  });

  it('getrawtransaction verbose of a confirmed tx (block 170)', async () => {
    const hash170 = headerHashHex(BLOCKS[170] ?? '');
    const block = (await rpc(node, 'getblock', [hash170])) as { tx: string[] };
    const txid = block.tx[1] ?? '';
    const hex = (await rpc(node, 'getrawtransaction', [txid, false])) as string;
    const answer = await post(node, { id: 'x', method: 'getrawtransaction', params: [txid, 1] });
    const tx = (answer.json as { result: Record<string, unknown> }).result;
    const outputs = legacyOutputs(hex);
    expect(tx).toMatchObject({
      txid,
      hash: txid,
      version: 1,
      size: hex.length / 2,
      locktime: 0,
      hex,
      blockhash: headerHashHex(BLOCKS[170] ?? ''),
      confirmations: 86,
      time: header(170).readUInt32LE(68),
      blocktime: header(170).readUInt32LE(68),
    });
    const vout = tx.vout as { n: number; scriptPubKey: { hex: string; type: string } }[];
    expect(vout.map((output) => output.scriptPubKey.hex)).toEqual(outputs.map((o) => o.scriptHex));
    expect(vout.map((output) => output.scriptPubKey.type)).toEqual(['pubkey', 'pubkey']);
    // Amounts are written with 8 decimals, as the node's ValueFromAmount does.
    const written = [...answer.text.matchAll(/"value":(\d+\.\d{8})[,}]/g)].map((m) => m[1]);
    const coins = (sats: bigint): string =>
      `${sats / 100_000_000n}.${String(sats % 100_000_000n).padStart(8, '0')}`;
    const expected = outputs.map((output) => coins(output.valueSats));
    expect(written).toEqual(expected);
    const vin = tx.vin as { txid: string; vout: number; scriptSig: { hex: string } }[];
    expect(hex).toContain(Buffer.from(vin[0]?.txid ?? '', 'hex').reverse().toString('hex'));
  });

  it('getrawtransaction with a block hash searches only that block', async () => {
    const hash170 = headerHashHex(BLOCKS[170] ?? '');
    const block = (await rpc(node, 'getblock', [hash170])) as { tx: string[] };
    const txid = block.tx[1];
    const tx = (await rpc(node, 'getrawtransaction', [txid, true, hash170])) as {
      in_active_chain: boolean;
    };
    expect(tx.in_active_chain).toBe(true);
    const elsewhere = await rpcError(rpc(node, 'getrawtransaction', [txid, true, BLOCK_1_HASH]));
    expect([elsewhere.code, elsewhere.message]).toEqual([
      -5,
      'No such transaction found in the provided block. ' +
        'Use gettransaction for wallet transactions.',
    ]);
    const unknown = await rpcError(rpc(node, 'getrawtransaction', [txid, true, '11'.repeat(32)]));
    expect([unknown.code, unknown.message]).toEqual([-5, 'Block hash not found']);
  });

  it('refuses the genesis coinbase and unknown txids as the node does', async () => {
    const genesisCoinbase = displayHex(header(0).subarray(36, 68));
    const genesis = await rpcError(rpc(node, 'getrawtransaction', [genesisCoinbase]));
    expect(genesis.code).toBe(-5);
    expect(genesis.message).toMatch(/^The genesis block coinbase is not considered an ordinary/);
    const unknown = await rpcError(rpc(node, 'getrawtransaction', ['ab'.repeat(32)]));
    expect([unknown.code, unknown.message, unknown.httpStatus]).toEqual([
      -5,
      'No such mempool or blockchain transaction. Use gettransaction for wallet transactions.',
      500,
    ]);
  });

  it('mempool, fee and network methods', async () => {
    expect(await rpc(node, 'getrawmempool')).toEqual([]);
    expect(await rpc(node, 'getrawmempool', [true])).toEqual({});
    expect(await rpc(node, 'getmempoolinfo')).toMatchObject({ loaded: true, size: 0, bytes: 0 });
    expect(await rpc(node, 'estimatesmartfee', [6])).toEqual({ feerate: 0.00001, blocks: 6 });
    const economical = await rpc(node, 'estimatesmartfee', [1, 'ECONOMICAL']);
    expect(economical).toEqual({ feerate: 0.00001, blocks: 2 });
    expect((await rpcError(rpc(node, 'estimatesmartfee', [0]))).code).toBe(-8);
    expect((await rpcError(rpc(node, 'estimatesmartfee', [1009]))).message).toBe(
      'Invalid conf_target, must be between 1 and 1008'
    );
    expect(await rpc(node, 'estimatefee', [6])).toBe(0.00001);
    node.setFeeRate(null);
    expect(await rpc(node, 'estimatefee')).toBe(-1);
    expect(await rpc(node, 'estimatesmartfee', [2])).toEqual({
      errors: ['Insufficient data or no feerate found'],
      blocks: 0,
    });
    node.setFeeRate(2500n);
    expect(await rpc(node, 'estimatefee')).toBe(0.000025);
    const answer = await post(node, { id: 1, method: 'getnetworkinfo', params: [] });
    expect(answer.text).toContain('"relayfee":0.00001000,');
    expect((answer.json as { result: unknown }).result).toMatchObject({
      version: 270000,
      subversion: '/Satoshi:27.0.0/',
      protocolversion: 70016,
      localrelay: true,
      networkactive: true,
      warnings: '',
    });
  });
});

describe('JSON-RPC and HTTP behaviour', () => {
  it('asks for credentials with 401 and refuses wrong ones', async () => {
    const missing = await post(node, { id: 1, method: 'getblockcount' }, { authorization: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Basic realm="jsonrpc"');
    expect(missing.text).toBe('');
    const wrong = `Basic ${Buffer.from('u:wrong').toString('base64')}`;
    const refused = await post(node, { id: 1, method: 'getblockcount' }, { authorization: wrong });
    expect(refused.status).toBe(401);
    const bearer = { authorization: 'Bearer p' };
    const notBasic = await post(node, { id: 1, method: 'getblockcount' }, bearer);
    expect(notBasic.status).toBe(401);
    expect((await post(node, null, { method: 'GET' })).status).toBe(405);
  });

  it('answers unreadable requests with the node error objects and statuses', async () => {
    const failure = (code: number, message: string, id: unknown): unknown => ({
      result: null,
      error: { code, message },
      id,
    });
    const cases: [unknown, number, unknown][] = [
      ['{"id": 1, "method": ', 500, failure(-32700, 'Parse error', null)],
      ['5', 500, failure(-32700, 'Top-level object parse error', null)],
      [{ id: 7 }, 400, failure(-32600, 'Missing method', 7)],
      [{ id: 'a', method: 5 }, 400, failure(-32600, 'Method must be a string', 'a')],
      [
        { id: 1, method: 'getblockcount', params: 'x' },
        400,
        failure(-32600, 'Params must be an array or object', 1),
      ],
      [{ id: 2, method: 'getnothing' }, 404, failure(-32601, 'Method not found', 2)],
    ];
    for (const [body, status, reply] of cases) {
      const answer = await post(node, body);
      expect([answer.status, answer.json]).toEqual([status, reply]);
      expect(answer.headers.get('content-type')).toBe('application/json');
      expect(answer.text.endsWith('}\n')).toBe(true);
    }
  });

  it('checks parameters as the node does', async () => {
    const arity = await rpcError(rpc(node, 'getblockhash', []));
    expect([arity.code, arity.httpStatus]).toEqual([-1, 500]);
    expect(arity.message).toMatch(/^getblockhash height/);
    const type = await rpcError(rpc(node, 'getblockhash', ['1']));
    expect([type.code, type.message]).toEqual([-1, 'JSON value is not an integer as expected']);
    const range = await rpcError(rpc(node, 'getblockhash', [256]));
    expect([range.code, range.message]).toEqual([-8, 'Block height out of range']);
    const short = await rpcError(rpc(node, 'getblock', ['abc']));
    expect([short.code, short.message]).toEqual([
      -8,
      "blockhash must be of length 64 (not 3, for 'abc')",
    ]);
    const notHex = await rpcError(rpc(node, 'getblock', ['zz'.repeat(32)]));
    expect(notHex.message).toBe(`blockhash must be hexadecimal string (not '${'zz'.repeat(32)}')`);
    const unknown = await rpcError(rpc(node, 'getblockheader', ['00'.repeat(32)]));
    expect([unknown.code, unknown.message]).toEqual([-5, 'Block not found']);
    const beyond = await rpcError(rpc(node, 'getblockheader', [300]));
    expect(beyond.message).toBe('Target block height 300 after current tip 255');
    const badSend = await rpcError(rpc(node, 'sendrawtransaction', [5]));
    expect([badSend.code, badSend.message]).toEqual([-3, 'Expected type string, got number']);
  });

  it('takes named parameters and echoes ids of every JSON type', async () => {
    const named = await post(node, { id: null, method: 'getblockhash', params: { height: 1 } });
    expect(named.json).toEqual({ result: BLOCK_1_HASH, error: null, id: null });
    const params = { height: 1, foo: 2 };
    const extra = await post(node, { id: 3, method: 'getblockhash', params });
    expect(extra.json).toEqual({
      result: null,
      error: { code: -8, message: 'Unknown named parameter foo' },
      id: 3,
    });
    for (const id of ['s', 1.5, { a: 1 }, [1]]) {
      const answer = await post(node, { jsonrpc: '2.0', id, method: 'getblockcount' });
      expect(answer.json).toEqual({ result: 255, error: null, id });
    }
    const noId = await post(node, { method: 'getblockcount' });
    expect(noId.json).toEqual({ result: 255, error: null, id: null });
  });

  it('answers batches with 200 and one reply per element, in order', async () => {
    const answer = await post(node, [
      { id: 1, method: 'getblockcount' },
      { id: 2, method: 'nope' },
      5,
      { id: 4, method: 'getblockhash', params: [999] },
    ]);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual([
      { result: 255, error: null, id: 1 },
      { result: null, error: { code: -32601, message: 'Method not found' }, id: 2 },
      { result: null, error: { code: -32600, message: 'Invalid Request object' }, id: null },
      { result: null, error: { code: -8, message: 'Block height out of range' }, id: 4 },
    ]);
    const empty = await post(node, []);
    expect([empty.status, empty.text]).toEqual([200, '[]\n']);
  });
});

describe('Radiant mainnet 0-1', () => {
  it('hashes headers with SHA-512/256d and speaks as radiant-node', async () => {
    const blocks = chainBlocks('data/radiant_mainnet_0-1.json');
    const coin = getCoin('Radiant', 'mainnet');
    const radiant = await startSimNode({ coin, blocks, user: 'r', password: 's' });
    try {
      expect(await rpc(radiant, 'getblockhash', [0])).toBe(RADIANT_GENESIS);
      expect(await rpc(radiant, 'getbestblockhash')).toBe(RADIANT_BLOCK_1);
      const tip = (await rpc(radiant, 'getblockheader', [RADIANT_BLOCK_1])) as {
        previousblockhash: string;
      };
      expect(tip.previousblockhash).toBe(RADIANT_GENESIS);
      const raw = Buffer.from((blocks[1] ?? '').slice(0, 160), 'hex');
      expect(displayHex(sha512_256d(raw))).toBe(RADIANT_BLOCK_1);
      const answer = await post(radiant, { id: 1, method: 'getnetworkinfo' });
      expect(answer.text).toContain('"relayfee":0.01000000,"excessutxocharge":0.00000000,');
      const info = (answer.json as { result: { subversion: string } }).result;
      expect(info.subversion).toBe('/Radiant Node:1.3.0/');
      expect(await rpc(radiant, 'estimatefee')).toBe(0.01);
    } finally {
      await radiant.close();
    }
  });

  it('reports fee settings per estimate mode and the mempool floors the test sets', async () => {
    // Bitcoin Core defaults: incremental fee 1,000 sats/kvB, reported in both places.
    expect(await rpc(node, 'getmempoolinfo')).toMatchObject({
      mempoolminfee: 0.00001,
      minrelaytxfee: 0.00001,
      incrementalrelayfee: 0.00001,
    });
    node.setFeeRate(3000n);
    node.setFeeRate(7000n, 'CONSERVATIVE');
    node.setFeeRate(null, 'ECONOMICAL');
    expect(await rpc(node, 'estimatesmartfee', [4])).toEqual({ feerate: 0.00003, blocks: 4 });
    const unset = await rpc(node, 'estimatesmartfee', [4, 'unset']);
    expect(unset).toEqual({ feerate: 0.00003, blocks: 4 });
    const conservative = await rpc(node, 'estimatesmartfee', [4, 'conservative']);
    expect(conservative).toEqual({ feerate: 0.00007, blocks: 4 });
    expect(await rpc(node, 'estimatesmartfee', [4, 'ECONOMICAL'])).toEqual({
      errors: ['Insufficient data or no feerate found'],
      blocks: 0,
    });
    expect(await rpc(node, 'estimatefee')).toBe(0.00003);
    node.setNodeFees({ relayFeeSatsPerKb: 2000n, incrementalFeeSatsPerKb: 1500n });
    node.setNodeFees({ mempoolFloorSatsPerKb: 5000n });
    const info = await post(node, { id: 1, method: 'getnetworkinfo', params: [] });
    expect(info.text).toContain('"relayfee":0.00002000,"incrementalfee":0.00001500,');
    expect(await rpc(node, 'getmempoolinfo')).toMatchObject({
      mempoolminfee: 0.00005,
      minrelaytxfee: 0.00002,
      incrementalrelayfee: 0.000015,
    });
    // The floor below the relay fee: mempoolminfee is their maximum (txmempool GetMinFee).
    node.setNodeFees({ mempoolFloorSatsPerKb: 0n });
    expect(await rpc(node, 'getmempoolinfo')).toMatchObject({ mempoolminfee: 0.00002 });
  });

  it('can leave out methods radiant-node lacks', async () => {
    const blocks = chainBlocks('data/radiant_mainnet_0-1.json');
    const radiant = await startSimNode({
      coin: getCoin('Radiant', 'mainnet'),
      blocks,
      user: 'r',
      password: 's',
      disabledMethods: ['estimatesmartfee'],
    });
    try {
      const error = await rpcError(rpc(radiant, 'estimatesmartfee', [2]));
      expect([error.code, error.httpStatus]).toEqual([-32601, 404]);
    } finally {
      await radiant.close();
    }
  });
});
