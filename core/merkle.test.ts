// Tests for core/merkle.ts: branches from derived-spec-examples.json and the protocol spec.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hashToHex, hexToHash } from './bytes.ts';
import { foldBranch, merkleBranch, merkleRoot } from './merkle.ts';

const fixturePath = (path: string): URL => new URL(`../test/fixtures/${path}`, import.meta.url);
const fixture = <T>(path: string): T => JSON.parse(readFileSync(fixturePath(path), 'utf8')) as T;

interface ComputedBranch {
  block_file: string;
  tx_hash: string;
  pos: number;
  merkle: string[];
  expected_merkleroot: string;
}
interface SpecExample {
  tx_hash: string;
  result: { block_height: number; merkle: string[]; pos: number };
}
interface AdversarialExample {
  tx_hash: string;
  merkle: string[];
  merkleroot: string;
  valid_pos: number;
}
interface Examples {
  get_merkle_computed: ComputedBranch[];
  get_merkle_spec_examples: SpecExample[];
  merkle_adversarial: AdversarialExample[];
}
const examples = fixture<Examples>('vectors/derived-spec-examples.json');

/** Folds display-hex inputs as get_merkle returns them. */
const fold = (txHash: string, branch: string[], pos: number): Uint8Array =>
  foldBranch(hexToHash(txHash), branch.map(hexToHash), pos);

/** A naive reference: sha256d over Buffers, odd levels padded with their last node. */
function referenceRoot(leaves: Buffer[]): Buffer {
  let level = leaves;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const pair = Buffer.concat([level[i] as Buffer, (level[i + 1] ?? level[i]) as Buffer]);
      next.push(createHash('sha256').update(createHash('sha256').update(pair).digest()).digest());
    }
    level = next;
  }
  return level[0] as Buffer;
}

describe('merkle', () => {
  it('rebuilds and folds each computed branch of derived-spec-examples.json', () => {
    expect(examples.get_merkle_computed.length).toBe(9);
    for (const example of examples.get_merkle_computed) {
      const block = fixture<{ tx: string[]; merkleroot: string }>(`vectors/${example.block_file}`);
      const leaves = block.tx.map(hexToHash);
      expect(hashToHex(merkleRoot(leaves))).toBe(example.expected_merkleroot);
      expect(merkleBranch(leaves, example.pos).map(hashToHex)).toEqual(example.merkle);
      const folded = fold(example.tx_hash, example.merkle, example.pos);
      expect(hashToHex(folded)).toBe(example.expected_merkleroot);
    }
  });

  it('folds the spec get_merkle examples of block 2473 to one root', () => {
    const [, second, third] = examples.get_merkle_spec_examples;
    if (!second || !third) throw new Error('fixture has three examples');
    const foldSpec = (example: SpecExample): string =>
      hashToHex(fold(example.tx_hash, example.result.merkle, example.result.pos));
    expect(foldSpec(second)).toBe(foldSpec(third));
    // The block holds three txs: the coinbase (second's first sibling) and the two examples.
    const leaves = [second.result.merkle[0] ?? '', second.tx_hash, third.tx_hash].map(hexToHash);
    expect(hashToHex(merkleRoot(leaves))).toBe(foldSpec(second));
  });

  it('folds the CVE-2012-2459 example at its valid position', () => {
    const [example] = examples.merkle_adversarial;
    if (!example) throw new Error('missing adversarial example');
    const folded = fold(example.tx_hash, example.merkle, example.valid_pos);
    expect(hashToHex(folded)).toBe(example.merkleroot);
  });

  it('agrees with a naive reference on random trees of 1 to 40 leaves, for every leaf', () => {
    for (let count = 1; count <= 40; count++) {
      const leaves = Array.from({ length: count }, () => randomBytes(32));
      const root = merkleRoot(leaves);
      expect(bytesToHex(root)).toBe(referenceRoot(leaves).toString('hex'));
      for (let index = 0; index < count; index++) {
        const leaf = leaves[index] as Buffer;
        const proved = foldBranch(leaf, merkleBranch(leaves, index), index);
        expect(bytesToHex(proved)).toBe(bytesToHex(root));
      }
    }
  });

  it('a single leaf is its own root with an empty branch', () => {
    const leaf = randomBytes(32);
    expect(bytesToHex(merkleRoot([leaf]))).toBe(bytesToHex(leaf));
    expect(merkleBranch([leaf], 0)).toEqual([]);
  });

  it('refuses no leaves and out-of-range indexes', () => {
    expect(() => merkleRoot([])).toThrow(RangeError);
    expect(() => merkleBranch([randomBytes(32)], 1)).toThrow(RangeError);
    expect(() => merkleBranch([randomBytes(32)], -1)).toThrow(RangeError);
  });

  it('takes another pair hash', () => {
    const sha256 = (data: Uint8Array): Uint8Array => createHash('sha256').update(data).digest();
    const [a, b] = [randomBytes(32), randomBytes(32)];
    expect(bytesToHex(merkleRoot([a, b], sha256))).toBe(bytesToHex(sha256(Buffer.concat([a, b]))));
  });
});
