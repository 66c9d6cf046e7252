// core's hash functions behind node:crypto: same digests, and the swap can be undone.
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { setSha256Implementation, sha256, sha256d } from '../core/hashes.ts';
import { merkleRoot } from '../core/merkle.ts';
import { nodeSha256, useNodeHashes } from './node-hashes.ts';

const reference = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

afterEach(() => setSha256Implementation(null));

describe('useNodeHashes', () => {
  it('gives the FIPS digests through core, as plain Uint8Arrays', () => {
    useNodeHashes();
    for (const size of [0, 32, 64, 80, 425, 5000]) {
      const data = randomBytes(size);
      expect(Buffer.from(sha256(data)).equals(reference(data))).toBe(true);
      expect(Buffer.from(sha256d(data)).equals(reference(reference(data)))).toBe(true);
    }
    expect(Buffer.isBuffer(nodeSha256(new Uint8Array(1)))).toBe(false);
  });

  it('routes merkle roots through the chosen implementation, and null restores noble', () => {
    const calls: number[] = [];
    setSha256Implementation((data) => {
      calls.push(data.length);
      return nodeSha256(data);
    });
    const leaves = [randomBytes(32), randomBytes(32)];
    const root = merkleRoot(leaves);
    expect(calls).toEqual([64, 32]);
    expect(Buffer.from(root).equals(reference(reference(Buffer.concat(leaves))))).toBe(true);
    setSha256Implementation(null);
    calls.length = 0;
    const leaf = leaves[0] ?? new Uint8Array(32);
    expect(Buffer.from(sha256(leaf)).equals(reference(leaf))).toBe(true);
    expect(calls).toEqual([]);
  });
});
