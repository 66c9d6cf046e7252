// Tests for the simulated node's chain changes: addBlocks, reorgs onto the btcd side chain and
// back, and mining, checked with node:crypto against the fixture bytes.
import { afterEach, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { NodeCallError } from './sim-node-client.ts';
import { startSimNode, type SimNode } from './sim-node.ts';
import {
  chainBlocks,
  displayHex,
  headerHashHex,
  p2pkh,
  rpc,
  sha256d,
  sha512_256d,
} from './sim-node-testkit.ts';

const MAIN = chainBlocks('data/bitcoin_mainnet_0-255.json');
const SIDE = chainBlocks('test/fixtures/chains/btcd_sidechain_blocks_0-4.json');
const RADIANT = chainBlocks('data/radiant_mainnet_0-1.json');
// test/fixtures/chains/SOURCES.md
const MAIN_TIP = '00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c';
const SIDE_TIP = '000000002f264d6504013e73b9c913de9098d4d771c1bb219af475d2a01b128e';
const REGTEST_TARGET = 0x7fffffn << 232n;

const started: SimNode[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((node) => node.close()));
});

async function start(blocks: string[], coinName = 'Bitcoin'): Promise<SimNode> {
  const node = await startSimNode({
    coin: getCoin(coinName, 'mainnet'),
    blocks,
    user: 'u',
    password: 'p',
    mocktime: 1_700_000_000,
  });
  started.push(node);
  return node;
}

const headerOf = (blockHex: string): Buffer => Buffer.from(blockHex.slice(0, 160), 'hex');

describe('addBlocks', () => {
  it('appends linked blocks, through the API and sim_addblocks', async () => {
    const node = await start(MAIN.slice(0, 101));
    node.addBlocks(MAIN.slice(101, 111));
    expect(node.tipHash()).toBe(headerHashHex(MAIN[110] ?? ''));
    expect(await rpc(node, 'sim_addblocks', [MAIN[111], MAIN[112]])).toEqual([
      headerHashHex(MAIN[111] ?? ''),
      headerHashHex(MAIN[112] ?? ''),
    ]);
    const viaArray = await rpc(node, 'sim_addblocks', [[MAIN[113]]]);
    expect(viaArray).toEqual([headerHashHex(MAIN[113] ?? '')]);
    expect(await rpc(node, 'getblockcount')).toBe(113);
  });

  it('refuses blocks that do not link and keeps the chain as it was', async () => {
    const node = await start(MAIN.slice(0, 101));
    expect(() => node.addBlocks([MAIN[102] ?? ''])).toThrow(/does not link/);
    const gap = [MAIN[101] ?? '', MAIN[103] ?? ''];
    expect(() => node.addBlocks(gap)).toThrow(/height 102 does not link/);
    expect(() => node.addBlocks(['00'.repeat(40)])).toThrow(/no header/);
    expect(() => node.addBlocks(['xyz'])).toThrow(/not even-length hex/);
    expect(node.tipHeight()).toBe(100);
    const error = await rpc(node, 'sim_addblocks', [MAIN[105]]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NodeCallError);
    expect((error as NodeCallError).message).toMatch(/does not link/);
    expect(await rpc(node, 'getbestblockhash')).toBe(headerHashHex(MAIN[100] ?? ''));
  });
});

describe('reorg', () => {
  it('switches to the btcd side chain and back, keeping stale blocks answerable', async () => {
    const node = await start(MAIN);
    const old170 = headerHashHex(MAIN[170] ?? '');
    const oldTx = ((await rpc(node, 'getblock', [old170])) as { tx: string[] }).tx[1] ?? '';
    node.reorg(0, SIDE.slice(1));
    expect(await rpc(node, 'getblockcount')).toBe(4);
    expect(await rpc(node, 'getbestblockhash')).toBe(SIDE_TIP);
    expect(await rpc(node, 'getblockhash', [1])).toBe(headerHashHex(SIDE[1] ?? ''));
    const stale = (await rpc(node, 'getblockheader', [old170])) as Record<string, unknown>;
    expect(stale.confirmations).toBe(-1);
    expect(stale.nextblockhash).toBeUndefined();
    expect(await rpc(node, 'getblock', [old170, 0])).toBe(MAIN[170]);
    // Its tx spent a coinbase of a dropped block: it cannot come back to the mempool.
    expect(await rpc(node, 'getrawmempool')).toEqual([]);
    await expect(rpc(node, 'getrawtransaction', [oldTx])).rejects.toThrow(/No such mempool/);
    const side3 = (await rpc(node, 'getblock', [headerHashHex(SIDE[3] ?? '')])) as { tx: string[] };
    expect(side3.tx).toHaveLength(3);
    for (const txid of side3.tx) {
      const raw = (await rpc(node, 'getrawtransaction', [txid])) as string;
      expect(displayHex(sha256d(Buffer.from(raw, 'hex')))).toBe(txid);
    }
    expect(await rpc(node, 'sim_reorg', [0, MAIN.slice(1)])).toHaveLength(255);
    expect(await rpc(node, 'getbestblockhash')).toBe(MAIN_TIP);
    const back = (await rpc(node, 'getblockheader', [old170])) as Record<string, unknown>;
    expect(back.confirmations).toBe(86);
    expect(await rpc(node, 'getrawtransaction', [oldTx])).toBeTypeOf('string');
  });

  it('refuses a branch that does not link or a fork height off the chain', async () => {
    const node = await start(MAIN.slice(0, 50));
    expect(() => node.reorg(1, SIDE.slice(1))).toThrow(/does not link/);
    expect(() => node.reorg(50, [])).toThrow(RangeError);
    expect(() => node.reorg(-1, [])).toThrow(RangeError);
    expect(node.tipHash()).toBe(headerHashHex(MAIN[49] ?? ''));
    node.reorg(45, []);
    expect(node.tipHeight()).toBe(45);
  });

  it('reorgMine replaces the top blocks with freshly mined ones', async () => {
    const node = await start(MAIN.slice(0, 10));
    const dropped = node.mine({ count: 2 });
    const fresh = (await rpc(node, 'sim_reorg', [9, 3])) as string[];
    expect(fresh).toHaveLength(3);
    expect(node.tipHeight()).toBe(12);
    expect(fresh).not.toContain(dropped[0]);
    const stale = (await rpc(node, 'getblockheader', [dropped[0]])) as Record<string, unknown>;
    expect(stale.confirmations).toBe(-1);
    const first = (await rpc(node, 'getblockheader', [fresh[0]])) as Record<string, unknown>;
    expect(first.previousblockhash).toBe(headerHashHex(MAIN[9] ?? ''));
  });
});

