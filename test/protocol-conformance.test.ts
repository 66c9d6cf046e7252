// Conformance of the Electrum protocol surface over WebSocket (and POST /rpc) against wrangler dev:
// version negotiation, per-version method tables, headers with checkpoint proofs, the edge cache,
// verbose txs, blockchain.ref.get, broadcast through the real relay, and the mempool fee methods.
// The chain is Radiant (SHA-512/256d headers) mined by the simulated node; expected values come
// from node:crypto over the node's blocks, from the node's own RPC answers, or from the docs.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { scriptHash } from '../core/script.ts';
import { encodeRefs } from '../indexer/block-writer.ts';
import { chainBlocks, p2pkh, rpc, spend, txidOf } from '../tools/sim-node-testkit.ts';
import { startSimNode, type SimNode } from '../tools/sim-node.ts';
import {
  openClient,
  startProtocolStack,
  type ErrorJson,
  type ProtocolStack,
  type RawClient,
} from './protocol-stack.ts';

const coin = getCoin('Radiant', 'mainnet');
// Blocks within this distance of the tip are never cached (the Worker's REORG_LIMIT).
const REORG_LIMIT = 200;
const CHAIN_LENGTH = 2_100;
const NODE_USER = 'conformance';
const NODE_PASSWORD = randomBytes(12).toString('hex');
// The sim node's relay fee for Radiant (tools/sim-node-methods.ts): 0.01 RXD per kB.
const RELAY_FEE = 0.01;
// The refusal of a 1.6 server.version sent after other requests (protocol-basics.rst, 1.6).
const LATE_1_6 =
  'protocol 1.6 and later need server.version as the first message; ' +
  'this session sent other requests before it';

function digest(name: string, data: Buffer): Buffer {
  return createHash(name).update(data).digest();
}
const sha256d = (data: Buffer): Buffer => digest('sha256', digest('sha256', data));
const sha512_256d = (data: Buffer): Buffer => digest('sha512-256', digest('sha512-256', data));
const display = (bytes: Buffer): string => Buffer.from(bytes).reverse().toString('hex');
const internal = (hex: string): Buffer => Buffer.from(hex, 'hex').reverse();

let node: SimNode;
let stack: ProtocolStack;
let headers: Buffer[] = [];
let leaves: Buffer[] = [];
let tipHeight = 0;
// The NFT minted from block 1's coinbase output 0, and the txs that pushed its ref.
let refHex = '';
let mintTxid = '';
let mintHeight = 0;
let transferTxid = '';
let transferHeight = 0;
let nftScript: Buffer = Buffer.alloc(0);
// The tx broadcast through the Worker, then recorded in the mempool tables.
let relayedHex = '';

function nftOutputScript(ref: Buffer): Buffer {
  // DESIGN §3's NFT-style script: OP_PUSHINPUTREFSINGLETON <ref> OP_DROP, then P2PKH.
  return Buffer.concat([Buffer.from([0xd8]), ref, Buffer.from([0x75]), p2pkh(9)]);
}

async function buildChain(): Promise<void> {
  const blocks = chainBlocks('data/radiant_mainnet_0-1.json');
  node = await startSimNode({ coin, blocks, user: NODE_USER, password: NODE_PASSWORD });
  node.mine({ count: 60 });
  // Block 1's coinbase: header (80 bytes) and a one-byte tx count come first.
  const coinbaseTxid = txidOf((blocks[1] ?? '').slice(162));
  const ref = Buffer.concat([internal(coinbaseTxid), Buffer.alloc(4)]);
  refHex = `${coinbaseTxid}00000000`;
  nftScript = nftOutputScript(ref);
  const mint = spend(
    [{ txid: coinbaseTxid, vout: 0 }],
    [
      { value: 1_000n, script: nftScript },
      { value: 5_000_000n, script: p2pkh(7) },
    ]
  );
  mintTxid = node.addMempoolTx(mint);
  mintHeight = node.tipHeight() + 1;
  node.mine({ count: 1 });
  const transfer = spend([{ txid: mintTxid, vout: 0 }], [{ value: 900n, script: nftScript }]);
  transferTxid = node.addMempoolTx(transfer);
  transferHeight = node.tipHeight() + 1;
  node.mine({ count: 1 });
  node.mine({ count: CHAIN_LENGTH - node.tipHeight() - 1 });
  tipHeight = node.tipHeight();
  headers = Array.from({ length: tipHeight + 1 }, (_, height) => {
    return Buffer.from(node.blockHex(height).slice(0, 160), 'hex');
  });
  leaves = headers.map(sha512_256d);
}

