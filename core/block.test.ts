// Tests for core/block.ts against real chain fixtures (see test/fixtures/*/SOURCES.md).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ParseError } from './byte-reader.ts';
import { bytesToHex, hashToHex, hexToBytes } from './bytes.ts';
import { getCoin, type Coin } from './coins.ts';
import { checkMerkleRoot, parseBlock, parseHeader, type Block } from './block.ts';

const readFixture = (path: string): string =>
  readFileSync(new URL(`../test/fixtures/${path}`, import.meta.url), 'utf8');
const fixture = <T>(path: string): T => JSON.parse(readFixture(path)) as T;

/** The ElectrumX tests/blocks layout (plus extra getblock fields in some files). */
interface BlockFile {
  hash: string;
  size: number;
  height: number;
  merkleroot: string;
  tx: string[];
  time: number;
  nonce: number;
  bits: string;
  previousblockhash: string;
  block: string;
}

function expectMatchesFile(file: BlockFile, coin: Coin): Block {
  const block = parseBlock(hexToBytes(file.block), coin);
  expect(hashToHex(block.header.hash)).toBe(file.hash);
  expect(hashToHex(block.header.merkleRoot)).toBe(file.merkleroot);
  expect(hashToHex(block.header.prevHash)).toBe(file.previousblockhash);
  expect(block.header.time).toBe(file.time);
  expect(block.header.nonce).toBe(file.nonce);
  expect(block.header.bits.toString(16).padStart(8, '0')).toBe(file.bits);
  expect(block.size).toBe(file.size);
  expect(block.txs.map((tx) => hashToHex(tx.txid))).toEqual(file.tx);
  expect(block.txs[0]?.isCoinbase).toBe(true);
  expect(block.txs.slice(1).some((tx) => tx.isCoinbase)).toBe(false);
  checkMerkleRoot(block);
  return block;
}

/** Parses consecutive raw blocks and checks each links to the previous one and its merkle root. */
function parseChain(blocksHex: string[], coin: Coin): Block[] {
  const blocks: Block[] = [];
  for (const [height, hex] of blocksHex.entries()) {
    const block = parseBlock(hexToBytes(hex), coin);
    checkMerkleRoot(block);
    const previous = blocks[height - 1];
    if (previous) {
      const prevHex = bytesToHex(block.header.prevHash);
      expect(prevHex, `link at ${height}`).toBe(bytesToHex(previous.header.hash));
    }
    blocks.push(block);
  }
  return blocks;
}

const radiant = getCoin('Radiant', 'mainnet');

describe('Radiant mainnet', () => {
  for (const height of [0, 1, 26591]) {
    it(`block ${height}: header hash (sha512/256d), txids, merkle root`, () => {
      expectMatchesFile(fixture<BlockFile>(`radiant/radiant_mainnet_${height}.json`), radiant);
    });
  }

  it('blocks 0 and 1 from the raw hex files link, and block 0 is the genesis', () => {
    const hexes = [0, 1].map((h) => readFixture(`radiant/radiant_mainnet_${h}.block.hex`).trim());
    const [genesis, one] = parseChain(hexes, radiant);
    expect(genesis && hashToHex(genesis.header.hash)).toBe(radiant.genesisHash);
    expect(one && hashToHex(one.header.hash)).toBe(
      '000000007dcdf37998c00a132c37b5f35143434aa02ef272e1ecf3cd8cbd180d'
    );
    const radiantjs = fixture<{ blocks: string[] }>('chains/radiantjs_mainnet_blocks_0-1.json');
    expect(radiantjs.blocks).toEqual(hexes);
  });

  it('block 26591 agrees with the radiantjs decomposed source', () => {
    const source = fixture<{ header: { hash: string }; transactions: { hash: string }[] }>(
      'radiant/blk26591-mainnet.json'
    );
    const file = fixture<BlockFile>('radiant/radiant_mainnet_26591.json');
    const block = parseBlock(hexToBytes(file.block), radiant);
    expect(hashToHex(block.header.hash)).toBe(source.header.hash);
    const txids = block.txs.map((tx) => hashToHex(tx.txid));
    expect(txids).toEqual(source.transactions.map((tx) => tx.hash));
  });

  it('header 433392 hashes to the value in SOURCES.md', () => {
    const raw = hexToBytes(readFixture('radiant/radiant_mainnet_433392.header.hex').trim());
    const header = parseHeader(raw, radiant);
    expect(hashToHex(header.hash)).toBe(
      '000000000000002c4d1d189cd66e21bdf1a0048a5f41b93c5add0d4035209c89'
    );
    expect(hashToHex(header.merkleRoot)).toMatch(/^b76b8ebe[0-9a-f]{52}80fe$/);
  });

  it('refuses segwit blocks', () => {
    const paths = [
      'bitcoin/bitcoin_signet_31500.json',
      'vectors/electrumx-block-bitcoin_testnet4_40000.json',
    ];
    for (const path of paths) {
      const raw = hexToBytes(fixture<BlockFile>(path).block);
      expect(() => parseBlock(raw, radiant)).toThrow(/no segwit/);
    }
  });
});

