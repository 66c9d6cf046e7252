// The mempool end to end: a simulated Radiant node, sync and the mempool follower in this process,
// answers read through the Worker's own reader (LibsqlIndexReader over the index server), and
// every status of the index recomputed independently (test/support/independent-ledger.ts).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import type { IndexServer } from '../indexer/index-server/server.ts';
import { buildBlock, buildCoinbase } from '../tools/block-builder.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { DEFAULT_PAYOUT_SCRIPT } from '../tools/sim-node-miner.ts';
import type { SimNode } from '../tools/sim-node.ts';
import { LibsqlIndexReader } from '../worker/libsql-reader.ts';
import { PROJECT_DIR, startTestNode, tempDir } from './indexer-support.ts';
import {
  captureLog,
  GENESIS_KEY_HASH160,
  indexStatuses,
  keyHash,
  nodeBlocks,
  nodeMempoolHex,
  p2pkhScript,
  refOf,
  singletonScript,
  startLocalIndexer,
  tokenScript,
  txHex,
  txidOfHex,
  waitSettled,
  type LocalIndexer,
} from './mempool-support.ts';
import { coinbaseOf, ledgerStatuses, scriptHashHex } from './support/independent-ledger.ts';
import { startWorkerReader } from './support/local-index.ts';

const coin = getCoin('Radiant', 'mainnet');
const dir = tempDir('mempool-test-');
let node: SimNode;
let indexer: LocalIndexer;
let server: IndexServer;
let reader: LibsqlIndexReader;
const logs = captureLog('info');

const hashxOf = (script: Uint8Array): Uint8Array =>
  Buffer.from(scriptHashHex(Buffer.from(script), true), 'hex').reverse();
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const displayTxid = (txid: Uint8Array): string => Buffer.from(txid).reverse().toString('hex');

const A = p2pkhScript(keyHash('a'));
const B = p2pkhScript(keyHash('b'));
const D = p2pkhScript(keyHash('d'));
const E = p2pkhScript(keyHash('e'));
const K = Buffer.from(DEFAULT_PAYOUT_SCRIPT);

/** Coinbase outpoints of heights 2.. (mined to K), spent one per test. */
const coinbases: { txid: string; value: bigint }[] = [];

async function settle(): Promise<void> {
  await indexer.mempool.refreshNow();
  await waitSettled(node, indexer.dbPath, 60_000);
}

/** Every status row equals the independent recomputation over the node's chain and mempool. */
async function expectAllStatuses(): Promise<void> {
  const expected = ledgerStatuses(nodeBlocks(node), await nodeMempoolHex(node), true);
  expect(indexStatuses(indexer.dbPath)).toEqual(expected);
}

async function mempoolOf(
  script: Uint8Array
): Promise<{ tx: string; height: number; fee: bigint }[]> {
  const rows = await reader.mempoolHistory(hashxOf(script));
  return rows.map((row) => ({ tx: displayTxid(row.txid), height: row.height, fee: row.fee }));
}

function mempoolRow(txid: string): { height: number; fee: bigint } | undefined {
  const db = new Database(indexer.dbPath, { readonly: true });
  try {
    const row = db
      .prepare('SELECT height, fee FROM mempool_txs WHERE txid = ?')
      .safeIntegers(true)
      .get(Buffer.from(txid, 'hex').reverse()) as { height: bigint; fee: bigint } | undefined;
    return row === undefined ? undefined : { height: Number(row.height), fee: row.fee };
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  const base = loadChainFile(join(PROJECT_DIR, 'data/radiant_mainnet_0-1.json'));
  node = await startTestNode(coin, base);
  node.mine({ count: 8 });
  for (let height = 2; height <= node.tipHeight(); height++) {
    coinbases.push(coinbaseOf(node.blockHex(height)));
  }
  indexer = startLocalIndexer({ node, coin, dir });
  await waitSettled(node, indexer.dbPath);
  ({ server, reader } = await startWorkerReader(indexer.dbPath));
});

afterAll(async () => {
  await server?.close();
  await indexer?.stop();
  await node?.close();
  logs.restore();
  rmSync(dir, { recursive: true, force: true });
});

function coinbase(i: number): { txid: string; value: bigint } {
  const found = coinbases[i];
  if (found === undefined) throw new Error(`no coinbase ${i}`);
  return found;
}

