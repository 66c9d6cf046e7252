// Tests for the simulated node's mempool: sendrawtransaction and its reject codes in both node
// dialects, verbose getrawmempool, mining the mempool, removal, and txs returning after a reorg.
import { afterEach, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { buildBlock, buildCoinbase } from './block-builder.ts';
import { NodeCallError } from './sim-node-client.ts';
import { startSimNode, type SimNode } from './sim-node.ts';
import {
  chainBlocks,
  displayHex,
  p2pkh,
  post,
  rpc,
  sha256d,
  spend,
  txidOf,
} from './sim-node-testkit.ts';

const MOCKTIME = 1_700_000_000;
const COIN = 100_000_000n;

const started: SimNode[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((node) => node.close()));
});

async function start(coinName: string, path: string): Promise<SimNode> {
  const node = await startSimNode({
    coin: getCoin(coinName, coinName === 'BitcoinCash' ? 'regtest' : 'mainnet'),
    blocks: chainBlocks(path),
    user: 'u',
    password: 'p',
    mocktime: MOCKTIME,
  });
  started.push(node);
  return node;
}

async function rejection(node: SimNode, hex: string): Promise<[number, string]> {
  const error = await rpc(node, 'sendrawtransaction', [hex]).catch((caught: unknown) => caught);
  if (!(error instanceof NodeCallError)) throw new Error(`expected a rejection: ${String(error)}`);
  return [error.code, error.message];
}

/** Mines one block paying `value` to p2pkh(tag); returns its coinbase txid. */
async function minedCoinbase(node: SimNode, tag: number, value = 50n * COIN): Promise<string> {
  const [hash] = node.mine({ payToScript: p2pkh(tag), value, includeMempool: false });
  const block = (await rpc(node, 'getblock', [hash])) as { tx: string[] };
  return block.tx[0] ?? '';
}

