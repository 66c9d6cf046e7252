// Tests for core/tx.ts: legacy and segwit txids from fixtures, Radiant v3 txids, hostile input.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ParseError } from './byte-reader.ts';
import { bytesToHex, hashToHex, hexToBytes } from './bytes.ts';
import { getCoin } from './coins.ts';
import { parseTx } from './tx.ts';

const fixture = <T>(path: string): T =>
  JSON.parse(readFileSync(new URL(`../test/fixtures/${path}`, import.meta.url), 'utf8')) as T;
const sha256d = (data: Buffer): Buffer =>
  createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
const display = (hash: Buffer): string => Buffer.from(hash).reverse().toString('hex');
const u32 = (value: number): Buffer => {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value);
  return out;
};
const i64 = (value: bigint): Buffer => {
  const out = Buffer.alloc(8);
  out.writeBigInt64LE(value);
  return out;
};
// Scripts in these tests stay under 0xfd bytes, so a one-byte length prefix is enough.
const varBytes = (data: Buffer): Buffer => Buffer.concat([Buffer.from([data.length]), data]);

const bitcoin = getCoin('Bitcoin', 'regtest');
const radiant = getCoin('Radiant', 'mainnet');
const bitcoinCash = getCoin('BitcoinCash', 'mainnet');

interface VerboseTx {
  txid: string;
  hash: string;
  hex: string;
  locktime: number;
  version: number;
  vin: { txid: string; vout: number; sequence: number; txinwitness: string[] }[];
  vout: { value: number; scriptPubKey: { hex: string } }[];
}

describe('segwit txs (Bitcoin)', () => {
  const vector = fixture<VerboseTx>('vectors/electrumx-tx-bitcoin_regtest_001_p2wpkh.json');

  it('parses the p2wpkh vector: txid from the stripped form, wtxid = sha256d(raw)', () => {
    const tx = parseTx(hexToBytes(vector.hex), bitcoin);
    expect(hashToHex(tx.txid)).toBe(vector.txid);
    expect(display(sha256d(Buffer.from(vector.hex, 'hex')))).toBe(vector.hash);
    expect(vector.txid).not.toBe(vector.hash);
    expect(bytesToHex(tx.raw)).toBe(vector.hex);
    expect(tx.version).toBe(vector.version);
    expect(tx.locktime).toBe(vector.locktime);
    expect(tx.isCoinbase).toBe(false);
    const outpoints = tx.inputs.map((i) => [hashToHex(i.prevTxid), i.prevVout, i.sequence]);
    expect(outpoints).toEqual(vector.vin.map((i) => [i.txid, i.vout, i.sequence]));
    expect(tx.inputs[0]?.witness?.map(bytesToHex)).toEqual(vector.vin[0]?.txinwitness);
    expect(tx.outputs.map((output) => [output.value, bytesToHex(output.script)])).toEqual(
      vector.vout.map((output) => [BigInt(Math.round(output.value * 1e8)), output.scriptPubKey.hex])
    );
  });

  it('parses the keep-network mainnet tx (3 inputs) to its recorded txid', () => {
    const keep = fixture<{ hash: string; hex: string }>('vectors/keep-electrum-client-js-tx.json');
    const tx = parseTx(hexToBytes(keep.hex), getCoin('Bitcoin', 'mainnet'));
    expect(hashToHex(tx.txid)).toBe(keep.hash);
  });

  it('refuses the segwit serialization on Radiant and Bitcoin Cash', () => {
    expect(() => parseTx(hexToBytes(vector.hex), radiant)).toThrow(ParseError);
    expect(() => parseTx(hexToBytes(vector.hex), bitcoinCash)).toThrow(/no segwit/);
  });

  it('rejects every truncation and any trailing byte', () => {
    const raw = hexToBytes(vector.hex);
    for (let cut = 0; cut < raw.length; cut++) {
      expect(() => parseTx(raw.subarray(0, cut), bitcoin), `cut at ${cut}`).toThrow(ParseError);
    }
    const longer = new Uint8Array(raw.length + 1);
    longer.set(raw);
    expect(() => parseTx(longer, bitcoin)).toThrow(/1 trailing bytes/);
  });

  it('rejects a witness item count the buffer cannot hold', () => {
    // One input with an empty scriptSig, one output, then a witness count of 2^32-1.
    const tx = Buffer.concat([
      Buffer.from('02000000' + '0001' + '01', 'hex'),
      randomBytes(36),
      Buffer.from('00' + 'ffffffff' + '01', 'hex'),
      i64(1n),
      Buffer.from('00' + 'feffffffff' + '00000000', 'hex'),
    ]);
    expect(() => parseTx(tx, bitcoin)).toThrow(/witness item count 4294967295/);
  });
});

