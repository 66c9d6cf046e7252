// Bitcoin-style merkle trees: root, branch (proof) for one leaf, and folding a branch back.
import { concatBytes } from './bytes.ts';
import { sha256d } from './hashes.ts';

/** The hash applied to each concatenated pair of nodes. */
export type PairHash = (data: Uint8Array) => Uint8Array;

// An odd node at any level is paired with itself (Bitcoin's BlockMerkleRoot and the Electrum
// protocol's blockchain.transaction.get_merkle).
function nextLevel(level: Uint8Array[], hash: PairHash): Uint8Array[] {
  const next: Uint8Array[] = [];
  for (let i = 0; i < level.length; i += 2) {
    const left = level[i];
    if (left === undefined) break;
    next.push(hash(concatBytes(left, level[i + 1] ?? left)));
  }
  return next;
}

function requireLeaves(leaves: Uint8Array[]): void {
  if (leaves.length === 0) throw new RangeError('merkle tree of no leaves');
}

/**
 * Merkle root of `leaves` (internal-order hashes, e.g. a block's txids).
 * @throws RangeError when there are no leaves.
 */
export function merkleRoot(leaves: Uint8Array[], hash: PairHash = sha256d): Uint8Array {
  requireLeaves(leaves);
  let level = leaves;
  while (level.length > 1) level = nextLevel(level, hash);
  const root = level[0];
  if (root === undefined) throw new Error('merkle root: empty level (cannot happen)');
  return root;
}

/**
 * The siblings on the path from leaf `index` to the root, bottom first (internal order).
 * @throws RangeError when `index` is not a leaf position.
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
  const branch: Uint8Array[] = [];
  let level = leaves;
  let position = index;
  while (level.length > 1) {
    const sibling = level[position ^ 1] ?? level[position];
    if (sibling === undefined) throw new Error('merkle branch: missing node (cannot happen)');
    branch.push(sibling);
    level = nextLevel(level, hash);
    position >>= 1;
  }
  return branch;
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
