// End to end: what Photonic Wallet does against a Radiant server, through the simulated node, the
// indexer (with its broadcast relay) and the Worker under wrangler dev. The chain is built here
// with tools/block-builder.ts: coinbases to one key, then a tx minting an NFT-style and an
// FT-style output whose refs name real outpoints (DESIGN §3). Every expected value (script hashes,
// statuses, refs, txids, merkle roots, headers) is computed in this file with node:crypto.
import { ElectrumClient, type ElectrumClientEvents } from '@electrum-cash/network';
import { ElectrumWebSocket } from '@electrum-cash/web-socket';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { getCoin } from '../core/coins.ts';
import { buildBlock, buildCoinbase, serializeTx } from '../tools/block-builder.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { startStack, type Stack } from '../tools/stack.ts';

const COIN = getCoin('Radiant', 'mainnet');
const BASE_CHAIN = resolve(import.meta.dirname, '../data/radiant_mainnet_0-1.json');
// Blocks 0 and 1 come from the fixture; the wallet's coinbases are at 2, 3 and 4; the mint at 10.
const KEY_HEIGHTS = [2, 3, 4];
const MINT_HEIGHT = 10;
// Tip past one 2016-header chunk, so block.headers is asked for a full chunk and a short one.
const TIP_HEIGHT = 2030;
const SUBSIDY = 5_000_000_000_000n;
const NFT_VALUE = 1_000n;
const FT_VALUE = 5_000n;
const MINT_FEE = 10_000n;
const SEND_FEE = 20_000n;
const NOTIFY_TIMEOUT_MS = 30_000;
const ADMIN_TOKEN = randomBytes(24).toString('hex');

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();
const sha256d = (data: Uint8Array): Buffer => sha256(sha256(data));
const sha512_256 = (data: Uint8Array): Buffer => createHash('sha512-256').update(data).digest();
const display = (internal: Uint8Array): string => Buffer.from(internal).reverse().toString('hex');
const internal = (displayHex: string): Buffer => Buffer.from(displayHex, 'hex').reverse();
const txidOf = (raw: Uint8Array): string => display(sha256d(raw));
// Radiant's block hash: SHA-512/256 applied twice to the 80-byte header (DESIGN §3).
const blockHashOf = (blockHex: string): string =>
  display(sha512_256(sha512_256(Buffer.from(blockHex.slice(0, 160), 'hex'))));

const WALLET_KEY = sha256(Buffer.from('photonic test key')).subarray(0, 20).toString('hex');
const OTHER_KEY = sha256(Buffer.from('someone else')).subarray(0, 20).toString('hex');
const FT_TAIL = Buffer.from('dec0e9aa76e378e4a269e69d', 'hex');

function p2pkh(hash160: string): Buffer {
  return Buffer.from(`76a914${hash160}88ac`, 'hex');
}

/** The 36 bytes naming an outpoint: txid in internal order, then the vout little-endian. */
function refBytes(txid: string, vout: number): Buffer {
  const ref = Buffer.alloc(36);
  internal(txid).copy(ref);
  ref.writeUInt32LE(vout, 32);
  return ref;
}

function nftScript(ref: Buffer): Buffer {
  return Buffer.concat([Buffer.of(0xd8), ref, Buffer.of(0x75), p2pkh(WALLET_KEY)]);
}

function ftScript(ref: Buffer): Buffer {
  return Buffer.concat([p2pkh(WALLET_KEY), Buffer.of(0xbd, 0xd0), ref, FT_TAIL]);
}

// Wallets send the script hash reversed; scripts with a checksig opcode have their ref operands
// zeroed first, which is what building them with an all-zero ref does.
const scriptHashOf = (script: Buffer): string => display(sha256(script));
const PLAIN_HASH = scriptHashOf(p2pkh(WALLET_KEY));
const NFT_HASH = scriptHashOf(nftScript(Buffer.alloc(36)));
const FT_HASH = scriptHashOf(ftScript(Buffer.alloc(36)));

