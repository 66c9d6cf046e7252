// Tests for tools/block-builder.ts: serialization round trips on fixture txs, BIP34 height pushes
// against a real node's coinbases, and built blocks checked with node:crypto.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBlock } from '../core/block.ts';
import { getCoin } from '../core/coins.ts';
import { parseTx } from '../core/tx.ts';
import {
  bitsToTarget,
  buildBlock,
  buildCoinbase,
  encodeVarInt,
  heightPush,
  REGTEST_BITS,
  serializeTx,
} from './block-builder.ts';

const fromRoot = (path: string): string => new URL(`../${path}`, import.meta.url).pathname;
const chain = (path: string): string[] =>
  (JSON.parse(readFileSync(fromRoot(path), 'utf8')) as { blocks: string[] }).blocks;

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();
const sha256d = (data: Uint8Array): Buffer => sha256(sha256(data));
const sha512_256 = (data: Uint8Array): Buffer => createHash('sha512-256').update(data).digest();
const displayHex = (hash: Uint8Array): string => Buffer.from(hash).reverse().toString('hex');
const asNumberLE = (hash: Uint8Array): bigint => BigInt(`0x${displayHex(hash)}`);

const BITCOIN = getCoin('Bitcoin', 'regtest');
const RADIANT = getCoin('Radiant', 'regtest');
const P2PKH = Buffer.from('76a9144f9ab47a237441c0dc61dcd39fd92709f281b03388ac', 'hex');

describe('encodeVarInt', () => {
  it('writes CompactSize at each width boundary', () => {
    const hex = (n: number): string => Buffer.from(encodeVarInt(n)).toString('hex');
    expect(hex(0xfc)).toBe('fc');
    expect(hex(0xfd)).toBe('fdfd00');
    expect(hex(0xffff)).toBe('fdffff');
    expect(hex(0x10000)).toBe('fe00000100');
    expect(hex(2 ** 32)).toBe('ff0000000001000000');
  });
});

describe('serializeTx', () => {
  it('reproduces every tx of Bitcoin mainnet block 170 byte for byte', () => {
    const blockHex = chain('data/bitcoin_mainnet_0-255.json')[170] ?? '';
    const block = parseBlock(Buffer.from(blockHex, 'hex'), getCoin('Bitcoin', 'mainnet'));
    const rebuilt = block.txs.map((tx) => Buffer.from(serializeTx(tx)).toString('hex'));
    expect(blockHex.slice(162)).toBe(rebuilt.join(''));
  });

  it('reproduces a segwit tx with its witness (ElectrumX regtest vector)', () => {
    const path = fromRoot('test/fixtures/vectors/electrumx-tx-bitcoin_regtest_001_p2wpkh.json');
    const vector = JSON.parse(readFileSync(path, 'utf8')) as { hex: string; txid: string };
    const tx = parseTx(Buffer.from(vector.hex, 'hex'), BITCOIN);
    expect(Buffer.from(serializeTx(tx)).toString('hex')).toBe(vector.hex);
    const inputs = tx.inputs.map(({ witness: _witness, ...rest }) => rest);
    const stripped = serializeTx({ ...tx, inputs });
    expect(displayHex(sha256d(stripped))).toBe(vector.txid);
  });
});

describe('heightPush', () => {
  it('matches the BIP34 pushes a real node wrote (Bitcoin Cash regtest coinbases)', () => {
    const blocks = chain('data/bitcoincash_regtest_0-103.json');
    for (const height of [1, 2, 16, 17, 100, 103]) {
      const coinbase = parseBlock(Buffer.from(blocks[height] ?? '', 'hex'), BITCOIN).txs[0];
      const scriptSig = Buffer.from(coinbase?.inputs[0]?.script ?? []).toString('hex');
      expect(scriptSig.startsWith(Buffer.from(heightPush(height)).toString('hex'))).toBe(true);
    }
  });

  it('adds a sign byte when the top bit is set (CScriptNum)', () => {
    expect(Buffer.from(heightPush(128)).toString('hex')).toBe('028000');
    expect(Buffer.from(heightPush(0)).toString('hex')).toBe('00');
    expect(Buffer.from(heightPush(840000)).toString('hex')).toBe('0340d10c');
  });
});

