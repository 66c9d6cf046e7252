// Tests for core/hashes.ts against node:crypto (an independent implementation).
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from './bytes.ts';
import { sha256, sha256d, sha512_256d } from './hashes.ts';

const nodeHash = (algorithm: string, data: Uint8Array): Buffer =>
  createHash(algorithm).update(data).digest();

describe('hashes', () => {
  it('sha256 and sha256d match node:crypto', () => {
    for (const size of [0, 1, 55, 56, 64, 65, 1000]) {
      const data = randomBytes(size);
      expect(bytesToHex(sha256(data))).toBe(nodeHash('sha256', data).toString('hex'));
      const twice = nodeHash('sha256', nodeHash('sha256', data));
      expect(bytesToHex(sha256d(data))).toBe(twice.toString('hex'));
    }
  });

  it('sha512_256d is FIPS SHA-512/256 twice, not truncated SHA-512', () => {
    for (const size of [0, 80, 200]) {
      const data = randomBytes(size);
      const expected = nodeHash('sha512-256', nodeHash('sha512-256', data));
      expect(bytesToHex(sha512_256d(data))).toBe(expected.toString('hex'));
      const firstRound = nodeHash('sha512', data).subarray(0, 32);
      const truncated = nodeHash('sha512', firstRound).subarray(0, 32);
      expect(bytesToHex(sha512_256d(data))).not.toBe(truncated.toString('hex'));
    }
  });

  it('sha256 of "abc" is the FIPS 180-2 example', () => {
    const abc = new TextEncoder().encode('abc');
    expect(bytesToHex(sha256(abc))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    );
  });
});
