// Tests for core/script.ts: unspendable outputs, script hashes (fixtures, DESIGN §3), push-refs.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hashToHex, hexToBytes } from './bytes.ts';
import { getCoin } from './coins.ts';
import { isUnspendable, pushRefs, refToString, scriptHash, scriptOps } from './script.ts';

interface ScriptHashVector {
  script_hex: string;
  scripthash: string;
}
const examplesUrl = new URL('../test/fixtures/vectors/derived-spec-examples.json', import.meta.url);
const vectors = JSON.parse(readFileSync(examplesUrl, 'utf8')) as { scripthash: ScriptHashVector[] };

const radiant = getCoin('Radiant', 'mainnet');
const P2PKH = '76a9144f9ab47a237441c0dc61dcd39fd92709f281b03388ac';
const wireHash = (hex: string, coin = radiant): string =>
  hashToHex(scriptHash(hexToBytes(hex), coin));
const plainSha256 = (hex: string): string => {
  const digest = createHash('sha256').update(Buffer.from(hex, 'hex')).digest();
  return Buffer.from(digest).reverse().toString('hex');
};

describe('isUnspendable', () => {
  it('flags OP_RETURN and OP_0 OP_RETURN only', () => {
    expect(isUnspendable(hexToBytes('6a'))).toBe(true);
    expect(isUnspendable(hexToBytes('6a0401020304'))).toBe(true);
    expect(isUnspendable(hexToBytes('006a'))).toBe(true);
    expect(isUnspendable(hexToBytes('00'))).toBe(false);
    expect(isUnspendable(hexToBytes('516a'))).toBe(false);
    expect(isUnspendable(hexToBytes(P2PKH))).toBe(false);
    expect(isUnspendable(new Uint8Array(0))).toBe(false);
  });
});

describe('scriptHash', () => {
  it('matches every address vector of derived-spec-examples.json on each coin', () => {
    expect(vectors.scripthash.length).toBe(11);
    for (const vector of vectors.scripthash) {
      expect(wireHash(vector.script_hex, getCoin('Bitcoin', 'mainnet'))).toBe(vector.scripthash);
      const bitcoinCash = getCoin('BitcoinCash', 'mainnet');
      expect(wireHash(vector.script_hex, bitcoinCash)).toBe(vector.scripthash);
      expect(wireHash(vector.script_hex, radiant)).toBe(vector.scripthash);
    }
  });

  it('gives the Radiant worked examples of DESIGN §3 for any ref', () => {
    for (let i = 0; i < 5; i++) {
      const ref = randomBytes(36).toString('hex');
      expect(wireHash(P2PKH)).toBe(
        '9932d8a64601168b894a4a2a4fbc72b3e71698a3c09e8010a6f297f7b9bc03fd'
      );
      expect(wireHash(`d8${ref}75${P2PKH}`)).toBe(
        'ee250f5db97333f5aefd8e73bef9d3235c952aeb1fa11c1393121463d1879b5d'
      );
      expect(wireHash(`${P2PKH}bdd0${ref}dec0e9aa76e378e4a269e69d`)).toBe(
        '8161a9d28d935e6a2f04085e981d5eca65bd5ac6a4fd6dad608f8873ac76c97e'
      );
    }
  });

  it('zeroes the operands of 0xd1-0xd3 too when a checksig is present', () => {
    const ref = 'ab'.repeat(36);
    for (const op of ['d1', 'd2', 'd3']) {
      expect(wireHash(`${op}${ref}75ac`)).toBe(plainSha256(`${op}${'00'.repeat(36)}75ac`));
    }
    expect(wireHash(`d0${ref}75ad`)).toBe(plainSha256(`d0${'00'.repeat(36)}75ad`));
  });

  it('keeps refs when no checksig opcode is present, and on non-Radiant coins', () => {
    const script = `d8${'cd'.repeat(36)}75`;
    expect(wireHash(script)).toBe(plainSha256(script));
    const withSig = `d8${'cd'.repeat(36)}75ac`;
    expect(wireHash(withSig, getCoin('BitcoinCash', 'mainnet'))).toBe(plainSha256(withSig));
  });

  it('counts a checksig only as an opcode, not inside pushed data', () => {
    const script = `d8${'cd'.repeat(36)}01ac`;
    expect(wireHash(script)).toBe(plainSha256(script));
  });

  it('does not zero an 0xd0 byte inside pushed data', () => {
    const script = `24d0${'ee'.repeat(35)}${P2PKH}`;
    expect(wireHash(script)).toBe(plainSha256(script));
  });

  it('hashes a truncated script without throwing', () => {
    for (const script of ['4c', '4d01', '4e010000', `d0${'11'.repeat(10)}ac`, '05abac']) {
      expect(wireHash(script)).toBe(plainSha256(script));
    }
  });
});

describe('scriptOps', () => {
  it('walks pushes of every form and ref operands', () => {
    const hex = `0201024c0103 4d0200aabb 4e01000000cc d0${'11'.repeat(36)} ac`;
    const script = hexToBytes(hex.replace(/ /g, ''));
    const ops = [...scriptOps(script)].map((op) => [op.opcode, op.operandEnd - op.operandStart]);
    expect(ops).toEqual([[0x02, 2], [0x4c, 1], [0x4d, 2], [0x4e, 1], [0xd0, 36], [0xac, 0]]);
    // Without Radiant rules 0xd0 is a plain opcode and the 36 OP_NOPs (0x61) after it are opcodes.
    const plain = [...scriptOps(hexToBytes(`d0${'61'.repeat(36)}`), false)];
    expect(plain.length).toBe(37);
  });
});

describe('pushRefs', () => {
  it('returns 0xd0 and 0xd8 operands in script order, deduplicated, ignoring 0xd1-0xd3', () => {
    const a = randomBytes(36).toString('hex');
    const b = randomBytes(36).toString('hex');
    const c = randomBytes(36).toString('hex');
    const script = hexToBytes(`d0${a}d8${b}d1${c}d0${a}d2${c}d3${c}75d0${c}d8${b}${P2PKH}`);
    const refs = pushRefs(script).map((r) => [bytesToHex(r.ref), r.kind]);
    expect(refs).toEqual([
      [a, 'normal'],
      [b, 'single'],
      [c, 'normal'],
    ]);
  });

  it('skips ref-like bytes inside pushes and stops at a truncated operand', () => {
    expect(pushRefs(hexToBytes(`25d0${'00'.repeat(36)}`))).toEqual([]);
    expect(pushRefs(hexToBytes(`d0${'00'.repeat(35)}`))).toEqual([]);
  });

  it('formats a ref as display txid + "i" + vout', () => {
    const txid = '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b';
    const ref = Buffer.concat([Buffer.from(txid, 'hex').reverse(), Buffer.from('07010000', 'hex')]);
    expect(refToString(ref)).toBe(`${txid}i263`);
  });
});

describe('scriptHash leaves its input alone', () => {
  it('does not zero the refs of a Buffer it is given (Buffer#slice shares memory)', () => {
    const radiant = getCoin('Radiant', 'mainnet');
    const ref = randomBytes(36).toString('hex');
    const script = Buffer.from(`d8${ref}7576a914${'11'.repeat(20)}88ac`, 'hex');
    const before = Buffer.from(script);
    scriptHash(script, radiant);
    expect(script.equals(before)).toBe(true);
  });
});
