// Tests for core/coins.ts: every coin/net's genesis hash is rebuilt here from its chainparams.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COIN_NAMES, getCoin, NET_NAMES } from './coins.ts';

const fixture = (path: string): string =>
  readFileSync(new URL(`../test/fixtures/${path}`, import.meta.url), 'utf8');
const hashOf = (algorithm: string, data: Buffer): Buffer =>
  createHash(algorithm).update(createHash(algorithm).update(data).digest()).digest();
const display = (hash: Buffer): string => Buffer.from(hash).reverse().toString('hex');

/** An 80-byte header with time, bits and nonce replaced (offsets 68, 72, 76). */
function withPow(header: Buffer, time: number, bits: number, nonce: number): Buffer {
  const out = Buffer.from(header);
  out.writeUInt32LE(time, 68);
  out.writeUInt32LE(bits, 72);
  out.writeUInt32LE(nonce, 76);
  return out;
}

/**
 * radiant-node chainparams.cpp CreateGenesisBlock: coinbase scriptSig = push(486604799) push(4)
 * push(timestamp), one output of 50000 RXD to P2PKH 4f9ab47a...; header version 1, no prev hash.
 */
function radiantGenesis(
  timestamp: string,
  time: number,
  nonce: number
): { header: Buffer; tx: Buffer } {
  const text = Buffer.from(timestamp, 'ascii');
  const pushes = Buffer.from('04ffff001d0104', 'hex');
  const scriptSig = Buffer.concat([pushes, Buffer.from([text.length]), text]);
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(50_000n * 100_000_000n);
  const tx = Buffer.concat([
    Buffer.from('01000000' + '01' + '00'.repeat(32) + 'ffffffff', 'hex'),
    Buffer.from([scriptSig.length]),
    scriptSig,
    Buffer.from('ffffffff' + '01', 'hex'),
    value,
    Buffer.from('1976a9144f9ab47a237441c0dc61dcd39fd92709f281b03388ac' + '00000000', 'hex'),
  ]);
  const merkleRoot = hashOf('sha256', tx);
  const versionAndPrev = Buffer.from('01000000' + '00'.repeat(32), 'hex');
  const header = Buffer.concat([versionAndPrev, merkleRoot, Buffer.alloc(12)]);
  return { header: withPow(header, time, 0x1d00ffff, nonce), tx };
}

describe('getCoin', () => {
  it('knows every coin on every net and refuses others with the valid list', () => {
    for (const name of COIN_NAMES) {
      for (const net of NET_NAMES) expect(getCoin(name, net)).toMatchObject({ name, net });
    }
    expect(() => getCoin('Dogecoin', 'mainnet')).toThrow(/Radiant, BitcoinCash, Bitcoin/);
    expect(() => getCoin('Radiant', 'signet')).toThrow(/mainnet, testnet, regtest/);
    expect(() => getCoin('radiant', 'mainnet')).toThrow(Error);
  });

  it('sets the format flags per coin', () => {
    expect(getCoin('Radiant', 'mainnet')).toMatchObject({ radiant: true, segwit: false });
    expect(getCoin('BitcoinCash', 'mainnet')).toMatchObject({ radiant: false, segwit: false });
    expect(getCoin('Bitcoin', 'mainnet')).toMatchObject({ radiant: false, segwit: true });
    expect(getCoin('Radiant', 'mainnet').defaultRpcPort).toBe(7332);
    expect(getCoin('Bitcoin', 'mainnet').defaultRpcPort).toBe(8332);
  });
});

describe('genesis hashes', () => {
  const chainJson = fixture('chains/btcd_mainnet_blocks_0-255.json');
  const chain = JSON.parse(chainJson) as { blocks: string[] };
  const bitcoinGenesis = Buffer.from(chain.blocks[0] ?? '', 'hex').subarray(0, 80);

  it('Bitcoin and Bitcoin Cash: mainnet from the fixture, others from chainparams', () => {
    // Bitcoin Core chainparams.cpp: testnet3 (1296688602, 414098458, 0x1d00ffff), regtest
    // (1296688602, 2, 0x207fffff); same coinbase and merkle root as mainnet.
    const headers = {
      mainnet: bitcoinGenesis,
      testnet: withPow(bitcoinGenesis, 1296688602, 0x1d00ffff, 414098458),
      regtest: withPow(bitcoinGenesis, 1296688602, 0x207fffff, 2),
    };
    for (const name of ['Bitcoin', 'BitcoinCash']) {
      for (const net of NET_NAMES) {
        const coin = getCoin(name, net);
        expect(coin.genesisHash).toBe(display(hashOf('sha256', headers[net])));
        expect(display(Buffer.from(coin.headerHash(headers[net])))).toBe(coin.genesisHash);
      }
    }
  });

  it('Radiant mainnet: the construction reproduces the fixture genesis block', () => {
    const { header, tx } = radiantGenesis(
      "The New York Times 12/May/2022 The Milky Way's Black Hole Comes to Light",
      1655692970,
      716669049
    );
    const block = fixture('radiant/radiant_mainnet_0.block.hex').trim();
    expect(Buffer.concat([header, Buffer.from([1]), tx]).toString('hex')).toBe(block);
    const coin = getCoin('Radiant', 'mainnet');
    expect(coin.genesisHash).toBe(display(hashOf('sha512-256', header)));
    expect(coin.genesisHash).toBe(
      '0000000065d8ed5d8be28d6876b3ffb660ac2a6c0ca59e437e1f7a6f4e003fb4'
    );
  });

  it('Radiant testnet and regtest share the testnet genesis block of chainparams.cpp', () => {
    const { header, tx } = radiantGenesis('This is a Radiant testing block', 1657071137, 67046444);
    expect(display(hashOf('sha256', tx))).toBe(
      '364459380841db3f0ea491e8099bf98a6b7ffc5693d8ee6e46b3f8183e0257dc'
    );
    const expected = display(hashOf('sha512-256', header));
    expect(expected).toBe('000000002008a2f4a76b850a838ae084994c200dc2fd354f73102298fe063a91');
    expect(getCoin('Radiant', 'testnet').genesisHash).toBe(expected);
    expect(getCoin('Radiant', 'regtest').genesisHash).toBe(expected);
  });
});
