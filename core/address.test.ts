// Tests of address encodings and output classification against published vectors.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cashAddress, encodeAddress } from './address.ts';
import { hexToBytes } from './bytes.ts';
import { getCoin } from './coins.ts';
import { classifyOutput } from './script-type.ts';

const VECTORS = resolve(import.meta.dirname, '../test/fixtures/vectors');

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
    // BIP350 "Test vectors for v0-v16 native segregated witness addresses": valid addresses.
    const vectors: [string, string, string][] = [
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
    for (const [net, address, scriptHex] of vectors) {
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
