// Tests of verbose transactions against real node output and the protocol docs' example.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hexToBytes, hexToHash } from '../bytes.ts';
import { getCoin } from '../coins.ts';
import { addDescriptorChecksum } from '../descriptor.ts';
import { scriptAsm } from '../script-asm.ts';
import { parseTx } from '../tx.ts';
import { encodeJson } from './json.ts';
import { scriptPubKeyJson, verboseTx } from './verbose-tx.ts';

const VECTORS = resolve(import.meta.dirname, '../../test/fixtures/vectors');

function roundTrip(value: unknown): unknown {
  return JSON.parse(encodeJson(value));
}

describe('verboseTx', () => {
  it('reproduces bitcoind getrawtransaction verbose for a segwit tx (ElectrumX fixture)', () => {
    const file = join(VECTORS, 'electrumx-tx-bitcoin_regtest_001_p2wpkh.json');
    const text = readFileSync(file, 'utf8');
    const expected = JSON.parse(text) as { hex: string };
    const coin = getCoin('Bitcoin', 'regtest');
    const json = verboseTx(parseTx(hexToBytes(expected.hex), coin), coin, null);
    expect(roundTrip(json)).toEqual(expected);
    // Same key order and the amounts' 8 decimals, as the node writes them.
    const encoded = encodeJson(json);
    expect(encoded).toContain('"value":0.30000000,"n":0,');
    const plain = JSON.stringify(JSON.parse(encoded));
    expect(encoded).toBe(plain.replace('0.3,', '0.30000000,').replace('0.799992,', '0.79999200,'));
  });

  it('reproduces the protocol docs example in the Bitcoin Cash / Radiant shape', () => {
    // protocol-methods.rst, blockchain.transaction.get "When verbose is true": a legacy
    // Bitcoin Cash tx, printed with reqSigs/addresses and ALL|FORKID signatures. radiant-node
    // prints the same shape with base58 addresses, so the Radiant coin must give exactly this.
    const hex =
      '01000000015bb9142c960a838329694d3fe9ba08c2a6421c5158d8f7044cb7c48006c1b484000000006a4730440220229ea5359a63c2b83a713fcc20d8c41b20d48fe639a639d2a8246a137f29d0fc02201de12de9c056912a4e581a62d12fb5f43ee6c08ed0238c32a1ee769213ca8b8b412103bcf9a004f1f7a9a8d8acce7b51c983233d107329ff7c4fb53e44c855dbe1f6a4feffffff02c6b68200000000001976a9141041fb024bd7a1338ef1959026bbba860064fe5f88ac50a8cf00000000001976a91445dac110239a7a3814535c15858b939211f8529888ac61ee0700';
    const coin = getCoin('Radiant', 'mainnet');
    const block = {
      hash: hexToHash('0000000000000000015a4f37ece911e5e3549f988e855548ce7494a0a08b2ad6'),
      time: 1520074861,
      confirmations: 679,
    };
    expect(roundTrip(verboseTx(parseTx(hexToBytes(hex), coin), coin, block))).toEqual({
      blockhash: '0000000000000000015a4f37ece911e5e3549f988e855548ce7494a0a08b2ad6',
      blocktime: 1520074861,
      confirmations: 679,
      hash: '36a3692a41a8ac60b73f7f41ee23f5c917413e5b2fad9e44b34865bd0d601a3d',
      hex,
      locktime: 519777,
      size: 225,
      time: 1520074861,
      txid: '36a3692a41a8ac60b73f7f41ee23f5c917413e5b2fad9e44b34865bd0d601a3d',
      version: 1,
      vin: [
        {
          scriptSig: {
            asm: '30440220229ea5359a63c2b83a713fcc20d8c41b20d48fe639a639d2a8246a137f29d0fc02201de12de9c056912a4e581a62d12fb5f43ee6c08ed0238c32a1ee769213ca8b8b[ALL|FORKID] 03bcf9a004f1f7a9a8d8acce7b51c983233d107329ff7c4fb53e44c855dbe1f6a4',
            hex: '4730440220229ea5359a63c2b83a713fcc20d8c41b20d48fe639a639d2a8246a137f29d0fc02201de12de9c056912a4e581a62d12fb5f43ee6c08ed0238c32a1ee769213ca8b8b412103bcf9a004f1f7a9a8d8acce7b51c983233d107329ff7c4fb53e44c855dbe1f6a4',
          },
          sequence: 4294967294,
          txid: '84b4c10680c4b74c04f7d858511c42a6c208bae93f4d692983830a962c14b95b',
          vout: 0,
        },
      ],
      vout: [
        {
          n: 0,
          scriptPubKey: {
            addresses: ['12UxrUZ6tyTLoR1rT1N4nuCgS9DDURTJgP'],
            asm: 'OP_DUP OP_HASH160 1041fb024bd7a1338ef1959026bbba860064fe5f OP_EQUALVERIFY OP_CHECKSIG',
            hex: '76a9141041fb024bd7a1338ef1959026bbba860064fe5f88ac',
            reqSigs: 1,
            type: 'pubkeyhash',
          },
          value: 0.0856647,
        },
        {
          n: 1,
          scriptPubKey: {
            addresses: ['17NMgYPrguizvpJmB1Sz62ZHeeFydBYbZJ'],
            asm: 'OP_DUP OP_HASH160 45dac110239a7a3814535c15858b939211f85298 OP_EQUALVERIFY OP_CHECKSIG',
            hex: '76a91445dac110239a7a3814535c15858b939211f8529888ac',
            reqSigs: 1,
            type: 'pubkeyhash',
          },
          value: 0.1360904,
        },
      ],
    });
  });
});

