// Checkpoint proofs (cp_height) of block headers from stored complete-subtree hashes.
import { concatBytes } from '../bytes.ts';
import { sha256d } from '../hashes.ts';

/**
 * A node of the merkle tree over block hashes. Level 0 node `index` is the block hash at that
 * height; level L node `index` is the root of the complete subtree over heights
 * [index * 2^L, (index + 1) * 2^L). Only complete subtrees are ever stored or asked for.
 */
export interface TreeNodeKey {
  level: number;
  index: number;
}

/** A checkpoint proof: the root over heights 0..cp_height and the branch of one height. */
export interface HeaderProof {
  /** Internal order, as every node here. */
  root: Uint8Array;
  /** Siblings from the leaf up, deepest pairing first (protocol-methods.rst). */
  branch: Uint8Array[];
}

/** Looks a complete node up; must throw (never invent a hash) when it is missing. */
export type TreeNodeLookup = (key: TreeNodeKey) => Uint8Array;

/**
 * The hash of a parent from its two children. The protocol's header merkle tree is always
 * SHA-256d, Radiant included: its leaves are SHA-512/256d block hashes but the tree above them is
 * Bitcoin's (Radiant ElectrumX builds it with its default double_sha256 Merkle).
 */
export function parentHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256d(concatBytes(left, right));
}

/** A map key for a node. */
export function treeNodeId(key: TreeNodeKey): string {
  return `${key.level}:${key.index}`;
}

// Node counts per level for `leafCount` leaves: Electrum's tree pairs an odd last node with
// itself, so level L has ceil(count(L-1) / 2) nodes, up to the single root.
function levelCounts(leafCount: number): number[] {
  const counts = [leafCount];
  let count = leafCount;
  while (count > 1) {
    count = Math.ceil(count / 2);
    counts.push(count);
  }
  return counts;
}

function checkHeights(height: number, cpHeight: number): void {
  if (!Number.isSafeInteger(height) || !Number.isSafeInteger(cpHeight)) {
    throw new RangeError(`heights must be safe integers, got ${height} and ${cpHeight}`);
  }
  if (height < 0 || cpHeight < 1 || height > cpHeight) {
    throw new RangeError(`need 0 <= height ${height} <= cp_height ${cpHeight} and cp_height > 0`);
  }
}

/**
 * The complete nodes a proof of `height` up to `cpHeight` reads: the left siblings along the
 * right edge of the tree (whose last nodes are incomplete and computed) and the complete siblings
 * along the branch. At most two per level, so O(log n) reads.
 * @throws RangeError unless 0 <= height <= cpHeight and cpHeight > 0.
 */
export function headerProofNodes(height: number, cpHeight: number): TreeNodeKey[] {
  checkHeights(height, cpHeight);
  const counts = levelCounts(cpHeight + 1);
  const keys = new Map<string, TreeNodeKey>();
  const want = (level: number, index: number): void => {
    const key = { level, index };
    keys.set(treeNodeId(key), key);
  };
  want(0, cpHeight);
  for (let level = 1; level < counts.length; level++) {
    const below = counts[level - 1] ?? 0;
    if (below % 2 === 0) want(level - 1, below - 2);
  }
  for (let level = 0; level < counts.length - 1; level++) {
    const sibling = (height >> level) ^ 1;
    if (sibling < (counts[level] ?? 0) - 1) want(level, sibling);
  }
  return [...keys.values()];
}

// The hash of the last node of every level, bottom up. The last node of a level covers the tail
// of the leaves and may be incomplete: it pairs the complete node left of it (when the level
// below has an even count) or, when it has no partner, itself.
function rightEdge(counts: number[], lookup: TreeNodeLookup): Uint8Array[] {
  const leafCount = counts[0] ?? 0;
  const edges = [lookup({ level: 0, index: leafCount - 1 })];
  for (let level = 1; level < counts.length; level++) {
    const below = counts[level - 1] ?? 0;
    const lastBelow = edges[level - 1];
    if (lastBelow === undefined) throw new Error(`right edge missing at level ${level - 1}`);
    const left = below % 2 === 0 ? lookup({ level: level - 1, index: below - 2 }) : lastBelow;
    edges.push(below % 2 === 0 ? parentHash(left, lastBelow) : parentHash(lastBelow, lastBelow));
  }
  return edges;
}

/**
 * The root over block hashes 0..cpHeight and the branch of `height`, the same as a merkle tree
 * built from all cpHeight + 1 hashes (ElectrumX header_branch_and_root), from the nodes that
 * headerProofNodes names.
 * @throws RangeError on bad heights; whatever `lookup` throws for a missing node.
 */
export function headerProof(height: number, cpHeight: number, lookup: TreeNodeLookup): HeaderProof {
  checkHeights(height, cpHeight);
  const counts = levelCounts(cpHeight + 1);
  const edges = rightEdge(counts, lookup);
  const branch: Uint8Array[] = [];
  for (let level = 0; level < counts.length - 1; level++) {
    const sibling = (height >> level) ^ 1;
    const last = (counts[level] ?? 0) - 1;
    // A sibling past the end means this node is the last one, paired with itself.
    const node = sibling < last ? lookup({ level, index: sibling }) : edges[level];
    if (node === undefined) throw new Error(`right edge missing at level ${level}`);
    branch.push(node);
  }
  const root = edges[edges.length - 1];
  if (root === undefined) throw new Error('header tree has no root (cannot happen)');
  return { root, branch };
}