beforeAll(async () => {
  await buildChain();
  stack = await startProtocolStack({
    node,
    nodeUser: NODE_USER,
    nodePassword: NODE_PASSWORD,
    coin,
    reorgLimit: REORG_LIMIT,
  });
  stack.db.sqlite.prepare('UPDATE chain_state SET relay_fee = ? WHERE id = 0').run(RELAY_FEE);
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await node?.close();
});

async function session(version?: unknown): Promise<RawClient> {
  const client = await openClient(stack.worker.port);
  if (version !== undefined) await client.result('server.version', ['conformance', version]);
  return client;
}

function rpcError(code: number, message: string): ErrorJson {
  return { code, message };
}

/** Electrum's root over leaves 0..cpHeight, computed here from every header hash. */
function referenceRoot(cpHeight: number): Buffer {
  let level = leaves.slice(0, cpHeight + 1);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Buffer;
      next.push(sha256d(Buffer.concat([left, level[i + 1] ?? left])));
    }
    level = next;
  }
  return level[0] as Buffer;
}

/** Folds a display-hex branch from leaf `height` up, as a wallet checks a proof. */
function foldBranch(height: number, branch: string[]): string {
  let hash = leaves[height] as Buffer;
  branch.forEach((siblingHex, depth) => {
    const sibling = internal(siblingHex);
    const right = (height >> depth) & 1;
    hash = sha256d(right ? Buffer.concat([sibling, hash]) : Buffer.concat([hash, sibling]));
  });
  return display(hash);
}