describe('sendrawtransaction and the mempool (Bitcoin Core wording)', () => {
  it('accepts a spend and its child, with fees, sizes, depends and spentby', async () => {
    const node = await start('Bitcoin', 'data/bitcoin_mainnet_0-255.json');
    const coinbase = await minedCoinbase(node, 1);
    const parent = spend([{ txid: coinbase, vout: 0 }], [
      { value: 49n * COIN, script: p2pkh(2) },
      { value: 95_000_000n, script: p2pkh(3) },
    ]);
    expect(await rpc(node, 'sendrawtransaction', [parent])).toBe(txidOf(parent));
    expect(await rpc(node, 'sendrawtransaction', [parent])).toBe(txidOf(parent));
    const child = spend(
      [{ txid: txidOf(parent), vout: 0 }],
      [{ value: 48n * COIN, script: p2pkh(4) }]
    );
    expect(node.addMempoolTx(child)).toBe(txidOf(child));
    expect(await rpc(node, 'getrawmempool')).toEqual([txidOf(parent), txidOf(child)]);
    const answer = await post(node, { id: 1, method: 'getrawmempool', params: [true] });
    expect(answer.text).toContain('"fee":0.05000000,');
    const verbose = (answer.json as { result: Record<string, Record<string, unknown>> }).result;
    expect(verbose[txidOf(parent)]).toMatchObject({
      fees: { base: 0.05, modified: 0.05 },
      size: parent.length / 2,
      time: MOCKTIME,
      height: 256,
      depends: [],
      spentby: [txidOf(child)],
    });
    expect(verbose[txidOf(child)]).toMatchObject({
      fee: 1,
      depends: [txidOf(parent)],
      spentby: [],
    });
    expect(await rpc(node, 'getmempoolinfo')).toMatchObject({
      size: 2,
      bytes: (parent.length + child.length) / 2,
    });
    const pooled = (await rpc(node, 'getrawtransaction', [txidOf(parent), 1])) as {
      [key: string]: unknown;
    };
    expect(pooled).toMatchObject({ txid: txidOf(parent), hex: parent });
    expect(pooled.blockhash).toBeUndefined();
    expect(pooled.confirmations).toBeUndefined();
  });

  it('rejects conflicts, missing inputs, bad hex, overspends and coinbases', async () => {
    const node = await start('Bitcoin', 'data/bitcoin_mainnet_0-255.json');
    const coinbase = await minedCoinbase(node, 1);
    const first = spend([{ txid: coinbase, vout: 0 }], [{ value: 49n * COIN, script: p2pkh(2) }]);
    node.addMempoolTx(first);
    const rival = spend([{ txid: coinbase, vout: 0 }], [{ value: 48n * COIN, script: p2pkh(3) }]);
    expect(await rejection(node, rival)).toEqual([-26, 'txn-mempool-conflict']);
    const orphan = spend([{ txid: 'ee'.repeat(32), vout: 0 }], [{ value: 1n, script: p2pkh(3) }]);
    expect(await rejection(node, orphan)).toEqual([-25, 'bad-txns-inputs-missingorspent']);
    const decodeFailed = 'TX decode failed. Make sure the tx has at least one input.';
    expect(await rejection(node, 'zz')).toEqual([-22, decodeFailed]);
    expect(await rejection(node, first.slice(0, -2))).toEqual([-22, decodeFailed]);
    expect(await rejection(node, `${first}00`)).toEqual([-22, decodeFailed]);
    const second = await minedCoinbase(node, 5, 10n);
    const overspend = spend([{ txid: second, vout: 0 }], [{ value: 11n, script: p2pkh(3) }]);
    expect(await rejection(node, overspend)).toEqual([
      -26,
      'bad-txns-in-belowout, value in (0.0000001) < value out (0.00000011)',
    ]);
    const sameTwice = [
      { txid: second, vout: 0 },
      { txid: second, vout: 0 },
    ];
    const twice = spend(sameTwice, [{ value: 1n, script: p2pkh(3) }]);
    expect(await rejection(node, twice)).toEqual([-26, 'bad-txns-inputs-duplicate']);
    const coinbaseTx = Buffer.from(buildCoinbase(999, p2pkh(1), 1n)).toString('hex');
    expect(await rejection(node, coinbaseTx)).toEqual([-26, 'bad-tx-coinbase']);
    expect(await rpc(node, 'getrawmempool')).toEqual([txidOf(first)]);
  });

  it('mines the mempool, then refuses the confirmed tx and spends of spent outputs', async () => {
    const node = await start('Bitcoin', 'data/bitcoin_mainnet_0-255.json');
    const coinbase = await minedCoinbase(node, 1);
    const parent = spend([{ txid: coinbase, vout: 0 }], [
      { value: 49n * COIN, script: p2pkh(2) },
      { value: 0n, script: Buffer.from('6a0568656c6c6f', 'hex') },
    ]);
    const child = spend(
      [{ txid: txidOf(parent), vout: 0 }],
      [{ value: 48n * COIN, script: p2pkh(3) }]
    );
    node.addMempoolTx(parent);
    node.addMempoolTx(child);
    const [hash] = node.mine();
    const block = (await rpc(node, 'getblock', [hash, 2])) as {
      tx: { txid: string; vout: { value: number }[] }[];
    };
    expect(block.tx.map((tx) => tx.txid).slice(1)).toEqual([txidOf(parent), txidOf(child)]);
    // Subsidy 50 plus fees 1 + 1.
    expect(block.tx[0]?.vout[0]?.value).toBe(52);
    expect(await rpc(node, 'getrawmempool')).toEqual([]);
    expect(await rejection(node, child)).toEqual([-27, 'Transaction already in block chain']);
    // All of parent's outputs are spent or unspendable: the node sees only its missing inputs.
    expect(await rejection(node, parent)).toEqual([-25, 'bad-txns-inputs-missingorspent']);
    const again = spend([{ txid: coinbase, vout: 0 }], [{ value: 1n, script: p2pkh(5) }]);
    expect(await rejection(node, again)).toEqual([-25, 'bad-txns-inputs-missingorspent']);
    const burnSpend = spend([{ txid: txidOf(parent), vout: 1 }], [{ value: 0n, script: p2pkh(5) }]);
    expect(await rejection(node, burnSpend)).toEqual([-25, 'bad-txns-inputs-missingorspent']);
    const confirmed = (await rpc(node, 'getrawtransaction', [txidOf(child), true])) as {
      [key: string]: unknown;
    };
    expect(confirmed).toMatchObject({ blockhash: hash, confirmations: 1, hex: child });
  });

  it('removes a tx with its descendants', async () => {
    const node = await start('Bitcoin', 'data/bitcoin_mainnet_0-255.json');
    const coinbase = await minedCoinbase(node, 1);
    const a = spend([{ txid: coinbase, vout: 0 }], [{ value: 49n * COIN, script: p2pkh(2) }]);
    const b = spend([{ txid: txidOf(a), vout: 0 }], [{ value: 48n * COIN, script: p2pkh(3) }]);
    const other = await minedCoinbase(node, 7);
    const c = spend([{ txid: other, vout: 0 }], [{ value: 49n * COIN, script: p2pkh(4) }]);
    [a, b, c].forEach((hex) => node.addMempoolTx(hex));
    node.removeMempoolTx(txidOf(a));
    expect(await rpc(node, 'getrawmempool')).toEqual([txidOf(c)]);
    expect(() => node.removeMempoolTx(txidOf(a))).toThrow(/not in the mempool/);
    expect(await rpc(node, 'sim_removemempooltx', [txidOf(c)])).toBeNull();
    expect(await rpc(node, 'getrawmempool')).toEqual([]);
    // The outputs are free again.
    expect(node.addMempoolTx(a)).toBe(txidOf(a));
  });
});