describe('Bitcoin and Bitcoin Cash', () => {
  it('mainnet 0-255 parse, link and fold to their merkle roots; 255 is the SOURCES.md tip', () => {
    const chain = fixture<{ blocks: string[] }>('chains/btcd_mainnet_blocks_0-255.json');
    expect(chain.blocks.length).toBe(256);
    for (const name of ['Bitcoin', 'BitcoinCash']) {
      const coin = getCoin(name, 'mainnet');
      const blocks = parseChain(chain.blocks, coin);
      expect(hashToHex(blocks[0]?.header.hash ?? new Uint8Array())).toBe(coin.genesisHash);
      expect(hashToHex(blocks[255]?.header.hash ?? new Uint8Array())).toBe(
        '00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c'
      );
      // SOURCES.md: blocks 170, 181, 182, 183, 187, 221 and 248 hold non-coinbase txs.
      const withSpends = blocks.flatMap((block, height) => (block.txs.length > 1 ? [height] : []));
      expect(withSpends).toEqual([170, 181, 182, 183, 187, 221, 248]);
    }
  });

  it('Bitcoin Cash regtest 0-103 link from its genesis; 101-103 match getblockstats', () => {
    const file = fixture<{ blocks: string[]; stats: { height: number; blockhash: string }[] }>(
      'chains/bchn_rpc_getblockstats.json'
    );
    const coin = getCoin('BitcoinCash', 'regtest');
    const blocks = parseChain(file.blocks, coin);
    expect(hashToHex(blocks[0]?.header.hash ?? new Uint8Array())).toBe(coin.genesisHash);
    expect(file.stats.length).toBe(3);
    for (const stat of file.stats) {
      expect(hashToHex(blocks[stat.height]?.header.hash ?? new Uint8Array())).toBe(stat.blockhash);
    }
  });

  it('Bitcoin regtest 0-103 (segwit) link from its genesis; 101-103 match getblockstats', () => {
    const file = fixture<{ blocks: string[]; stats: { height: number; blockhash: string }[] }>(
      'chains/bitcoin-core_rpc_getblockstats.json'
    );
    const coin = getCoin('Bitcoin', 'regtest');
    const blocks = parseChain(file.blocks, coin);
    expect(hashToHex(blocks[0]?.header.hash ?? new Uint8Array())).toBe(coin.genesisHash);
    for (const stat of file.stats) {
      expect(hashToHex(blocks[stat.height]?.header.hash ?? new Uint8Array())).toBe(stat.blockhash);
    }
  });

  it('Bitcoin Cash mainnet 100000', () => {
    const file = fixture<BlockFile>('bitcoin/bitcoincash_mainnet_100000.json');
    expectMatchesFile(file, getCoin('BitcoinCash', 'mainnet'));
  });

  it('Bitcoin mainnet 951658 (374 txs, segwit): every txid from the stripped form', () => {
    const file = fixture<BlockFile>('bitcoin/bitcoin_mainnet_951658.json');
    const block = expectMatchesFile(file, getCoin('Bitcoin', 'mainnet'));
    expect(block.txs.length).toBe(374);
    expect(block.txs.filter((tx) => tx.inputs.some((input) => input.witness)).length).toBe(369);
  });

  it('signet 31500 and testnet4 40000 (segwit)', () => {
    const coin = getCoin('Bitcoin', 'testnet');
    for (const name of ['bitcoin_signet_31500', 'bitcoin_testnet4_40000']) {
      expectMatchesFile(fixture<BlockFile>(`vectors/electrumx-block-${name}.json`), coin);
    }
  });

  it('Bitcoin Cash refuses a segwit block', () => {
    const file = fixture<BlockFile>('bitcoin/bitcoin_signet_31500.json');
    const coin = getCoin('BitcoinCash', 'testnet');
    expect(() => parseBlock(hexToBytes(file.block), coin)).toThrow(ParseError);
  });
});

