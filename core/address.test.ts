// Tests of address encodings and output classification against published vectors.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AddressError,
  cashAddress,
  decodeAddress,
  encodeAddress,
  outputScript,
} from './address.ts';
import { hexToBytes } from './bytes.ts';
import { getCoin } from './coins.ts';
import { classifyOutput } from './script-type.ts';

const VECTORS = resolve(import.meta.dirname, '../test/fixtures/vectors');

// BIP350 "Test vectors for v0-v16 native segregated witness addresses": valid addresses.
const BIP350_VALID: [string, string, string][] = [
  [
    'mainnet',
    'BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4',
    '0014751e76e8199196d454941c45d1b3a323f1433bd6',
  ],
  [
    'testnet',
    'tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7',
    '00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262',
  ],
  [
    'mainnet',
    'bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y',
    '5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6',
  ],
  ['mainnet', 'BC1SW50QGDZ25J', '6002751e'],
  ['mainnet', 'bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs', '5210751e76e8199196d454941c45d1b3a323'],
  [
    'testnet',
    'tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy',
    '0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433',
  ],
  [
    'testnet',
    'tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c',
    '5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433',
  ],
];

/** The address the coin's node lists for an output script, or null. */
function addressOf(scriptHex: string, coinName: string, net: string): string | null {
  const coin = getCoin(coinName, net);
  const output = classifyOutput(hexToBytes(scriptHex), coin);
  const first = output.destinations[0];
  return first === undefined ? null : encodeAddress(first, coin);
}

describe('base58check and bech32 from output scripts', () => {
  it('match the address/script pairs of derived-spec-examples.json', () => {
    const file = join(VECTORS, 'derived-spec-examples.json');
    const pairs = (JSON.parse(readFileSync(file, 'utf8')) as {
      scripthash: { address: string; script_hex: string }[];
    }).scripthash;
    expect(pairs.length).toBeGreaterThan(8);
    for (const { address, script_hex: scriptHex } of pairs) {
      const net = address.startsWith('bcrt1') ? 'regtest' : 'mainnet';
      expect(addressOf(scriptHex, 'Bitcoin', net)).toBe(address);
    }
  });

  it('match the BIP350 valid segwit vectors (bech32 v0, bech32m v1..16)', () => {
    for (const [net, address, scriptHex] of BIP350_VALID) {
      expect(addressOf(scriptHex, 'Bitcoin', net)).toBe(address.toLowerCase());
    }
  });

  it('give Radiant legacy base58 and no witness programs outside Bitcoin', () => {
    // radiant-node uses Bitcoin's base58 versions (chainparams.cpp): the same text as Bitcoin.
    const p2pkh = '76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac';
    expect(addressOf(p2pkh, 'Radiant', 'mainnet')).toBe('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa');
    const witnessV0 = '0014751e76e8199196d454941c45d1b3a323f1433bd6';
    expect(addressOf(witnessV0, 'Radiant', 'mainnet')).toBeNull();
    const radiant = getCoin('Radiant', 'mainnet');
    expect(classifyOutput(hexToBytes(witnessV0), radiant).type).toBe('nonstandard');
  });
});

describe('cashaddr', () => {
  // The CashAddr specification's example: hash160 76a04053...9873 is legacy
  // 1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu (P2PKH) and 3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC (P2SH).
  const hash = hexToBytes('76a04053bda0a88bda5177b86a15c3b29f559873');

  it('encodes the specification example for P2PKH and P2SH', () => {
    expect(cashAddress('bitcoincash', 'p2pkh', hash)).toBe(
      'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a'
    );
    expect(cashAddress('bitcoincash', 'p2sh', hash)).toBe(
      'bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq'
    );
  });

  it('is what Bitcoin Cash Node lists for P2PKH outputs', () => {
    const script = `76a914${Buffer.from(hash).toString('hex')}88ac`;
    expect(addressOf(script, 'BitcoinCash', 'mainnet')).toBe(
      'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a'
    );
    expect(addressOf(script, 'Bitcoin', 'mainnet')).toBe('1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu');
    expect(addressOf(`a914${Buffer.from(hash).toString('hex')}87`, 'Bitcoin', 'mainnet')).toBe(
      '3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC'
    );
  });
});