describe('server.version negotiation', () => {
  it('picks the highest common version from strings, pairs or nothing', async () => {
    const cases: [unknown, string][] = [
      ['1.4', '1.4'],
      ['1.4.1', '1.4.1'],
      ['1.4.2', '1.4.2'],
      ['1.5', '1.5'],
      ['1.6', '1.6'],
      [['1.4', '1.6'], '1.6'],
      [['1.2', '1.4.1'], '1.4.1'],
      [['1.4', '2.0'], '1.6'],
      [null, '1.4'],
    ];
    for (const [wanted, negotiated] of cases) {
      const client = await openClient(stack.worker.port);
      try {
        expect(await client.result('server.version', ['x', wanted])).toEqual([
          'electrum-edge 0.1.0',
          negotiated,
        ]);
      } finally {
        client.close();
      }
    }
    const bare = await openClient(stack.worker.port);
    try {
      expect(await bare.result('server.version')).toEqual(['electrum-edge 0.1.0', '1.4']);
      expect(await bare.failure('server.version', ['x', '1.6'])).toEqual(
        rpcError(1, 'server.version already sent')
      );
    } finally {
      bare.close();
    }
  });

  it('refuses versions it cannot serve and closes the session', async () => {
    for (const wanted of ['1.2', '1.7', ['1.7', '1.8'], ['1.0', '1.3']]) {
      const client = await openClient(stack.worker.port);
      const error = await client.failure('server.version', ['x', wanted]);
      expect(error?.code).toBe(1);
      expect(error?.message.startsWith('unsupported protocol version: ')).toBe(true);
      expect(await client.closed).toBe(1008);
    }
  });

  it('tolerates extra arguments (1.6) and enforces server.version first for 1.6', async () => {
    const extra = await openClient(stack.worker.port);
    try {
      const params = ['electrum/4.6.2', ['1.4', '1.6'], 'trailing_garbage1', 9999.9, { dd: {} }];
      expect(await extra.result('server.version', params)).toEqual(['electrum-edge 0.1.0', '1.6']);
    } finally {
      extra.close();
    }
    // A batch that opens with server.version is version-first, whatever runs first inside it.
    const batched = await openClient(stack.worker.port);
    try {
      const frame = await batched.exchange(
        JSON.stringify([
          { id: 1, method: 'server.version', params: ['x', '1.6'] },
          { id: 2, method: 'server.ping' },
          { id: 3, method: 'blockchain.block.headers', params: [0, 1] },
        ])
      );
      const chunk = { count: 1, max: 2016, headers: [headers[0]?.toString('hex')] };
      expect(JSON.parse(frame)).toEqual([
        { jsonrpc: '2.0', result: ['electrum-edge 0.1.0', '1.6'], id: 1 },
        { jsonrpc: '2.0', result: null, id: 2 },
        { jsonrpc: '2.0', result: chunk, id: 3 },
      ]);
    } finally {
      batched.close();
    }
    const late = await openClient(stack.worker.port);
    expect(await late.result('server.ping')).toBeNull();
    expect(await late.failure('server.version', ['x', '1.6'])).toEqual(rpcError(1, LATE_1_6));
    expect(await late.closed).toBe(1008);
    // A late client whose range reaches below 1.6 settles on the last 1.4 revision instead.
    const ranged = await openClient(stack.worker.port);
    try {
      expect(await ranged.result('server.ping')).toBeNull();
      const reply = await ranged.result('server.version', ['x', ['1.4', '1.6']]);
      expect(reply).toEqual(['electrum-edge 0.1.0', '1.4.2']);
      // 1.4's shape: blockchain.block.headers answers with one hex string, not a list.
      const chunk = await ranged.result('blockchain.block.headers', [0, 1]);
      expect(chunk).toEqual({ count: 1, max: 2016, hex: headers[0]?.toString('hex') });
    } finally {
      ranged.close();
    }
    // A 1.4 client may still send server.version late (Radiant wallets never send it at all).
    const old = await openClient(stack.worker.port);
    try {
      expect(await old.result('blockchain.block.header', [0])).toBe(headers[0]?.toString('hex'));
      expect(await old.result('server.version', ['x', ['1.4', '1.4.2']])).toEqual([
        'electrum-edge 0.1.0',
        '1.4.2',
      ]);
    } finally {
      old.close();
    }
    const response = await fetch(`http://127.0.0.1:${stack.worker.port}/rpc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([
        { id: 1, method: 'server.ping' },
        { id: 2, method: 'server.version', params: ['x', '1.6'] },
      ]),
    });
    expect(await response.json()).toEqual([
      { jsonrpc: '2.0', result: null, id: 1 },
      { jsonrpc: '2.0', error: rpcError(1, LATE_1_6), id: 2 },
    ]);
  });
});

describe('per-version method tables and shapes', () => {
  it('offers blockchain.relayfee before 1.6 and mempool.get_info from 1.6', async () => {
    const v14 = await session('1.4.2');
    const v16 = await session('1.6');
    try {
      expect(await v14.result('blockchain.relayfee')).toBe(RELAY_FEE);
      expect(await v14.failure('mempool.get_info')).toEqual(
        rpcError(-32601, 'unknown method "mempool.get_info"')
      );
      expect(await v16.failure('blockchain.relayfee')).toEqual(
        rpcError(-32601, 'unknown method "blockchain.relayfee"')
      );
      const info = await v16.exchange('{"id":7,"method":"mempool.get_info"}');
      // protocol-methods.rst: coin per kB, printed like the node's amounts.
      expect(info).toBe(
        '{"jsonrpc":"2.0","result":{"mempoolminfee":0.01000000,"minrelaytxfee":0.01000000,' +
          '"incrementalrelayfee":0.01000000},"id":7}'
      );
      for (const client of [v14, v16]) {
        expect(await client.result('server.features')).toMatchObject({
          genesis_hash: coin.genesisHash,
          protocol_min: '1.4',
          protocol_max: '1.6',
          hash_function: 'sha256',
        });
      }
      expect(await v16.failure('blockchain.estimatefee', [2, 'FAST'])).toEqual(
        rpcError(1, 'unknown estimatefee mode: FAST')
      );
      expect(await v16.result('blockchain.estimatefee', [2, 'economical'])).toBe(-1);
    } finally {
      v14.close();
      v16.close();
    }
  });

  it('returns headers as hex before 1.6 and as a list from 1.6, at and past the tip', async () => {
    const v14 = await session('1.4');
    const v16 = await session('1.6');
    const hex = (height: number): string => headers[height]?.toString('hex') ?? '';
    try {
      expect(await v14.result('blockchain.block.headers', [tipHeight - 1, 5])).toEqual({
        hex: hex(tipHeight - 1) + hex(tipHeight),
        count: 2,
        max: 2016,
      });
      expect(await v16.result('blockchain.block.headers', [tipHeight - 1, 5])).toEqual({
        count: 2,
        max: 2016,
        headers: [hex(tipHeight - 1), hex(tipHeight)],
      });
      expect(await v16.result('blockchain.block.headers', [tipHeight + 1, 3])).toEqual({
        count: 0,
        max: 2016,
        headers: [],
      });
      expect(await v14.result('blockchain.block.headers', [10, 0])).toEqual({
        hex: '',
        count: 0,
        max: 2016,
      });
      const chunk = (await v16.result('blockchain.block.headers', [0, 5000])) as {
        count: number;
        headers: string[];
      };
      expect(chunk.count).toBe(2016);
      expect(chunk.headers).toEqual(headers.slice(0, 2016).map((header) => header.toString('hex')));
      expect(await v16.failure('blockchain.block.header', [tipHeight + 1])).toEqual(
        rpcError(1, `height ${(tipHeight + 1).toLocaleString('en-US')} out of range`)
      );
    } finally {
      v14.close();
      v16.close();
    }
  });
});

describe('result shapes of every method', () => {
  const hexString = expect.stringMatching(/^([0-9a-f]{2})*$/);
  const hash = expect.stringMatching(/^[0-9a-f]{64}$/);

  function expectedShapes(version: string, holder: string): [string, unknown[], unknown][] {
    const v16 = version === '1.6';
    const hex = (height: number): string => headers[height]?.toString('hex') ?? '';
    const history = [
      { tx_hash: mintTxid, height: mintHeight },
      { tx_hash: transferTxid, height: transferHeight },
    ];
    const holderUtxo = {
      tx_hash: transferTxid,
      tx_pos: 0,
      height: transferHeight,
      value: 900,
      refs: [{ ref: `${refHex.slice(0, 64)}i0`, type: 'single' }],
    };
    const proof = { header: hexString, branch: expect.any(Array), root: hash };
    const chunk = v16
      ? { count: 2, max: 2016, headers: [hex(7), hex(8)] }
      : { hex: hex(7) + hex(8), count: 2, max: 2016 };
    const merkle = { block_height: mintHeight, merkle: expect.any(Array), pos: 1 };
    const fees = {
      mempoolminfee: RELAY_FEE,
      minrelaytxfee: RELAY_FEE,
      incrementalrelayfee: RELAY_FEE,
    };
    const byPos = { tx_hash: mintTxid, merkle: expect.any(Array) };
    return [
      ['server.banner', [], expect.any(String)],
      ['server.donation_address', [], expect.any(String)],
      ['server.ping', [], null],
      ['server.peers.subscribe', [], []],
      ['server.add_peer', [{}], false],
      ['blockchain.headers.subscribe', [], { hex: hex(tipHeight), height: tipHeight }],
      ['blockchain.block.header', [7], hex(7)],
      ['blockchain.block.header', [7, 9], proof],
      ['blockchain.block.headers', [7, 2], chunk],
      ['blockchain.estimatefee', [6], -1],
      ['blockchain.scripthash.get_balance', [holder], { confirmed: 900, unconfirmed: 0 }],
      ['blockchain.scripthash.get_history', [holder], history],
      ['blockchain.scripthash.get_mempool', [holder], []],
      ['blockchain.scripthash.listunspent', [holder], [holderUtxo]],
      ['blockchain.scripthash.subscribe', [holder], hash],
      ['blockchain.scripthash.unsubscribe', [holder], true],
      ['blockchain.transaction.get', [mintTxid], hexString],
      ['blockchain.transaction.get_merkle', [mintTxid, mintHeight], merkle],
      ['blockchain.transaction.id_from_pos', [mintHeight, 1], mintTxid],
      ['blockchain.transaction.id_from_pos', [mintHeight, 1, true], byPos],
      ['blockchain.ref.get', [refHex], expect.any(Array)],
      ['mempool.get_fee_histogram', [], expect.any(Array)],
      v16 ? ['mempool.get_info', [], fees] : ['blockchain.relayfee', [], RELAY_FEE],
    ];
  }

  it('answers each method of 1.4.2, 1.5 and 1.6 with its documented shape', async () => {
    // The NFT's holder: the script hash of the singleton-ref output (refs zeroed, DESIGN §3).
    const holder = display(createHash('sha256').update(zeroedRefScript()).digest());
    for (const version of ['1.4.2', '1.5', '1.6']) {
      const client = await session(version);
      try {
        for (const [method, params, shape] of expectedShapes(version, holder)) {
          const reply = await client.call(method, params);
          const expected = { jsonrpc: '2.0', id: expect.any(Number), result: shape };
          expect({ version, method, reply }).toEqual({ version, method, reply: expected });
        }
      } finally {
        client.close();
      }
    }
  });
});

/** The NFT output script with its ref operand zeroed, as the script hash is taken (DESIGN §3). */
function zeroedRefScript(): Buffer {
  const script = Buffer.from(nftScript);
  script.fill(0, 1, 37);
  return script;
}

describe('checkpoint proofs (cp_height)', () => {
  it('prove single headers against the root over every header hash', async () => {
    const client = await session('1.4.2');
    try {
      const pairs: [number, number][] = [
        [0, 1], [1, 1], [5, 8], [0, 1023], [1023, 1024], [1024, 1024], [777, 2000],
        [2000, 2000], [3, tipHeight], [tipHeight, tipHeight], [1500, tipHeight - 1],
      ];
      for (const [height, cpHeight] of pairs) {
        const proof = (await client.result('blockchain.block.header', [height, cpHeight])) as {
          header: string;
          branch: string[];
          root: string;
        };
        const root = display(referenceRoot(cpHeight));
        expect({ height, cpHeight, root: proof.root }).toEqual({ height, cpHeight, root });
        expect(proof.header).toBe(headers[height]?.toString('hex'));
        expect(proof.branch.length).toBe(Math.ceil(Math.log2(cpHeight + 1)));
        expect(foldBranch(height, proof.branch)).toBe(root);
      }
    } finally {
      client.close();
    }
  });

  it('prove the last header of a chunk, and refuse heights outside the rule', async () => {
    const client = await session('1.6');
    try {
      // Past the tip the chunk is cut short and the proof is of its last header, the tip.
      for (const [start, count, cpHeight, last] of [
        [tipHeight - 30, 50, tipHeight, tipHeight],
        [1000, 10, 2000, 1009],
        [0, 2016, 2047, 2015],
      ] as const) {
        const params = [start, count, cpHeight];
        const proof = (await client.result('blockchain.block.headers', params)) as {
          count: number;
          headers: string[];
          branch: string[];
          root: string;
        };
        expect(proof.count).toBe(last - start + 1);
        expect(proof.headers[proof.count - 1]).toBe(headers[last]?.toString('hex'));
        expect(proof.root).toBe(display(referenceRoot(cpHeight)));
        expect(foldBranch(last, proof.branch)).toBe(proof.root);
      }
      const none = await client.result('blockchain.block.headers', [10, 0, 100]);
      expect(none).toEqual({ count: 0, max: 2016, headers: [] });
      const tip = tipHeight.toLocaleString('en-US');
      expect(await client.failure('blockchain.block.header', [9, 8])).toEqual(
        rpcError(1, `require header height 9 <= cp_height 8 <= chain height ${tip}`)
      );
      const over = tipHeight + 1;
      const overText = over.toLocaleString('en-US');
      expect(await client.failure('blockchain.block.header', [9, over])).toEqual(
        rpcError(1, `require header height 9 <= cp_height ${overText} <= chain height ${tip}`)
      );
    } finally {
      client.close();
    }
  });
});

describe('edge cache', () => {
  /** Index requests (Hrana pipelines) one call makes, on a session already negotiated. */
  async function indexReads(client: RawClient, method: string, params: unknown[]): Promise<number> {
    const before = stack.proxy.requests();
    expect((await client.call(method, params)).error).toBeUndefined();
    return stack.proxy.requests() - before;
  }

  it('serves answers about deep blocks from the cache and never shallow ones', async () => {
    const client = await session('1.4.2');
    try {
      // Parameters no other test asks for, so the first call cannot find a cached answer.
      const deep: [string, unknown[]][] = [
        ['blockchain.block.header', [101]],
        ['blockchain.block.header', [101, 1001]],
        ['blockchain.block.headers', [3, 997]],
        ['blockchain.transaction.get', [transferTxid]],
        ['blockchain.transaction.get_merkle', [transferTxid, transferHeight]],
      ];
      for (const [method, params] of deep) {
        expect(await indexReads(client, method, params)).toBeGreaterThan(0);
        expect({ method, params, reads: await indexReads(client, method, params) }).toEqual({
          method,
          params,
          reads: 0,
        });
      }
      // Within REORG_LIMIT of the tip (or a proof up to such a block): read every time.
      const shallow: [string, unknown[]][] = [
        ['blockchain.block.header', [tipHeight - 10]],
        ['blockchain.block.headers', [tipHeight - 300, 200]],
        ['blockchain.block.header', [100, tipHeight]],
        ['blockchain.transaction.get', [mintTxid, true]],
      ];
      for (const [method, params] of shallow) {
        expect(await indexReads(client, method, params)).toBeGreaterThan(0);
        expect(await indexReads(client, method, params)).toBeGreaterThan(0);
      }
      // A cached answer is the same answer.
      const cachedHeader = await client.result('blockchain.block.header', [101]);
      expect(cachedHeader).toBe(headers[101]?.toString('hex'));
    } finally {
      client.close();
    }
  });
});

describe('transactions', () => {
  it("gives the node's verbose JSON, block fields following the tip", async () => {
    const client = await session('1.4.2');
    try {
      const fromNode = await rpc(node, 'getrawtransaction', [mintTxid, true]);
      const verbose = await client.result('blockchain.transaction.get', [mintTxid, true]);
      expect(verbose).toEqual(fromNode);
      expect(verbose).toMatchObject({
        txid: mintTxid,
        blockhash: display(leaves[mintHeight] as Buffer),
        confirmations: tipHeight - mintHeight + 1,
        time: (headers[mintHeight] as Buffer).readUInt32LE(68),
        blocktime: (headers[mintHeight] as Buffer).readUInt32LE(68),
      });
      const coinbase = await client.result('blockchain.transaction.id_from_pos', [5, 0]);
      expect(await client.result('blockchain.transaction.get', [coinbase, 1])).toEqual(
        await rpc(node, 'getrawtransaction', [coinbase, true])
      );
      const raw = await rpc(node, 'getrawtransaction', [transferTxid, false]);
      expect(await client.result('blockchain.transaction.get', [transferTxid])).toBe(raw);
      const unknown = await client.failure('blockchain.transaction.get', ['ab'.repeat(32), true]);
      expect(unknown?.code).toBe(2);
    } finally {
      client.close();
    }
  });
});

describe('blockchain.ref.get, broadcast and the mempool', () => {
  it('gives the first and last confirmed txs of a ref, [] for an unknown one', async () => {
    const client = await session();
    try {
      expect(await client.result('blockchain.ref.get', [refHex])).toEqual([
        { tx_hash: mintTxid, height: mintHeight },
        { tx_hash: transferTxid, height: transferHeight },
      ]);
      expect(await client.result('blockchain.ref.get', ['cd'.repeat(36)])).toEqual([]);
      expect(await client.failure('blockchain.ref.get', ['12ab'])).toEqual(
        rpcError(1, '12ab should be a ref')
      );
    } finally {
      client.close();
    }
  });

  it('broadcasts through the relay: accepted, rejected by the node, garbage refused', async () => {
    const client = await session('1.4.2');
    try {
      const next = spend([{ txid: transferTxid, vout: 0 }], [{ value: 800n, script: nftScript }]);
      expect(await client.result('blockchain.transaction.broadcast', [next])).toBe(txidOf(next));
      expect(await rpc(node, 'getrawmempool')).toEqual([txidOf(next)]);
      const conflict = spend(
        [{ txid: transferTxid, vout: 0 }],
        [{ value: 700n, script: p2pkh(3) }]
      );
      const conflictText = 'txn-mempool-conflict (code 18)';
      // The simulated node words its mempool conflicts as radiant-node does (code 18).
      expect(await client.failure('blockchain.transaction.broadcast', [conflict])).toEqual(
        rpcError(
          1,
          `the transaction was rejected by network rules.\n\n${conflictText}\n[${conflict}]`
        )
      );
      const relayedBefore = stack.relayed();
      expect(await client.failure('blockchain.transaction.broadcast', ['zz'])).toEqual(
        rpcError(1, 'zz should be a hex string')
      );
      const truncated = await client.failure('blockchain.transaction.broadcast', ['0100000001']);
      expect(truncated?.code).toBe(1);
      expect(truncated?.message.startsWith('0100000001 is not a valid transaction: ')).toBe(true);
      expect(stack.relayed()).toBe(relayedBefore);
      relayedHex = next;
      recordMempoolTx(next, 600);
      expect(await client.result('blockchain.ref.get', [refHex])).toEqual([
        { tx_hash: mintTxid, height: mintHeight },
        { tx_hash: txidOf(next), height: 0 },
      ]);
      const verbose = (await client.result('blockchain.transaction.get', [
        txidOf(next),
        true,
      ])) as Record<string, unknown>;
      expect(verbose).toEqual(await rpc(node, 'getrawtransaction', [txidOf(next), true]));
      expect(verbose.blockhash).toBeUndefined();
    } finally {
      client.close();
    }
  });

  it('builds the fee histogram from the mempool in ElectrumX bins', async () => {
    // Besides the 600-sat tx above: 100,000 bytes at 10 sat/byte and 50,000 at 2.5 sat/byte.
    const insert = stack.db.sqlite.prepare(
      'INSERT INTO mempool_txs (txid, raw, fee, height, size, seen_at) VALUES (?, ?, ?, 0, ?, 1)'
    );
    insert.run(randomBytes(32), Buffer.from('00', 'hex'), 1_000_000, 100_000);
    insert.run(randomBytes(32), Buffer.from('00', 'hex'), 125_000, 50_000);
    const client = await session('1.6');
    try {
      // ElectrumX's bins, worked by hand: from the highest rate down, an entry closes once it
      // holds more than 30,000 bytes (then 33,000). 10 sat/byte closes alone; the relayed tx
      // (600 sats over a few hundred bytes, about 5 sat/byte) stays open until 2.5 joins it.
      expect(relayedHex).not.toBe('');
      expect(await client.result('mempool.get_fee_histogram')).toEqual([
        [10, 100_000],
        [2.5, 50_000 + relayedHex.length / 2],
      ]);
    } finally {
      client.close();
    }
  });
});

/** Writes the mempool rows the mempool indexer would write for a relayed tx. */
function recordMempoolTx(hex: string, feeSats: number): void {
  const raw = Buffer.from(hex, 'hex');
  const txid = internal(txidOf(hex));
  const db = stack.db.sqlite;
  db.prepare(
    'INSERT INTO mempool_txs (txid, raw, fee, height, size, seen_at) VALUES (?, ?, ?, 0, ?, ?)'
  ).run(txid, raw, feeSats, raw.length, Math.floor(Date.now() / 1000));
  db.prepare(
    'INSERT INTO mempool_outputs (txid, vout, hashx, value, refs) VALUES (?, 0, ?, 800, ?)'
  ).run(txid, scriptHash(nftScript, coin), encodeRefs(nftScript, coin));
  const ref = nftScript.subarray(1, 37);
  db.prepare('INSERT INTO mempool_refs (ref, txid) VALUES (?, ?)').run(ref, txid);
}

describe('Worker logs', () => {
  it('hold no internal errors and no cache failures', () => {
    const lines = stack.worker.output.join('').split('\n');
    const events = lines.filter((line) => line.includes('{"level":'));
    expect(events.filter((line) => line.includes('"level":"error"'))).toEqual([]);
    expect(events.filter((line) => line.includes('edge_cache_'))).toEqual([]);
  });
});