describe('legacy txs', () => {
  it('computes sha256d txids and detects the coinbase (Radiant genesis)', () => {
    const url = new URL('../test/fixtures/radiant/radiant_mainnet_0.block.hex', import.meta.url);
    const block = hexToBytes(readFileSync(url, 'utf8').trim());
    const tx = parseTx(block.subarray(81), radiant);
    expect(hashToHex(tx.txid)).toBe(
      '027c3f6ae3858a75e2c287a915b3d82a50c48ee7021b715eedae9497f8ba2c37'
    );
    expect(tx.isCoinbase).toBe(true);
    expect(tx.outputs[0]?.value).toBe(50_000n * 100_000_000n);
  });

  it('parses a value above 2^53 exactly', () => {
    const value = 2n ** 62n + 12345n;
    const tx = Buffer.concat([
      Buffer.from('01000000' + '01', 'hex'),
      randomBytes(36),
      Buffer.from('00' + 'ffffffff' + '01', 'hex'),
      i64(value),
      Buffer.from('0151' + '00000000', 'hex'),
    ]);
    expect(parseTx(tx, bitcoinCash).outputs[0]?.value).toBe(value);
  });
});

describe('absurd counts', () => {
  const hugeCountTx = (countHex: string, where: 'inputs' | 'outputs'): Buffer => {
    // version, then the huge count as the input count, or after an input count of 0.
    const prefix = where === 'inputs' ? '01000000' : '01000000' + '00';
    const head = Buffer.from(prefix + countHex, 'hex');
    return Buffer.concat([head, Buffer.alloc(60 - head.length)]);
  };

  it('rejects a 2^32-1 input or output count in a 60-byte tx at once', () => {
    for (const coin of [radiant, bitcoinCash]) {
      for (const where of ['inputs', 'outputs'] as const) {
        // The count itself must be refused (not the first missing item), before any allocation.
        const cases: [string, RegExp][] = [
          ['feffffffff', /count 4294967295 at offset \d+ needs at least/],
          ['fdffff', /count 65535 at offset \d+ needs at least/],
          ['ffffffffffffffff00', /too large: 72057594037927935/],
        ];
        for (const [countHex, message] of cases) {
          const tx = hugeCountTx(countHex, where);
          expect(tx.length).toBe(60);
          const startMs = performance.now();
          expect(() => parseTx(tx, coin)).toThrow(ParseError);
          expect(() => parseTx(tx, coin)).toThrow(message);
          // Work sized by the forged count would take seconds; the slack is for a loaded machine.
          expect(performance.now() - startMs).toBeLessThan(500);
        }
      }
    }
  });

  it('rejects a script length beyond the buffer', () => {
    const tx = Buffer.concat([
      Buffer.from('01000000' + '01', 'hex'),
      randomBytes(36),
      Buffer.from('feffffff7f', 'hex'),
      Buffer.alloc(20),
    ]);
    expect(() => parseTx(tx, radiant)).toThrow(/input 0 script at offset 41 claims 2147483647/);
  });
});

// ---- Radiant version 3 txids, computed here straight from DESIGN §3 ----

interface RawInput {
  prevTxid: Buffer;
  prevVout: number;
  scriptSig: Buffer;
  sequence: number;
}
interface RawOutput {
  value: bigint;
  script: Buffer;
  /** The refs this test put in the script with 0xd0 / 0xd8, repeats included. */
  pushedRefs: Buffer[];
}

function serialize(
  version: number,
  inputs: RawInput[],
  outputs: RawOutput[],
  locktime: number
): Buffer {
  const parts: Buffer[] = [u32(version >>> 0), Buffer.from([inputs.length])];
  for (const input of inputs) {
    parts.push(input.prevTxid, u32(input.prevVout), varBytes(input.scriptSig), u32(input.sequence));
  }
  parts.push(Buffer.from([outputs.length]));
  for (const output of outputs) parts.push(i64(output.value), varBytes(output.script));
  parts.push(u32(locktime));
  return Buffer.concat(parts);
}

/** Distinct refs sorted as 288-bit little-endian numbers, as radiant-node's std::set<uint288>. */
function refSetInNodeOrder(refs: Buffer[]): Buffer[] {
  const byHex = new Map(refs.map((ref) => [ref.toString('hex'), ref]));
  const asNumber = (ref: Buffer): bigint =>
    BigInt(`0x${Buffer.from(ref).reverse().toString('hex')}`);
  return [...byHex.values()].sort((a, b) => {
    const diff = asNumber(a) - asNumber(b);
    return diff < 0n ? -1 : diff > 0n ? 1 : 0;
  });
}