describe('txs of dropped blocks', () => {
  interface Setup {
    node: SimNode;
    coinbase: string;
    parent: string;
    child: string;
  }

  async function setUp(): Promise<Setup> {
    const node = await start('Bitcoin', 'data/bitcoin_mainnet_0-255.json');
    const coinbase = await minedCoinbase(node, 1);
    const parent = spend([{ txid: coinbase, vout: 0 }], [{ value: 49n * COIN, script: p2pkh(2) }]);
    const child = spend(
      [{ txid: txidOf(parent), vout: 0 }],
      [{ value: 48n * COIN, script: p2pkh(3) }]
    );
    node.addMempoolTx(parent);
    node.addMempoolTx(child);
    node.mine();
    expect(node.tipHeight()).toBe(257);
    return { node, coinbase, parent, child };
  }

  function blockOn(node: SimNode, txs: string[]): string {
    const coin = getCoin('Bitcoin', 'mainnet');
    const coinbase = buildCoinbase(257, p2pkh(9), 50n * COIN, Uint8Array.of(0xbe, 0xef));
    return buildBlock({
      coin,
      prevHash: node.blockHash(256),
      txs: [coinbase, ...txs.map((hex) => Buffer.from(hex, 'hex'))],
      time: MOCKTIME + 10,
    });
  }

  it('return to the mempool when the new branch lacks them, before their children', async () => {
    const { node, parent, child } = await setUp();
    const grandchild = spend(
      [{ txid: txidOf(child), vout: 0 }],
      [{ value: 47n * COIN, script: p2pkh(4) }]
    );
    node.addMempoolTx(grandchild);
    node.reorgMine(256, 2);
    expect(node.tipHeight()).toBe(258);
    const expected = [txidOf(parent), txidOf(child), txidOf(grandchild)];
    expect(await rpc(node, 'getrawmempool')).toEqual(expected);
    const pooled = (await rpc(node, 'getrawmempool', [true])) as Record<string, { time: number }>;
    expect(pooled[txidOf(parent)]?.time).toBe(MOCKTIME);
  });

  it('return with children that canonical order put before their parent in the block', async () => {
    const node = await start('BitcoinCash', 'data/bitcoincash_regtest_0-103.json');
    const coinbase = await minedCoinbase(node, 1);
    const fork = node.tipHeight();
    const outputs = Array.from({ length: 8 }, (_, i) => ({ value: COIN, script: p2pkh(20 + i) }));
    const parent = spend([{ txid: coinbase, vout: 0 }], outputs);
    const children = outputs.map((_, vout) =>
      spend([{ txid: txidOf(parent), vout }], [{ value: COIN / 2n, script: p2pkh(30 + vout) }])
    );
    for (const tx of [parent, ...children]) node.addMempoolTx(tx);
    const [hash] = node.mine();
    const mined = ((await rpc(node, 'getblock', [hash])) as { tx: string[] }).tx;
    const parentAt = mined.indexOf(txidOf(parent));
    // The case under test: some child precedes its parent in the block.
    expect(children.some((child) => mined.indexOf(txidOf(child)) < parentAt)).toBe(true);
    node.reorgMine(fork, 2);
    const pooled = (await rpc(node, 'getrawmempool')) as string[];
    expect([...pooled].sort()).toEqual([parent, ...children].map(txidOf).sort());
  });

  it('stay out when the new branch holds them, and children come back alone', async () => {
    const { node, parent, child } = await setUp();
    node.reorg(256, [blockOn(node, [parent])]);
    expect(await rpc(node, 'getrawmempool')).toEqual([txidOf(child)]);
    const confirmed = (await rpc(node, 'getrawtransaction', [txidOf(parent), true])) as {
      [key: string]: unknown;
    };
    expect(confirmed.confirmations).toBe(1);
  });

  it('stay out when the new branch spends their inputs, with their descendants', async () => {
    const { node, coinbase } = await setUp();
    const rival = spend([{ txid: coinbase, vout: 0 }], [{ value: 40n * COIN, script: p2pkh(6) }]);
    node.reorg(256, [blockOn(node, [rival])]);
    expect(await rpc(node, 'getrawmempool')).toEqual([]);
    expect(await rpc(node, 'getrawtransaction', [txidOf(rival)])).toBe(rival);
  });
});