describe('mine', () => {
  it('builds blocks that link, fold their merkle root and meet the regtest target', async () => {
    const node = await start(MAIN);
    const [hash] = node.mine();
    const hex = (await rpc(node, 'getblock', [hash, 0])) as string;
    const header = headerOf(hex);
    expect(headerHashHex(hex)).toBe(hash);
    expect(displayHex(header.subarray(4, 36))).toBe(MAIN_TIP);
    const coinbase = Buffer.from(hex.slice(162), 'hex');
    expect(header.subarray(36, 68).equals(sha256d(coinbase))).toBe(true);
    expect(BigInt(`0x${hash}`)).toBeLessThanOrEqual(REGTEST_TARGET);
    const tipTime = headerOf(MAIN[255] ?? '').readUInt32LE(68);
    expect(header.readUInt32LE(68)).toBe(Math.max(1_700_000_000, tipTime + 1));
    const tx = (await rpc(node, 'getrawtransaction', [displayHex(sha256d(coinbase)), true])) as {
      vout: { value: number; scriptPubKey: { hex: string } }[];
    };
    expect(tx.vout[0]?.value).toBe(50);
    expect(tx.vout[0]?.scriptPubKey.hex).toBe('76a9144f9ab47a237441c0dc61dcd39fd92709f281b03388ac');
  });

  it('mines several blocks to a given script and value, also over sim_mine', async () => {
    const node = await start(MAIN.slice(0, 3));
    const hashes = node.mine({ count: 3, payToScript: p2pkh(1), value: 1234n });
    expect(hashes).toHaveLength(3);
    for (const [i, hash] of hashes.entries()) {
      const header = (await rpc(node, 'getblockheader', [hash])) as Record<string, unknown>;
      expect(header.height).toBe(3 + i);
      expect(header.previousblockhash).toBe(i === 0 ? headerHashHex(MAIN[2] ?? '') : hashes[i - 1]);
      const block = (await rpc(node, 'getblock', [hash, 2])) as {
        tx: { vout: { value: number; scriptPubKey: { hex: string } }[] }[];
      };
      expect(block.tx[0]?.vout[0]).toMatchObject({
        value: 0.00001234,
        scriptPubKey: { hex: p2pkh(1).toString('hex') },
      });
    }
    const options = { count: 2, scriptHex: p2pkh(2).toString('hex'), value: '7' };
    const viaRpc = await rpc(node, 'sim_mine', [options]);
    expect(viaRpc).toHaveLength(2);
    expect(await rpc(node, 'getblockcount')).toBe(7);
    await expect(rpc(node, 'sim_mine', [{ value: -1 }])).rejects.toThrow(/not whole sats/);
    const badScript = rpc(node, 'sim_mine', [{ scriptHex: 'zz' }]);
    await expect(badScript).rejects.toThrow(/scriptHex must be non-empty even-length hex/);
    await expect(rpc(node, 'sim_mine', [{ count: 10_001 }])).rejects.toThrow(/outside/);
  });

  it('hashes mined Radiant headers with SHA-512/256d', async () => {
    const node = await start(RADIANT, 'Radiant');
    const [hash] = node.mine();
    const hex = (await rpc(node, 'getblock', [hash, 0])) as string;
    expect(displayHex(sha512_256d(headerOf(hex)))).toBe(hash);
    expect(BigInt(`0x${hash}`)).toBeLessThanOrEqual(REGTEST_TARGET);
    const coinbase = Buffer.from(hex.slice(162), 'hex');
    const tx = (await rpc(node, 'getrawtransaction', [displayHex(sha256d(coinbase)), true])) as {
      vout: { value: number }[];
    };
    // radiant-node GetBlockSubsidy: 50,000 RXD before the first halving.
    expect(tx.vout[0]?.value).toBe(50_000);
  });
});