describe('buildCoinbase', () => {
  it('builds a coinbase paying the value, with distinct txids per height and per tag', () => {
    const a = buildCoinbase(5, P2PKH, 5_000_000_000n);
    const b = buildCoinbase(6, P2PKH, 5_000_000_000n);
    const c = buildCoinbase(5, P2PKH, 5_000_000_000n, Uint8Array.of(1));
    const tx = parseTx(a, BITCOIN);
    expect(tx.isCoinbase).toBe(true);
    expect(tx.outputs).toHaveLength(1);
    expect(tx.outputs[0]?.value).toBe(5_000_000_000n);
    expect(Buffer.from(tx.outputs[0]?.script ?? []).equals(P2PKH)).toBe(true);
    expect(tx.inputs[0]?.script.length).toBeGreaterThanOrEqual(2);
    const ids = new Set([a, b, c].map((raw) => displayHex(sha256d(raw))));
    expect(ids.size).toBe(3);
  });
});

describe('bitsToTarget', () => {
  it('decodes the genesis and regtest compact targets', () => {
    expect(bitsToTarget(0x1d00ffff)).toBe(0xffffn << 208n);
    expect(bitsToTarget(REGTEST_BITS)).toBe(0x7fffffn << 232n);
    expect(bitsToTarget(0x03123456)).toBe(0x123456n);
    expect(() => bitsToTarget(0x04923456)).toThrow(RangeError);
  });
});

describe('buildBlock', () => {
  const prevHash = '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206';

  it('links, folds its merkle root and meets the regtest target (Bitcoin, sha256d)', () => {
    const coinbase = buildCoinbase(1, P2PKH, 5_000_000_000n);
    const spend = serializeTx({
      version: 2,
      inputs: [
        { prevTxid: sha256d(coinbase), prevVout: 0, script: Uint8Array.of(0x51), sequence: 0 },
      ],
      outputs: [{ value: 4_999_000_000n, script: P2PKH }],
      locktime: 0,
    });
    const txs = [coinbase, spend];
    const hex = buildBlock({ coin: BITCOIN, prevHash, txs, time: 1_700_000_000 });
    const bytes = Buffer.from(hex, 'hex');
    const header = bytes.subarray(0, 80);
    expect(displayHex(header.subarray(4, 36))).toBe(prevHash);
    const root = sha256d(Buffer.concat([sha256d(coinbase), sha256d(spend)]));
    expect(header.subarray(36, 68).equals(root)).toBe(true);
    expect(header.readUInt32LE(68)).toBe(1_700_000_000);
    expect(header.readUInt32LE(72)).toBe(REGTEST_BITS);
    expect(asNumberLE(sha256d(header))).toBeLessThanOrEqual(0x7fffffn << 232n);
    expect(bytes.subarray(80).equals(Buffer.concat([Buffer.of(2), coinbase, spend]))).toBe(true);
  });

  it('hashes Radiant headers with double SHA-512/256', () => {
    const coinbase = buildCoinbase(1, P2PKH, 5_000_000_000_000n);
    const hex = buildBlock({ coin: RADIANT, prevHash, txs: [coinbase], time: 1_700_000_000 });
    const header = Buffer.from(hex, 'hex').subarray(0, 80);
    expect(header.subarray(36, 68).equals(sha256d(coinbase))).toBe(true);
    expect(asNumberLE(sha512_256(sha512_256(header)))).toBeLessThanOrEqual(0x7fffffn << 232n);
  });

  it('gives up on a target no nonce below the bound can meet', () => {
    const coinbase = buildCoinbase(1, P2PKH, 1n);
    const hard = { coin: BITCOIN, prevHash, txs: [coinbase], time: 1, bits: 0x03000001 };
    expect(() => buildBlock({ ...hard, maxNonceTries: 500 })).toThrow(/no nonce below 500/);
  });
});