/** The wrong order (first byte first), to show the rule matters for these refs. */
const byteOrder = (refs: Buffer[]): Buffer[] =>
  [...new Map(refs.map((ref) => [ref.toString('hex'), ref])).values()].sort(Buffer.compare);

function expectedV3Txid(
  version: number,
  inputs: RawInput[],
  outputs: RawOutput[],
  locktime: number,
  orderRefs = refSetInNodeOrder
): string {
  const inputParts = inputs.flatMap((i) => [i.prevTxid, u32(i.prevVout), sha256d(i.scriptSig)]);
  const hIn = sha256d(Buffer.concat(inputParts));
  const hSeq = sha256d(Buffer.concat(inputs.map((i) => u32(i.sequence))));
  const outputParts = outputs.flatMap((output) => {
    const refs = orderRefs(output.pushedRefs);
    const r = refs.length === 0 ? Buffer.alloc(32) : sha256d(Buffer.concat(refs));
    return [i64(output.value), sha256d(output.script), u32(refs.length), r];
  });
  const hOut = sha256d(Buffer.concat(outputParts));
  const preimage = Buffer.concat([
    u32(version),
    u32(inputs.length),
    hIn,
    hSeq,
    u32(outputs.length),
    hOut,
    u32(locktime),
  ]);
  return display(sha256d(preimage));
}

describe('Radiant version 3 txids', () => {
  // A and B sort one way by their first byte and the other way as little-endian numbers.
  const refA = Buffer.concat([Buffer.from([0x01]), Buffer.alloc(34), Buffer.from([0xff])]);
  const refB = Buffer.concat([Buffer.from([0xff]), Buffer.alloc(34), Buffer.from([0x01])]);
  const refC = randomBytes(36);
  const refD = randomBytes(36);
  const p2pkh = Buffer.from('76a9144f9ab47a237441c0dc61dcd39fd92709f281b03388ac', 'hex');
  const op = (code: number, ref: Buffer): Buffer => Buffer.concat([Buffer.from([code]), ref]);
  const outputs: RawOutput[] = [
    {
      value: 1000n,
      script: Buffer.concat([
        op(0xd0, refA),
        op(0xd8, refB),
        op(0xd0, refA),
        Buffer.from([0x75]),
        op(0xd0, refC),
        p2pkh,
      ]),
      pushedRefs: [refA, refB, refA, refC],
    },
    { value: 5_000_000_000n, script: p2pkh, pushedRefs: [] },
    {
      // 0xd1 (require) carries a ref that is not a push-ref and must not count.
      value: 1n,
      script: Buffer.concat([
        op(0xd8, refC),
        op(0xd0, refD),
        op(0xd1, refB),
        op(0xd8, refC),
        Buffer.from([0x75, 0xac]),
      ]),
      pushedRefs: [refC, refD, refC],
    },
  ];
  const inputs: RawInput[] = [
    { prevTxid: randomBytes(32), prevVout: 0, scriptSig: randomBytes(107), sequence: 0xffffffff },
    { prevTxid: randomBytes(32), prevVout: 7, scriptSig: Buffer.alloc(0), sequence: 0xfffffffe },
  ];

  it('follows the summary preimage with deduplicated refs in the node order', () => {
    const raw = serialize(3, inputs, outputs, 123456);
    const tx = parseTx(raw, radiant);
    expect(tx.version).toBe(3);
    expect(hashToHex(tx.txid)).toBe(expectedV3Txid(3, inputs, outputs, 123456));
    expect(hashToHex(tx.txid)).not.toBe(display(sha256d(raw)));
  });

  it('differs from a txid built with refs in plain byte order', () => {
    const raw = serialize(3, inputs, outputs, 0);
    const txid = hashToHex(parseTx(raw, radiant).txid);
    expect(txid).toBe(expectedV3Txid(3, inputs, outputs, 0));
    expect(txid).not.toBe(expectedV3Txid(3, inputs, outputs, 0, byteOrder));
  });

  it('uses sha256d of the serialization for other versions and other coins', () => {
    for (const version of [1, 2, 4]) {
      const raw = serialize(version, inputs, outputs, 0);
      expect(hashToHex(parseTx(raw, radiant).txid)).toBe(display(sha256d(raw)));
    }
    const raw = serialize(3, inputs, outputs, 0);
    expect(hashToHex(parseTx(raw, bitcoinCash).txid)).toBe(display(sha256d(raw)));
  });
});