describe('decodeAddress and outputScript', () => {
  const scriptOf = (address: string, coinName: string, net: string): string => {
    const coin = getCoin(coinName, net);
    return Buffer.from(outputScript(decodeAddress(address, coin))).toString('hex');
  };

  it('give back the scripts and script hashes of derived-spec-examples.json', () => {
    const file = join(VECTORS, 'derived-spec-examples.json');
    const pairs = (JSON.parse(readFileSync(file, 'utf8')) as {
      scripthash: { address: string; script_hex: string; scripthash: string }[];
    }).scripthash;
    for (const { address, script_hex: scriptHex, scripthash } of pairs) {
      const net = address.startsWith('bcrt1') ? 'regtest' : 'mainnet';
      expect(scriptOf(address, 'Bitcoin', net)).toBe(scriptHex);
      // Expected script hash computed here with node:crypto, and checked against the file.
      const sha = createHash('sha256').update(Buffer.from(scriptHex, 'hex')).digest();
      expect(Buffer.from(sha).reverse().toString('hex')).toBe(scripthash);
    }
  });

  it('read the BIP350 valid segwit vectors, in either case', () => {
    for (const [net, address, scriptHex] of BIP350_VALID) {
      expect(scriptOf(address, 'Bitcoin', net)).toBe(scriptHex);
      expect(scriptOf(address.toUpperCase(), 'Bitcoin', net)).toBe(scriptHex);
    }
  });

  it('refuse the BIP350 invalid addresses', () => {
    // BIP350 "Test vectors for v0-v16 native segregated witness addresses": invalid addresses
    // (the same list is in Bitcoin Core's src/test/bech32_tests.cpp).
    const invalid = [
      'tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut',
      'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd',
      'tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf',
      'BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL',
      'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh',
      'tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47',
      'bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4',
      'BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R',
      'bc1pw5dgrnzv',
      'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav',
      'BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P',
      'tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq',
      'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf',
      'tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j',
      'bc1gmk9yu',
    ];
    for (const address of invalid) {
      const net = address.toLowerCase().startsWith('tb1') ? 'testnet' : 'mainnet';
      expect(() => decodeAddress(address, getCoin('Bitcoin', net)), address).toThrow(AddressError);
    }
  });

  it('read the CashAddr specification translation vectors as their legacy twins', () => {
    // spec/cashaddr.md of bitcoincashorg/bitcoincash.org, "Examples of address translation".
    const pairs = [
      ['1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu', 'qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a'],
      ['1KXrWXciRDZUpQwQmuM1DbwsKDLYAYsVLR', 'qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy'],
      ['16w1D5WRVKJuZUsSRzdLp9w3YGcgoxDXb', 'qqq3728yw0y47sqn6l2na30mcw6zm78dzqre909m2r'],
      ['3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC', 'ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq'],
      ['3LDsS579y7sruadqu11beEJoTjdFiFCdX4', 'pr95sy3j9xwd2ap32xkykttr4cvcu7as4yc93ky28e'],
      ['31nwvkZwyPdgzjBJZXfDmSWsC4ZLKpYyUw', 'pqq3728yw0y47sqn6l2na30mcw6zm78dzq5ucqzc37'],
    ] as const;
    for (const [legacy, payload] of pairs) {
      const script = scriptOf(legacy, 'Bitcoin', 'mainnet');
      expect(script).toMatch(legacy.startsWith('1') ? /^76a914[0-9a-f]{40}88ac$/ : /^a914.{40}87$/);
      const cash = `bitcoincash:${payload}`;
      expect(scriptOf(cash, 'BitcoinCash', 'mainnet')).toBe(script);
      expect(scriptOf(cash.toUpperCase(), 'BitcoinCash', 'mainnet')).toBe(script);
      expect(scriptOf(payload, 'BitcoinCash', 'mainnet')).toBe(script);
      expect(scriptOf(legacy, 'BitcoinCash', 'mainnet')).toBe(script);
    }
    // The spec's 160-bit example under the testnet prefix, P2SH of F5BF48B3...DAC9.
    const testnet = 'bchtest:pr6m7j9njldwwzlg9v7v53unlr4jkmx6eyvwc0uz5t';
    expect(scriptOf(testnet, 'BitcoinCash', 'testnet')).toBe(
      'a914f5bf48b397dae70be82b3cca4793f8eb2b6cdac987'
    );
  });

  it('refuses a wrong checksum, prefix, network or case, naming the text', () => {
    const bch = getCoin('BitcoinCash', 'mainnet');
    const broken = 'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6c';
    expect(() => decodeAddress(broken, bch)).toThrow(/"bitcoincash:qpm2.*" .*bad checksum/);
    const testnet = 'bchtest:pr6m7j9njldwwzlg9v7v53unlr4jkmx6eyvwc0uz5t';
    expect(() => decodeAddress(testnet, bch)).toThrow(/expected the prefix bitcoincash:/);
    const mixed = 'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6A';
    expect(() => decodeAddress(mixed, bch)).toThrow(/mixed case/);
    const radiant = getCoin('Radiant', 'mainnet');
    expect(() => decodeAddress('1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggv', radiant)).toThrow(/base58/);
    // A testnet (version 111) address on mainnet, and a segwit address where there is no segwit.
    const hash = hexToBytes('76a04053bda0a88bda5177b86a15c3b29f559873');
    const testnetKey = encodeAddress({ kind: 'p2pkh', hash }, getCoin('Radiant', 'testnet')) ?? '';
    expect(() => decodeAddress(testnetKey, radiant)).toThrow(/version byte 111/);
    const segwit = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
    expect(() => decodeAddress(segwit, radiant)).toThrow(AddressError);
  });
});