describe('radiant-node wording and Radiant txs', () => {
  it('words rejects as radiant-node / Bitcoin Cash Node do', async () => {
    const node = await start('BitcoinCash', 'data/bitcoincash_regtest_0-103.json');
    const coinbase = await minedCoinbase(node, 1);
    const first = spend([{ txid: coinbase, vout: 0 }], [{ value: 49n * COIN, script: p2pkh(2) }]);
    node.addMempoolTx(first);
    const rival = spend([{ txid: coinbase, vout: 0 }], [{ value: 48n * COIN, script: p2pkh(3) }]);
    expect(await rejection(node, rival)).toEqual([-26, 'txn-mempool-conflict (code 18)']);
    const orphan = spend([{ txid: 'ee'.repeat(32), vout: 0 }], [{ value: 1n, script: p2pkh(3) }]);
    expect(await rejection(node, orphan)).toEqual([-25, 'Missing inputs']);
    expect(await rejection(node, 'zz')).toEqual([-22, 'TX decode failed']);
    const coinbaseTx = Buffer.from(buildCoinbase(999, p2pkh(1), 1n)).toString('hex');
    expect(await rejection(node, coinbaseTx)).toEqual([-26, 'bad-tx-coinbase (code 16)']);
    node.mine();
    expect(await rejection(node, first)).toEqual([-27, 'transaction already in block chain']);
  });

  it('gives version 3 txs their Radiant txid and mines in canonical order', async () => {
    const node = await start('Radiant', 'data/radiant_mainnet_0-1.json');
    const coinbase = await minedCoinbase(node, 1, 50_000n * COIN);
    const v3Outputs = [{ value: 49_000n * COIN, script: p2pkh(2) }];
    const v3 = spend([{ txid: coinbase, vout: 0 }], v3Outputs, 3);
    // DESIGN §3: sha256d(version | n_in | H_in | H_seq | n_out | H_out | locktime), no refs here.
    const u32 = (n: number): Buffer => Buffer.from(Uint32Array.of(n).buffer);
    const u64 = (n: bigint): Buffer => Buffer.from(BigUint64Array.of(n).buffer);
    const prevout = Buffer.concat([Buffer.from(coinbase, 'hex').reverse(), u32(0)]);
    const hIn = sha256d(Buffer.concat([prevout, sha256d(Uint8Array.of(0x51))]));
    const hSeq = sha256d(u32(0xffffffff));
    const outputSummary = [u64(49_000n * COIN), sha256d(p2pkh(2)), u32(0), Buffer.alloc(32)];
    const hOut = sha256d(Buffer.concat(outputSummary));
    const preimage = Buffer.concat([u32(3), u32(1), hIn, hSeq, u32(1), hOut, u32(0)]);
    const expectedTxid = displayHex(sha256d(preimage));
    expect(expectedTxid).not.toBe(txidOf(v3));
    expect(await rpc(node, 'sendrawtransaction', [v3])).toBe(expectedTxid);
    const second = await minedCoinbase(node, 3, 50_000n * COIN);
    const legacy = spend([{ txid: second, vout: 0 }], [{ value: 1n, script: p2pkh(4) }]);
    node.addMempoolTx(legacy);
    expect(await rpc(node, 'getrawmempool')).toEqual([expectedTxid, txidOf(legacy)]);
    const [hash] = node.mine();
    const block = (await rpc(node, 'getblock', [hash])) as { tx: string[] };
    const internal = (txid: string): Buffer => Buffer.from(txid, 'hex').reverse();
    const sorted = [expectedTxid, txidOf(legacy)].sort((a, b) =>
      Buffer.compare(internal(a), internal(b))
    );
    expect(block.tx.slice(1)).toEqual(sorted);
  });
});