describe('bad blocks', () => {
  const bch = getCoin('BitcoinCash', 'mainnet');
  const small = hexToBytes(fixture<BlockFile>('bitcoin/bitcoincash_mainnet_100000.json').block);

  it('rejects the 957-byte block cut at every length', () => {
    for (let cut = 0; cut < small.length; cut++) {
      expect(() => parseBlock(small.subarray(0, cut), bch), `cut at ${cut}`).toThrow(ParseError);
    }
  });

  it('rejects the 951658 segwit block cut at 300 points', () => {
    const big = hexToBytes(fixture<BlockFile>('bitcoin/bitcoin_mainnet_951658.json').block);
    const coin = getCoin('Bitcoin', 'mainnet');
    for (let i = 0; i < 300; i++) {
      const cut = Math.floor((i * big.length) / 300) + (i % 7);
      expect(() => parseBlock(big.subarray(0, cut), coin), `cut at ${cut}`).toThrow(ParseError);
    }
  });

  it('rejects trailing bytes', () => {
    const longer = new Uint8Array(small.length + 3);
    longer.set(small);
    expect(() => parseBlock(longer, bch)).toThrow(/3 trailing bytes/);
  });

  it('rejects a 2^32-1 tx count in a small buffer at once, and a block without txs', () => {
    const header = small.subarray(0, 80);
    const forged = new Uint8Array(200);
    forged.set(header);
    forged.set([0xfe, 0xff, 0xff, 0xff, 0xff], 80);
    const startMs = performance.now();
    expect(() => parseBlock(forged, bch)).toThrow(/block tx count 4294967295/);
    // Work sized by the forged count would take seconds; the slack is for a loaded machine.
    expect(performance.now() - startMs).toBeLessThan(500);
    const empty = new Uint8Array(81);
    empty.set(header);
    expect(() => parseBlock(empty, bch)).toThrow(/no transactions/);
  });

  it('names the tx and the block when a tx inside is bad', () => {
    // Cut inside the coinbase (header 80 + count 1 + 69 bytes of tx 0).
    expect(() => parseBlock(small.subarray(0, 150), bch)).toThrow(/tx 0 of block 000000000003ba27/);
  });

  it('checkMerkleRoot rejects reordered txs and a changed header root', () => {
    const block = parseBlock(small, bch);
    const [a, b, ...rest] = block.txs;
    if (!a || !b) throw new Error('fixture has 4 txs');
    const reordered = { ...block, txs: [b, a, ...rest] };
    expect(() => checkMerkleRoot(reordered)).toThrow(/merkle root mismatch/);
    const root = block.header.merkleRoot.slice();
    root[0] = (root[0] ?? 0) ^ 1;
    const changed = { ...block, header: { ...block.header, merkleRoot: root } };
    expect(() => checkMerkleRoot(changed)).toThrow(/header has/);
  });

  it('parseHeader requires exactly 80 bytes', () => {
    expect(() => parseHeader(small.subarray(0, 79), bch)).toThrow(ParseError);
    expect(() => parseHeader(small.subarray(0, 81), bch)).toThrow(ParseError);
  });
});
