// Bitcoin-style merkle trees: root, branch (proof) for one leaf, and folding a branch back.
import { concatBytes } from './bytes.ts';
import { sha256d } from './hashes.ts';

/** The hash applied to each concatenated pair of nodes. */
export type PairHash = (data: Uint8Array) => Uint8Array;

const NODE_BYTES = 32;

function requireLeaves(leaves: Uint8Array[]): void {
  if (leaves.length === 0) throw new RangeError('merkle tree of no leaves');
}

/**
 * Every level of the merkle tree of `leaves` (internal-order hashes, e.g. a block's txids),
 * leaves first and the root last, each level its nodes' 32 bytes back to back. An odd node at
 * any level is paired with itself (Bitcoin's BlockMerkleRoot and the Electrum protocol's
 * blockchain.transaction.get_merkle).
 * @throws RangeError when there are no leaves.
 */
export function merkleLevels(leaves: Uint8Array[], hash: PairHash = sha256d): Uint8Array[] {
  requireLeaves(leaves);
  let level = new Uint8Array(leaves.length * NODE_BYTES);
  leaves.forEach((leaf, i) => level.set(leaf, i * NODE_BYTES));
  const levels = [level];
  const pair = new Uint8Array(2 * NODE_BYTES);
  while (level.length > NODE_BYTES) {
    const count = level.length / NODE_BYTES;
    const next = new Uint8Array(Math.ceil(count / 2) * NODE_BYTES);
    for (let left = 0; left < count; left += 2) {
      const right = left + 1 < count ? left + 1 : left;
      pair.set(level.subarray(left * NODE_BYTES, (left + 1) * NODE_BYTES), 0);
      pair.set(level.subarray(right * NODE_BYTES, (right + 1) * NODE_BYTES), NODE_BYTES);
      next.set(hash(pair), (left / 2) * NODE_BYTES);
    }
    levels.push(next);
    level = next;
  }
  return levels;
}

/**
 * The siblings on the path from leaf `index` to the root, bottom first (internal order), read
 * from merkleLevels' levels.
 * @throws RangeError when `index` is not a leaf position.
 */
export function branchFromLevels(levels: Uint8Array[], index: number): Uint8Array[] {
  const leafCount = (levels[0]?.length ?? 0) / NODE_BYTES;
  if (!Number.isInteger(index) || index < 0 || index >= leafCount) {
    throw new RangeError(`leaf index ${index} outside 0..${leafCount - 1}`);
  }
  const branch: Uint8Array[] = [];
  let position = index;
  for (const level of levels.slice(0, -1)) {
    const count = level.length / NODE_BYTES;
    const sibling = (position ^ 1) < count ? position ^ 1 : position;
    branch.push(level.slice(sibling * NODE_BYTES, (sibling + 1) * NODE_BYTES));
    position >>= 1;
  }
  return branch;
}

/**
 * Merkle root of `leaves` (internal-order hashes, e.g. a block's txids).
 * @throws RangeError when there are no leaves.
 */
export function merkleRoot(leaves: Uint8Array[], hash: PairHash = sha256d): Uint8Array {
  const levels = merkleLevels(leaves, hash);
  return levels[levels.length - 1] ?? new Uint8Array(0);
}

/**
 * The siblings on the path from leaf `index` to the root, bottom first (internal order).
 * @throws RangeError when there are no leaves or `index` is not a leaf position.
 */
export function merkleBranch(
  leaves: Uint8Array[],
  index: number,
  hash: PairHash = sha256d
): Uint8Array[] {
  requireLeaves(leaves);
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf index ${index} outside 0..${leaves.length - 1}`);
  }
  return branchFromLevels(merkleLevels(leaves, hash), index);
}

/**
 * Folds `leaf` up through `branch` at position `index` and returns the root it proves; compare it
 * with the block header's merkle root.
 */
export function foldBranch(
  leaf: Uint8Array,
  branch: Uint8Array[],
  index: number,
  hash: PairHash = sha256d
): Uint8Array {
  let node = leaf;
  let position = index;
  for (const sibling of branch) {
    node = position & 1 ? hash(concatBytes(sibling, node)) : hash(concatBytes(node, sibling));
    position = Math.floor(position / 2);
  }
  return node;
}