/** The protocol's status: sha256 over "txid:height:" of every tx, hex; null without txs. */
function statusOf(history: { txid: string; height: number }[]): string | null {
  if (history.length === 0) return null;
  const text = history.map(({ txid, height }) => `${txid}:${height}:`).join('');
  return sha256(Buffer.from(text)).toString('hex');
}

// Looks like a signature push and a key push; the simulated node checks no signatures.
const FAKE_UNLOCK = Buffer.concat([
  Buffer.of(0x47),
  Buffer.alloc(71, 0x30),
  Buffer.of(0x21),
  Buffer.alloc(33, 2),
]);

function spendTx(
  inputs: { txid: string; vout: number }[],
  outputs: { value: bigint; script: Buffer }[]
): Uint8Array {
  return serializeTx({
    version: 2,
    inputs: inputs.map(({ txid, vout }) => ({
      prevTxid: internal(txid),
      prevVout: vout,
      script: FAKE_UNLOCK,
      sequence: 0xffffffff,
    })),
    outputs,
    locktime: 0,
  });
}

/** What the test knows of the chain it built. */
interface BuiltChain {
  blocks: string[];
  coinbases: Map<number, string>;
  mintRaw: Buffer;
  mintTxid: string;
  mintBlockTxids: string[];
}

function buildChain(): BuiltChain {
  const blocks = loadChainFile(BASE_CHAIN);
  const coinbases = new Map<number, string>();
  let mintRaw = Buffer.alloc(0);
  let mintBlockTxids: string[] = [];
  let timeSec = Buffer.from(blocks[1] ?? '', 'hex').readUInt32LE(68);
  for (let height = blocks.length; height <= TIP_HEIGHT; height++) {
    const payee = KEY_HEIGHTS.includes(height) ? WALLET_KEY : OTHER_KEY;
    const coinbase = buildCoinbase(height, p2pkh(payee), SUBSIDY);
    coinbases.set(height, txidOf(coinbase));
    const txs: Uint8Array[] = [coinbase];
    if (height === MINT_HEIGHT) {
      mintRaw = Buffer.from(mintTx(coinbases));
      txs.push(mintRaw);
      mintBlockTxids = txs.map(txidOf);
    }
    timeSec += 60;
    const prevHash = blockHashOf(blocks[height - 1] ?? '');
    blocks.push(buildBlock({ coin: COIN, prevHash, txs, time: timeSec }));
  }
  return { blocks, coinbases, mintRaw, mintTxid: txidOf(mintRaw), mintBlockTxids };
}

// Spends the coinbases of heights 2 and 3; the NFT's ref names the first outpoint spent, the
// FT's ref the second, as a mint does.
function mintTx(coinbases: Map<number, string>): Uint8Array {
  const [nftSource, ftSource] = [coinbases.get(2) ?? '', coinbases.get(3) ?? ''];
  const change = 2n * SUBSIDY - NFT_VALUE - FT_VALUE - MINT_FEE;
  return spendTx(
    [
      { txid: nftSource, vout: 0 },
      { txid: ftSource, vout: 0 },
    ],
    [
      { value: NFT_VALUE, script: nftScript(refBytes(nftSource, 0)) },
      { value: FT_VALUE, script: ftScript(refBytes(ftSource, 0)) },
      { value: change, script: p2pkh(WALLET_KEY) },
    ]
  );
}

/** Folds a merkle branch (display hex) from a txid (display hex) up to the root (internal). */
function foldBranch(txid: string, branch: string[], position: number): Buffer {
  let node = internal(txid);
  let index = position;
  for (const sibling of branch) {
    const other = internal(sibling);
    node = sha256d(index % 2 === 0 ? Buffer.concat([node, other]) : Buffer.concat([other, node]));
    index = Math.floor(index / 2);
  }
  return node;
}