describe('mempool', () => {
  // Built in the first test: the coinbases exist once beforeAll has mined them.
  let parent = '';
  let child = '';

  it('indexes a parent (height 0) and its child (height -1) with their fees', async () => {
    parent = txHex(
      [{ txid: coinbase(0).txid, vout: 0 }],
      [
        { value: 10_000_000n, script: A },
        { value: coinbase(0).value - 10_000_000n - 1_000n, script: K },
      ]
    );
    child = txHex([{ txid: txidOfHex(parent), vout: 0 }], [{ value: 9_999_500n, script: B }]);
    node.addMempoolTx(parent);
    node.addMempoolTx(child);
    await settle();
    expect(await mempoolOf(B)).toEqual([{ tx: txidOfHex(child), height: -1, fee: 500n }]);
    // DESIGN §5 order: height 0 before -1.
    expect(await mempoolOf(A)).toEqual([
      { tx: txidOfHex(parent), height: 0, fee: 1_000n },
      { tx: txidOfHex(child), height: -1, fee: 500n },
    ]);
    const noneConfirmed = { confirmed: 0n, utxoCount: 0 };
    expect(await reader.balance(hashxOf(A))).toEqual({ ...noneConfirmed, unconfirmed: 0n });
    expect(await reader.balance(hashxOf(B))).toEqual({ ...noneConfirmed, unconfirmed: 9_999_500n });
    const unspentB = await reader.unspent(hashxOf(B), 1000);
    expect(unspentB.map((u) => [displayTxid(u.txid), u.vout, u.height, u.value])).toEqual([
      [txidOfHex(child), 0, 0, 9_999_500n],
    ]);
    expect(await reader.unspent(hashxOf(A), 1000)).toEqual([]);
    await expectAllStatuses();
  });

  it('sets the child to height 0 when only its parent is mined', async () => {
    const height = node.tipHeight() + 1;
    const coinbaseTx = buildCoinbase(height, K, 1n, Buffer.from('parent only'));
    const time = Buffer.from(node.blockHex(height - 1).slice(136, 144), 'hex').readUInt32LE(0) + 1;
    const txs = [coinbaseTx, Buffer.from(parent, 'hex')];
    node.addBlocks([buildBlock({ coin, prevHash: node.tipHash(), txs, time })]);
    await settle();
    expect(mempoolRow(txidOfHex(parent))).toBeUndefined();
    expect(mempoolRow(txidOfHex(child))).toEqual({ height: 0, fee: 500n });
    expect(await mempoolOf(A)).toEqual([{ tx: txidOfHex(child), height: 0, fee: 500n }]);
    await expectAllStatuses();
  });

  it('keeps an unmined tx across a burst of 200 blocks', async () => {
    const before = node.tipHeight();
    node.mine({ count: 200, includeMempool: false });
    await settle();
    expect(node.tipHeight()).toBe(before + 200);
    expect(mempoolRow(txidOfHex(child))).toEqual({ height: 0, fee: 500n });
    await expectAllStatuses();
  });

  it('drops a tx once it is mined', async () => {
    node.mine();
    await settle();
    expect(mempoolRow(txidOfHex(child))).toBeUndefined();
    expect(await mempoolOf(B)).toEqual([]);
    const history = await reader.history(hashxOf(B), 100);
    expect(history.confirmed.map((row) => [displayTxid(row.txid), row.height])).toEqual([
      [txidOfHex(child), node.tipHeight()],
    ]);
    expect(history.confirmedCount).toBe(1);
    // At the limit the entries are counted, not read: the caller refuses such a history.
    expect(await reader.history(hashxOf(B), 1)).toMatchObject({ confirmedCount: 1, confirmed: [] });
    await expectAllStatuses();
  });

  it('replaces a mempool tx by a double spend of its input', async () => {
    const spent = { txid: coinbase(1).txid, vout: 0 };
    const first = txHex([spent], [{ value: coinbase(1).value - 1_000n, script: D }]);
    node.addMempoolTx(first);
    await settle();
    expect(await mempoolOf(D)).toHaveLength(1);
    node.removeMempoolTx(txidOfHex(first));
    const second = txHex([spent], [{ value: coinbase(1).value - 3_000n, script: E }]);
    node.addMempoolTx(second);
    await settle();
    expect(await mempoolOf(D)).toEqual([]);
    expect(await reader.status(hashxOf(D))).toBeNull();
    const empty = { confirmed: 0n, unconfirmed: 0n, utxoCount: 0 };
    expect(await reader.balance(hashxOf(D))).toEqual(empty);
    expect(await mempoolOf(E)).toEqual([{ tx: txidOfHex(second), height: 0, fee: 3_000n }]);
    await expectAllStatuses();
  });

  it('makes unconfirmed negative for a self-send (the fee)', async () => {
    const spent = coinbase(2);
    const selfSend = txHex(
      [{ txid: spent.txid, vout: 0 }],
      [{ value: spent.value - 2_000n, script: K }]
    );
    const balanceBefore = await reader.balance(hashxOf(K));
    node.addMempoolTx(selfSend);
    await settle();
    const balance = await reader.balance(hashxOf(K));
    // K also funds the replacement above, still unconfirmed: the self-send adds minus its fee.
    expect(balance.confirmed).toBe(balanceBefore.confirmed);
    expect(balance.unconfirmed - balanceBefore.unconfirmed).toBe(-2_000n);
    expect(balance.unconfirmed).toBeLessThan(0n);
    const unspent = await reader.unspent(hashxOf(K), 1000);
    const outpoints = unspent.map((u) => `${displayTxid(u.txid)}:${u.vout}:${u.height}`);
    expect(outpoints).toContain(`${txidOfHex(selfSend)}:0:0`);
    expect(outpoints.some((o) => o.startsWith(`${spent.txid}:0:`))).toBe(false);
    await expectAllStatuses();
  });

  it('lists the Radiant refs of mempool outputs, then of the mined tx', async () => {
    const spent = coinbase(3);
    const single = refOf(spent.txid, 0);
    const normal = refOf(spent.txid, 1);
    const minted = txHex(
      [{ txid: spent.txid, vout: 0 }],
      [
        { value: 1_000_000n, script: singletonScript(single, GENESIS_KEY_HASH160) },
        { value: 2_000_000n, script: tokenScript(normal, GENESIS_KEY_HASH160) },
        { value: spent.value - 3_001_000n, script: K },
      ]
    );
    node.addMempoolTx(minted);
    await settle();
    // DESIGN §3 worked examples: these hold for any ref.
    const nftHash = 'ee250f5db97333f5aefd8e73bef9d3235c952aeb1fa11c1393121463d1879b5d';
    const ftHash = '8161a9d28d935e6a2f04085e981d5eca65bd5ac6a4fd6dad608f8873ac76c97e';
    const nft = await reader.unspent(Buffer.from(nftHash, 'hex').reverse(), 1000);
    const ft = await reader.unspent(Buffer.from(ftHash, 'hex').reverse(), 1000);
    expect(nft.map((u) => [displayTxid(u.txid), u.vout, u.height, hex(u.refs ?? Buffer.alloc(0))]))
      .toEqual([[txidOfHex(minted), 0, 0, `${single.toString('hex')}01`]]);
    expect(ft.map((u) => [displayTxid(u.txid), u.vout, u.height, hex(u.refs ?? Buffer.alloc(0))]))
      .toEqual([[txidOfHex(minted), 1, 0, `${normal.toString('hex')}00`]]);
    expect(refRows('mempool_refs')).toEqual([
      `${single.toString('hex')} ${txidOfHex(minted)}`,
      `${normal.toString('hex')} ${txidOfHex(minted)}`,
    ].sort());
    await expectAllStatuses();

    node.mine();
    await settle();
    expect(refRows('mempool_refs')).toEqual([]);
    const mined = await reader.unspent(Buffer.from(nftHash, 'hex').reverse(), 1000);
    expect(mined.map((u) => [displayTxid(u.txid), u.height])).toEqual([
      [txidOfHex(minted), node.tipHeight()],
    ]);
    await expectAllStatuses();
  });
});

function refRows(table: 'mempool_refs'): string[] {
  const db = new Database(indexer.dbPath, { readonly: true });
  try {
    const rows = db.prepare(`SELECT ref, txid FROM ${table}`).all() as {
      ref: Buffer;
      txid: Buffer;
    }[];
    return rows.map((row) => `${row.ref.toString('hex')} ${displayTxid(row.txid)}`).sort();
  } finally {
    db.close();
  }
}
