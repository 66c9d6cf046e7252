// Tests for the simulated node's script descriptions and addresses: published vectors (CashAddr
// spec, BIP173/BIP350), a bitcoind verbose tx kept by ElectrumX, and opcode names from the nodes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { parseTx } from '../core/tx.ts';
import { base58Check, cashAddr, encodeAddress, segwitAddress } from './sim-node-address.ts';
import { describeOutput, scriptToAsm } from './sim-node-script.ts';
import { txToJson } from './sim-node-tx-json.ts';
import { stringifyJson } from './sim-node-json.ts';
import { chainBlocks } from './sim-node-testkit.ts';

const RADIANT = getCoin('Radiant', 'mainnet');
const BITCOIN = getCoin('Bitcoin', 'mainnet');
const BCH = getCoin('BitcoinCash', 'mainnet');
const hex = (text: string): Buffer => Buffer.from(text, 'hex');
const hash160 = (data: Uint8Array): Buffer =>
  createHash('ripemd160').update(createHash('sha256').update(data).digest()).digest();

describe('addresses', () => {
  it('CashAddr matches the spec test vectors (bitcoincash.org spec/cashaddr.md)', () => {
    const payload = hex('f5bf48b397dae70be82b3cca4793f8eb2b6cdac9');
    expect(cashAddr('bitcoincash', { kind: 'keyhash', hash160: payload })).toBe(
      'bitcoincash:qr6m7j9njldwwzlg9v7v53unlr4jkmx6eylep8ekg2'
    );
    expect(cashAddr('bchtest', { kind: 'scripthash', hash160: payload })).toBe(
      'bchtest:pr6m7j9njldwwzlg9v7v53unlr4jkmx6eyvwc0uz5t'
    );
    expect(cashAddr('pref', { kind: 'scripthash', hash160: payload })).toBe(
      'pref:pr6m7j9njldwwzlg9v7v53unlr4jkmx6ey65nvtks5'
    );
  });

  it('Bech32 and Bech32m match BIP173 / BIP350 and the regtest fixture', () => {
    const keyHash = hex('751e76e8199196d454941c45d1b3a323f1433bd6');
    expect(segwitAddress('bc', { version: 0, program: keyHash })).toBe(
      'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'
    );
    const taproot = hex('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
    expect(segwitAddress('bc', { version: 1, program: taproot })).toBe(
      'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0'
    );
  });

  it('Base58Check gives the genesis coinbase address and the network prefixes', () => {
    const genesisKey = hex(
      '04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb6' +
        '49f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f'
    );
    const destination = { kind: 'keyhash' as const, hash160: hash160(genesisKey) };
    expect(encodeAddress(destination, BITCOIN)).toBe('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa');
    expect(encodeAddress(destination, RADIANT)).toBe('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa');
    expect(encodeAddress(destination, getCoin('Bitcoin', 'testnet')).startsWith('m')).toBe(true);
    const zeroKeyHash = Buffer.concat([Buffer.alloc(1), Buffer.alloc(20)]);
    expect(base58Check(zeroKeyHash)).toBe('1111111111111111111114oLvT2');
  });
});

describe('scriptToAsm', () => {
  it('prints small pushes as numbers, others as hex, opcodes by name', () => {
    const p2pkh = hex('76a9144f9ab47a237441c0dc61dcd39fd92709f281b03388ac');
    expect(scriptToAsm(p2pkh, RADIANT)).toBe(
      'OP_DUP OP_HASH160 4f9ab47a237441c0dc61dcd39fd92709f281b033 OP_EQUALVERIFY OP_CHECKSIG'
    );
    expect(scriptToAsm(hex('0105'), BITCOIN)).toBe('5');
    expect(scriptToAsm(hex('02ff00'), BITCOIN)).toBe('255');
    expect(scriptToAsm(hex('0181'), BITCOIN)).toBe('-1');
    expect(scriptToAsm(hex('004f5160'), BITCOIN)).toBe('0 -1 1 16');
    expect(scriptToAsm(hex('0500'), BITCOIN)).toBe('[error]');
    expect(scriptToAsm(hex('76050102'), BITCOIN)).toBe('OP_DUP [error]');
  });

  it('names Radiant opcodes and hides ref operands as radiant-node does', () => {
    const ref = 'ab'.repeat(36);
    const nft = hex(`d8${ref}7576a9144f9ab47a237441c0dc61dcd39fd92709f281b03388ac`);
    expect(scriptToAsm(nft, RADIANT)).toBe(
      'OP_PUSHINPUTREFSINGLETON OP_DROP OP_DUP OP_HASH160 ' +
        '4f9ab47a237441c0dc61dcd39fd92709f281b033 OP_EQUALVERIFY OP_CHECKSIG'
    );
    expect(scriptToAsm(hex('bdcecf'), RADIANT)).toBe(
      'OP_STATESEPARATOR OP_SHA512_256 OP_HASH512_256'
    );
    expect(scriptToAsm(hex('7e7fba'), BITCOIN)).toBe('OP_CAT OP_SUBSTR OP_CHECKSIGADD');
    expect(scriptToAsm(hex('7e7fbabd'), BCH)).toBe('OP_CAT OP_SPLIT OP_CHECKDATASIG OP_UNKNOWN');
  });

  it('appends the sighash type to signature pushes of scriptSigs', () => {
    const blocks = chainBlocks('data/bitcoin_mainnet_0-255.json');
    const block170 = hex(blocks[170] ?? '');
    // Block 170: header, tx count, coinbase of 134 bytes, then the spend of block 9's coinbase.
    const spendTx = parseTx(block170.subarray(81 + 134), BITCOIN);
    const scriptSig = Buffer.from(spendTx.inputs[0]?.script ?? []);
    const signature = scriptSig.subarray(1, 1 + (scriptSig[0] ?? 0));
    expect(signature[signature.length - 1]).toBe(0x01);
    const sigHex = signature.subarray(0, -1).toString('hex');
    expect(scriptToAsm(scriptSig, BITCOIN, true)).toBe(`${sigHex}[ALL]`);
    expect(scriptToAsm(scriptSig, BITCOIN, false)).toBe(signature.toString('hex'));
    const sigBody = signature.subarray(0, -1);
    const forkId = Buffer.concat([Buffer.of(scriptSig[0] ?? 0), sigBody, Buffer.of(0xc1)]);
    expect(scriptToAsm(forkId, RADIANT, true)).toBe(`${sigHex}[ALL|FORKID|ANYONECANPAY]`);
    expect(scriptToAsm(forkId, BITCOIN, true)).toBe(forkId.subarray(1).toString('hex'));
  });
});

describe('describeOutput', () => {
  const key33 = `02${'11'.repeat(32)}`;
  const key33b = `03${'22'.repeat(32)}`;

  it('classifies as radiant-node Solver does, with reqSigs and addresses', () => {
    const keyHash = '4f9ab47a237441c0dc61dcd39fd92709f281b033';
    expect(describeOutput(hex(`76a914${keyHash}88ac`), RADIANT)).toEqual({
      reqSigs: 1,
      type: 'pubkeyhash',
      addresses: [base58Check(hex(`00${keyHash}`))],
    });
    expect(describeOutput(hex(`a914${keyHash}87`), BCH)).toEqual({
      reqSigs: 1,
      type: 'scripthash',
      addresses: [cashAddr('bitcoincash', { kind: 'scripthash', hash160: hex(keyHash) })],
    });
    expect(describeOutput(hex('6a0568656c6c6f'), RADIANT)).toEqual({ type: 'nulldata' });
    expect(describeOutput(hex('6a76'), RADIANT)).toEqual({ type: 'nonstandard' });
    expect(describeOutput(hex(`21${key33}ac`), RADIANT)).toEqual({
      reqSigs: 1,
      type: 'pubkey',
      addresses: [base58Check(Buffer.concat([Buffer.alloc(1), hash160(hex(key33))]))],
    });
    const multisig = describeOutput(hex(`5121${key33}21${key33b}52ae`), RADIANT);
    expect(multisig).toMatchObject({ reqSigs: 1, type: 'multisig' });
    expect(multisig.addresses).toHaveLength(2);
    expect(describeOutput(hex(`d8${'ab'.repeat(36)}7576a914${keyHash}88ac`), RADIANT)).toEqual({
      type: 'nonstandard',
    });
  });

  it('prints Bitcoin Core 27 fields: one address where there is one', () => {
    expect(describeOutput(hex('0014751e76e8199196d454941c45d1b3a323f1433bd6'), BITCOIN)).toEqual({
      address: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4',
      type: 'witness_v0_keyhash',
    });
    expect(describeOutput(hex(`21${key33}ac`), BITCOIN)).toEqual({ type: 'pubkey' });
    const oddProgram = hex('0010751e76e8199196d454941c45d1b3a323');
    expect(describeOutput(oddProgram, BITCOIN)).toEqual({ type: 'nonstandard' });
  });
});

describe('txToJson', () => {
  it('matches bitcoind verbose output of a segwit regtest tx (ElectrumX fixture) but desc', () => {
    const fixture = 'test/fixtures/vectors/electrumx-tx-bitcoin_regtest_001_p2wpkh.json';
    const path = new URL(`../${fixture}`, import.meta.url);
    const expected = JSON.parse(readFileSync(path, 'utf8')) as {
      hex: string;
      vout: { scriptPubKey: Record<string, unknown> }[];
    };
    for (const output of expected.vout) delete output.scriptPubKey.desc;
    const tx = parseTx(hex(expected.hex), getCoin('Bitcoin', 'regtest'));
    const json = JSON.parse(stringifyJson(txToJson(tx, getCoin('Bitcoin', 'regtest')))) as unknown;
    expect(json).toEqual(expected);
  });
});