let chain: BuiltChain;
let stack: Stack;
let workDir: string;
let client: ElectrumClient<ElectrumClientEvents>;
const notifications: unknown[][] = [];
const logs: string[] = [];

async function call(method: string, ...params: (string | number | boolean)[]): Promise<unknown> {
  const result = await client.request(method, ...params);
  if (result instanceof Error) throw result;
  return result;
}

async function waitFor<T>(
  what: string,
  read: () => T | undefined | Promise<T | undefined>
): Promise<T> {
  const deadline = Date.now() + NOTIFY_TIMEOUT_MS;
  for (let round = 0; round < 1_000; round++) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  chain = buildChain();
  workDir = mkdtempSync(join(tmpdir(), 'photonic-'));
  const chainFile = join(workDir, 'chain.json');
  writeFileSync(chainFile, JSON.stringify({ blocks: chain.blocks }));
  stack = await startStack({
    chainFile,
    coin: COIN.name,
    net: COIN.net,
    notify: 'stack',
    indexerEnv: { POLL_INTERVAL_MS: '200' },
    workerVars: { ADMIN_TOKEN },
    onLog: (line) => logs.push(line),
  }).catch((error: unknown) => {
    console.error(logs.slice(-60).join('\n'));
    throw error;
  });
  // The library's own server.version names the client ["photonic", "1.4"], as the wallet does.
  const socket = new ElectrumWebSocket('127.0.0.1', stack.workerPort, false);
  client = new ElectrumClient('photonic', '1.4', socket);
  client.on('notification', ({ method, params }) => {
    if (Array.isArray(params)) notifications.push([method, ...params]);
  });
  await client.connect();
}, 240_000);

