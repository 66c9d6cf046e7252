// Tests of checkpoint proofs against roots computed here from every header hash with node:crypto.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  headerProof,
  headerProofNodes,
  treeNodeId,
  type TreeNodeKey,
  type TreeNodeLookup,
} from './header-proof.ts';

const PROJECT_DIR = resolve(import.meta.dirname, '../..');

function digest(name: string, data: Buffer): Buffer {
  return createHash(name).update(data).digest();
}

const sha256d = (data: Buffer): Buffer => digest('sha256', digest('sha256', data));
const sha512_256d = (data: Buffer): Buffer => digest('sha512-256', digest('sha512-256', data));

/** Every level of the Electrum merkle tree over `leaves`, an odd last node paired with itself. */
function allLevels(leaves: Buffer[]): Buffer[][] {
  const levels = [leaves];
  let level = leaves;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Buffer;
      next.push(sha256d(Buffer.concat([left, level[i + 1] ?? left])));
    }
    levels.push(next);
    level = next;
  }
  return levels;
}

/** Root and branch of leaf `index` from the levels of the full tree over the first leaves. */
function referenceProof(levels: Buffer[][], index: number): { root: string; branch: string[] } {
  const branch = levels.slice(0, -1).map((level, depth) => {
    const position = index >> depth;
    return (level[position ^ 1] ?? level[position] ?? Buffer.alloc(0)).toString('hex');
  });
  return { root: (levels[levels.length - 1]?.[0] ?? Buffer.alloc(0)).toString('hex'), branch };
}

/**
 * A store of complete subtree hashes (as the indexer keeps them) that records which nodes a proof
 * reads and refuses any node headerProofNodes did not name or that is not complete within the
 * cpHeight + 1 leaves. A complete subtree's root is the same node in the tree over all `levels`.
 */
function subtreeStore(
  levels: Buffer[][],
  cpHeight: number,
  allowed: TreeNodeKey[]
): { lookup: TreeNodeLookup; reads: string[] } {
  const allowedIds = new Set(allowed.map(treeNodeId));
  const reads: string[] = [];
  const lookup: TreeNodeLookup = ({ level, index }) => {
    const id = treeNodeId({ level, index });
    if (!allowedIds.has(id)) throw new Error(`node ${id} was not announced`);
    if ((index + 1) * 2 ** level > cpHeight + 1) throw new Error(`node ${id} is incomplete`);
    const node = levels[level]?.[index];
    if (node === undefined) throw new Error(`node ${id} is not stored`);
    reads.push(id);
    return new Uint8Array(node);
  };
  return { lookup, reads };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function display(bytes: Uint8Array): string {
  return Buffer.from(bytes).reverse().toString('hex');
}

function checkAll(hashes: Buffer[], pairs: [number, number][]): void {
  const levels = allLevels(hashes);
  const treesByCp = new Map<number, Buffer[][]>();
  for (const [height, cpHeight] of pairs) {
    const nodes = headerProofNodes(height, cpHeight);
    const { lookup, reads } = subtreeStore(levels, cpHeight, nodes);
    const proof = headerProof(height, cpHeight, lookup);
    let tree = treesByCp.get(cpHeight);
    if (tree === undefined) {
      tree = allLevels(hashes.slice(0, cpHeight + 1));
      treesByCp.set(cpHeight, tree);
    }
    const expected = referenceProof(tree, height);
    expect({ height, cpHeight, root: hex(proof.root) }).toEqual({
      height,
      cpHeight,
      root: expected.root,
    });
    expect(proof.branch.map(hex)).toEqual(expected.branch);
    // O(log n): at most two complete nodes per level.
    expect(reads.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(cpHeight + 1)) + 1);
  }
}

describe('headerProof', () => {
  it('matches the protocol docs example (Bitcoin mainnet, height 5, cp_height 8)', () => {
    const file = join(PROJECT_DIR, 'data/bitcoin_mainnet_0-255.json');
    const blocks = (JSON.parse(readFileSync(file, 'utf8')) as { blocks: string[] }).blocks;
    const headerOf = (block: string): Buffer => Buffer.from(block.slice(0, 160), 'hex');
    const hashes = blocks.slice(0, 9).map((block) => sha256d(headerOf(block)));
    const nodes = headerProofNodes(5, 8);
    const proof = headerProof(5, 8, subtreeStore(allLevels(hashes), 8, nodes).lookup);
    // protocol-methods.rst, blockchain.block.header "With cp_height 8" (display hex).
    expect(display(proof.root)).toBe(
      'e347b1c43fd9b5415bf0d92708db8284b78daf4d0e24f9c3405f45feb85e25db'
    );
    expect(proof.branch.map(display)).toEqual([
      '000000004ebadb55ee9096c9a2f8880e09da59c0d68b1c228da88e48844a1485',
      '96cbbc84783888e4cc971ae8acf86dd3c1a419370336bb3c634c97695a8c5ac9',
      '965ac94082cebbcffe458075651e9cc33ce703ab0115c72d9e8b1a9906b2b636',
      '89e5daa6950b895190716dd26054432b564ccdc2868188ba1da76de8e1dc7591',
    ]);
  });

  it('matches the full tree for every height up to every cp_height on 256 Bitcoin headers', () => {
    const file = join(PROJECT_DIR, 'data/bitcoin_mainnet_0-255.json');
    const blocks = (JSON.parse(readFileSync(file, 'utf8')) as { blocks: string[] }).blocks;
    const hashes = blocks.map((block) => sha256d(Buffer.from(block.slice(0, 160), 'hex')));
    const pairs: [number, number][] = [];
    for (let cpHeight = 1; cpHeight < hashes.length; cpHeight++) {
      for (let height = 0; height <= cpHeight; height += cpHeight > 40 ? 7 : 1) {
        pairs.push([height, cpHeight]);
      }
      pairs.push([cpHeight, cpHeight]);
    }
    checkAll(hashes, pairs);
  });

  it('matches the full tree over SHA-512/256d (Radiant) header hashes at awkward sizes', () => {
    // Radiant's two real headers (data/SOURCES.md), then distinct 80-byte headers made here.
    const file = join(PROJECT_DIR, 'data/radiant_mainnet_0-1.json');
    const blocks = (JSON.parse(readFileSync(file, 'utf8')) as { blocks: string[] }).blocks;
    const headers = blocks.map((block) => Buffer.from(block.slice(0, 160), 'hex'));
    while (headers.length < 1100) {
      const header = Buffer.alloc(80);
      header.writeUInt32LE(headers.length, 76);
      headers.push(header);
    }
    const hashes = headers.map(sha512_256d);
    expect(display(hashes[0] ?? Buffer.alloc(0))).toBe(
      '0000000065d8ed5d8be28d6876b3ffb660ac2a6c0ca59e437e1f7a6f4e003fb4'
    );
    const pairs: [number, number][] = [];
    for (const cpHeight of [1, 2, 3, 511, 512, 513, 1023, 1024, 1025, 1099]) {
      for (const height of [0, 1, cpHeight >> 1, cpHeight - 1, cpHeight]) {
        pairs.push([Math.min(height, cpHeight), cpHeight]);
      }
    }
    checkAll(hashes, pairs);
  });

  it('refuses heights outside 0 <= height <= cp_height, cp_height > 0', () => {
    expect(() => headerProofNodes(5, 4)).toThrow(RangeError);
    expect(() => headerProofNodes(0, 0)).toThrow(RangeError);
    expect(() => headerProofNodes(-1, 3)).toThrow(RangeError);
    expect(() => headerProof(1, 2 ** 60, () => new Uint8Array(32))).toThrow(RangeError);
  });
});