describe('scriptAsm and scriptPubKeyJson', () => {
  const radiant = getCoin('Radiant', 'mainnet');
  const bch = getCoin('BitcoinCash', 'mainnet');
  const bitcoin = getCoin('Bitcoin', 'mainnet');
  const hash160 = '4f9ab47a237441c0dc61dcd39fd92709f281b033';
  const ref = `${'ab'.repeat(32)}01000000`;

  it('prints Radiant ref opcodes by name only, as radiant-node ScriptToAsmStr does', () => {
    // DESIGN §3's NFT-style script: d8 <36-byte ref> 75 76a914<hash160>88ac.
    const nft = hexToBytes(`d8${ref}7576a914${hash160}88ac`);
    expect(scriptAsm(nft, radiant)).toBe(
      `OP_PUSHINPUTREFSINGLETON OP_DROP OP_DUP OP_HASH160 ${hash160} OP_EQUALVERIFY OP_CHECKSIG`
    );
    // Not a plain P2PKH for the node's Solver: nonstandard, no address.
    expect(scriptPubKeyJson(nft, radiant)).toEqual({
      asm: scriptAsm(nft, radiant),
      hex: `d8${ref}7576a914${hash160}88ac`,
      type: 'nonstandard',
    });
    // A ref opcode whose operand is cut short is a failed GetOp: "[error]".
    expect(scriptAsm(hexToBytes(`76d0${'ab'.repeat(10)}`), radiant)).toBe('OP_DUP [error]');
  });

  it('prints small pushes as script numbers, 8 bytes wide on Bitcoin Cash Node', () => {
    // CScriptNum: little-endian magnitude, sign in the top bit; 0x7f00000000 = 127 * 2^32.
    const pushes = '00 4f 51 60 0181 02ff00 04ffffffff 0500000000ff';
    const script = hexToBytes(pushes.replaceAll(' ', ''));
    expect(scriptAsm(script, radiant)).toBe('0 -1 1 16 -1 255 -2147483647 00000000ff');
    expect(scriptAsm(script, bch)).toBe('0 -1 1 16 -1 255 -2147483647 -545460846592');
    expect(scriptAsm(hexToBytes('4c'), bch)).toBe('[error]');
    expect(scriptAsm(hexToBytes('7f80bac0ce'), bitcoin)).toBe(
      'OP_SUBSTR OP_LEFT OP_CHECKSIGADD OP_UNKNOWN OP_UNKNOWN'
    );
    expect(scriptAsm(hexToBytes('7f80bac0ce'), bch)).toBe(
      'OP_SPLIT OP_NUM2BIN OP_CHECKDATASIG OP_INPUTINDEX OP_UTXOTOKENCATEGORY'
    );
    expect(scriptAsm(hexToBytes('7f80bac0ce'), radiant)).toBe(
      'OP_SPLIT OP_NUM2BIN OP_CHECKDATASIG OP_INPUTINDEX OP_SHA512_256'
    );
  });

  it('lists multisig keys as P2PKH addresses outside Bitcoin, none on Bitcoin Core', () => {
    const keyA = `02${'11'.repeat(32)}`;
    const keyB = `03${'22'.repeat(32)}`;
    const script = hexToBytes(`5121${keyA}21${keyB}52ae`);
    const radiantJson = scriptPubKeyJson(script, radiant);
    expect(radiantJson).toMatchObject({ reqSigs: 1, type: 'multisig' });
    expect((radiantJson.addresses as string[]).length).toBe(2);
    const coreJson = scriptPubKeyJson(script, bitcoin);
    expect(coreJson.type).toBe('multisig');
    expect(coreJson.address).toBeUndefined();
    expect(coreJson.desc).toBe(addDescriptorChecksum(`multi(1,${keyA},${keyB})`));
    // OP_RETURN with pushes only is data, on every chain; raw() on Bitcoin.
    const data = hexToBytes('6a0568656c6c6f');
    expect(scriptPubKeyJson(data, radiant)).toEqual({
      asm: 'OP_RETURN 68656c6c6f',
      hex: '6a0568656c6c6f',
      type: 'nulldata',
    });
    expect(scriptPubKeyJson(data, bitcoin).desc).toBe(addDescriptorChecksum('raw(6a0568656c6c6f)'));
  });

  it('computes descriptor checksums as the fixture shows them', () => {
    // electrumx-tx-bitcoin_regtest_001_p2wpkh.json, vout 0 and 1 "desc".
    expect(addDescriptorChecksum('addr(bcrt1qn7d2x7272lznt5hhk9s07q3cqnrqljnwladrd3)')).toBe(
      'addr(bcrt1qn7d2x7272lznt5hhk9s07q3cqnrqljnwladrd3)#r898r4mt'
    );
    expect(addDescriptorChecksum('addr(bcrt1qgdp7aa38x3p2kpn2s5486mkvvx2sktnmylscfs)')).toBe(
      'addr(bcrt1qgdp7aa38x3p2kpn2s5486mkvvx2sktnmylscfs)#ttznrgxp'
    );
  });
});