afterAll(async () => {
  await client?.disconnect(true);
  await stack?.stop();
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

function statusNotices(scriptHash: string): unknown[] {
  return notifications
    .filter((entry) => entry[0] === 'blockchain.scripthash.subscribe' && entry[1] === scriptHash)
    .map((entry) => entry[2]);
}

describe('a Photonic-style wallet session on Radiant', () => {
  const plainHistory = () => [
    ...KEY_HEIGHTS.map((height) => ({ txid: chain.coinbases.get(height) ?? '', height })),
    { txid: chain.mintTxid, height: MINT_HEIGHT },
  ];

  it('negotiates 1.4 as "photonic" on a raw WebSocket too', async () => {
    const socket = new WebSocket(stack.wsUrl);
    try {
      await new Promise((done, fail) => socket.once('open', done).once('error', fail));
      const reply = new Promise<string>((done) => {
        socket.once('message', (data) => done(String(data)));
      });
      socket.send(JSON.stringify({ id: 7, method: 'server.version', params: ['photonic', '1.4'] }));
      expect(JSON.parse(await reply)).toMatchObject({ id: 7, result: [expect.any(String), '1.4'] });
    } finally {
      socket.terminate();
    }
  });

  it('subscribes the plain, NFT and FT script hashes of the address', async () => {
    // DESIGN §3's worked examples hold for the genesis key; ours differs, so check the rule once.
    const genesisKey = '4f9ab47a237441c0dc61dcd39fd92709f281b033';
    const zeroRef = Buffer.alloc(36);
    const genesisScripts = [
      p2pkh(genesisKey),
      Buffer.concat([Buffer.of(0xd8), zeroRef, Buffer.of(0x75), p2pkh(genesisKey)]),
      Buffer.concat([p2pkh(genesisKey), Buffer.of(0xbd, 0xd0), zeroRef, FT_TAIL]),
    ];
    expect(genesisScripts.map(scriptHashOf)).toEqual([
      '9932d8a64601168b894a4a2a4fbc72b3e71698a3c09e8010a6f297f7b9bc03fd',
      'ee250f5db97333f5aefd8e73bef9d3235c952aeb1fa11c1393121463d1879b5d',
      '8161a9d28d935e6a2f04085e981d5eca65bd5ac6a4fd6dad608f8873ac76c97e',
    ]);
    for (const hash of [PLAIN_HASH, NFT_HASH, FT_HASH]) {
      await client.subscribe('blockchain.scripthash.subscribe', hash);
    }
    const mintOnly = statusOf([{ txid: chain.mintTxid, height: MINT_HEIGHT }]);
    const answered = () =>
      [PLAIN_HASH, NFT_HASH, FT_HASH].every((hash) => statusNotices(hash).length > 0);
    await waitFor('three subscribe answers', () => (answered() ? true : undefined));
    expect(statusNotices(PLAIN_HASH)[0]).toBe(statusOf(plainHistory()));
    expect(statusNotices(NFT_HASH)[0]).toBe(mintOnly);
    expect(statusNotices(FT_HASH)[0]).toBe(mintOnly);
  });

  it('lists unspent outputs with their refs', async () => {
    const nftSource = chain.coinbases.get(2) ?? '';
    const ftSource = chain.coinbases.get(3) ?? '';
    const nft = (await call('blockchain.scripthash.listunspent', NFT_HASH)) as unknown[];
    expect(nft).toEqual([
      expect.objectContaining({
        tx_hash: chain.mintTxid,
        tx_pos: 0,
        height: MINT_HEIGHT,
        value: Number(NFT_VALUE),
        refs: [{ ref: `${nftSource}i0`, type: 'single' }],
      }),
    ]);
    const ft = (await call('blockchain.scripthash.listunspent', FT_HASH)) as unknown[];
    expect(ft).toEqual([
      expect.objectContaining({
        tx_hash: chain.mintTxid,
        tx_pos: 1,
        value: Number(FT_VALUE),
        refs: [{ ref: `${ftSource}i0`, type: 'normal' }],
      }),
    ]);
    const plain = (await call('blockchain.scripthash.listunspent', PLAIN_HASH)) as {
      tx_hash: string;
      tx_pos: number;
      height: number;
    }[];
    const outpoints = plain.map((row) => `${row.tx_hash}:${row.tx_pos}:${row.height}`).sort();
    const expected = [`${chain.coinbases.get(4)}:0:4`, `${chain.mintTxid}:2:${MINT_HEIGHT}`];
    expect(outpoints).toEqual(expected.sort());
  });

  it('finds the mint of each ref with blockchain.ref.get', async () => {
    const nftSource = chain.coinbases.get(2) ?? '';
    const mint = { tx_hash: chain.mintTxid, height: MINT_HEIGHT };
    // 72 hex: the display txid, then the vout as 4 big-endian bytes.
    expect(await call('blockchain.ref.get', `${nftSource}00000000`)).toEqual([mint, mint]);
    const unknownRef = `${OTHER_KEY.padEnd(64, '0')}00000001`;
    expect(await call('blockchain.ref.get', unknownRef)).toEqual([]);
  });

  it('proves the mint with get_merkle against the header merkle root', async () => {
    type Proof = { block_height: number; merkle: string[]; pos: number };
    const proof = (await call(
      'blockchain.transaction.get_merkle',
      chain.mintTxid,
      MINT_HEIGHT
    )) as Proof;
    expect(proof.block_height).toBe(MINT_HEIGHT);
    expect(proof.pos).toBe(chain.mintBlockTxids.indexOf(chain.mintTxid));
    const headerHex = (await call('blockchain.block.header', MINT_HEIGHT)) as string;
    const header = Buffer.from(headerHex, 'hex');
    expect(header.toString('hex')).toBe(chain.blocks[MINT_HEIGHT]?.slice(0, 160));
    const root = foldBranch(chain.mintTxid, proof.merkle, proof.pos);
    expect(root.toString('hex')).toBe(header.subarray(36, 68).toString('hex'));
  });

  it('serves headers in chunks of 2016', async () => {
    const headerHex = (from: number, to: number) =>
      chain.blocks.slice(from, to).map((block) => block.slice(0, 160)).join('');
    type Chunk = { count: number; hex: string; max: number };
    const first = (await call('blockchain.block.headers', 0, 2016)) as Chunk;
    expect(first.count).toBe(2016);
    expect(first.max).toBe(2016);
    expect(first.hex).toBe(headerHex(0, 2016));
    const rest = (await call('blockchain.block.headers', 2016, 2016)) as Chunk;
    expect(rest.count).toBe(TIP_HEIGHT - 2016 + 1);
    expect(rest.hex).toBe(headerHex(2016, TIP_HEIGHT + 1));
  });

  it('reads confirmations from a verbose transaction, one more after a new block', async () => {
    type Verbose = { txid: string; hex: string; confirmations: number; blockhash: string };
    const before = (await call('blockchain.transaction.get', chain.mintTxid, true)) as Verbose;
    expect(before.txid).toBe(chain.mintTxid);
    expect(before.hex).toBe(chain.mintRaw.toString('hex'));
    expect(before.blockhash).toBe(blockHashOf(chain.blocks[MINT_HEIGHT] ?? ''));
    expect(before.confirmations).toBe(TIP_HEIGHT - MINT_HEIGHT + 1);
    stack.simNode.mine({ payToScript: p2pkh(OTHER_KEY), includeMempool: false });
    await stack.waitForIndexHeight(TIP_HEIGHT + 1);
    const after = await waitFor('one more confirmation', async () => {
      const tx = (await call('blockchain.transaction.get', chain.mintTxid, true)) as Verbose;
      return tx.confirmations === before.confirmations ? undefined : tx;
    });
    expect(after.confirmations).toBe(before.confirmations + 1);
  });

  it('broadcasts a tx the node accepts: get_mempool shows it, the subscriber hears', async () => {
    const change = 2n * SUBSIDY - NFT_VALUE - FT_VALUE - MINT_FEE;
    const raw = spendTx([{ txid: chain.mintTxid, vout: 2 }], [
      { value: change - SEND_FEE, script: p2pkh(WALLET_KEY) },
    ]);
    const txid = txidOf(raw);
    const noticesBefore = statusNotices(PLAIN_HASH).length;
    const rawHex = Buffer.from(raw).toString('hex');
    expect(await call('blockchain.transaction.broadcast', rawHex)).toBe(txid);
    const mempool = await waitFor('the tx in get_mempool', async () => {
      const rows = (await call('blockchain.scripthash.get_mempool', PLAIN_HASH)) as unknown[];
      return rows.length > 0 ? rows : undefined;
    });
    expect(mempool).toEqual([{ tx_hash: txid, height: 0, fee: Number(SEND_FEE) }]);
    const status = await waitFor('the status notification', () => {
      const notices = statusNotices(PLAIN_HASH);
      return notices.length > noticesBefore ? notices.at(-1) : undefined;
    });
    expect(status).toBe(statusOf([...plainHistory(), { txid, height: 0 }]));
    // The Worker timed that notification from the indexer's commit (GET /admin/metrics).
    const latencyCount = await waitFor('a notification latency sample', async () => {
      const response = await fetch(`${stack.httpUrl}/admin/metrics`, {
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const line = (await response.text())
        .split('\n')
        .find((text) => text.startsWith('electrum_edge_notify_latency_seconds_count '));
      const count = Number(line?.split(' ')[1] ?? 0);
      return count > 0 ? count : undefined;
    });
    expect(latencyCount).toBeGreaterThan(0);
    // A tx the node refuses (it spends the same output again) comes back with the node's reason.
    const conflict = spendTx([{ txid: chain.mintTxid, vout: 2 }], [
      { value: change - 2n * SEND_FEE, script: p2pkh(OTHER_KEY) },
    ]);
    const conflictHex = Buffer.from(conflict).toString('hex');
    const refused = await client.request('blockchain.transaction.broadcast', conflictHex);
    expect(refused).toBeInstanceOf(Error);
    expect(String(refused)).toContain('the transaction was rejected by network rules');
  });
});
