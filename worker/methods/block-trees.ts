// The merkle trees of blocks that merkle proofs are cut from, kept per isolate by merkle root.
// Building a tree reads every txid of the block and hashes the whole tree (about 6,000 SHA-256d
// for a 3,000-tx block, tens of milliseconds); a proof from a kept tree costs one header read.
// A merkle root names one tree whatever chain it is on, so a reorg cannot serve a stale one.
import { headerMerkleRoot } from '../../core/block.ts';
import { bytesToHex, equalBytes } from '../../core/bytes.ts';
import { merkleLevels } from '../../core/merkle.ts';
import type { MethodContext } from './context.ts';

const NODE_BYTES = 32;
/** Bytes of tree levels one isolate keeps (a 3,000-tx block's tree takes about 190 kB). */
const KEPT_BYTES = 16 * 1024 * 1024;

/** A block's merkle tree (merkleLevels: leaves first, root last) and the tip it was read at. */
export interface BlockTree {
  levels: Uint8Array[];
  tipHeight: number;
  /** True when this call read the block and built the tree (it was not kept). */
  built: boolean;
}

/**
 * Key of a merkle proof's result under which the number of txs of a tree the request had to
 * build rides along to the cost table (worker/limits/method-cost.ts): building costs the Worker
 * far more than cutting a proof from a kept tree. A symbol key: it never reaches the wire.
 */
export const TREE_BUILT_TXS: unique symbol = Symbol('merkle tree built, txs');

interface Kept {
  levels: Promise<Uint8Array[]>;
  bytes: number;
}

/**
 * Trees by merkle root, least recently used first. A tree being built is shared: a batch of
 * proofs from one block builds it once.
 */
class TreeShelf {
  readonly #trees = new Map<string, Kept>();
  #bytes = 0;

  get(root: string, build: () => Promise<Uint8Array[]>): Promise<Uint8Array[]> {
    const kept = this.#trees.get(root);
    if (kept !== undefined) {
      this.#trees.delete(root);
      this.#trees.set(root, kept);
      return kept.levels;
    }
    const entry: Kept = { levels: build(), bytes: 0 };
    this.#trees.set(root, entry);
    entry.levels.then(
      (levels) => {
        if (this.#trees.get(root) !== entry) return;
        entry.bytes = levels.reduce((sum, level) => sum + level.length, 0);
        this.#bytes += entry.bytes;
        this.#evict();
      },
      () => {
        if (this.#trees.get(root) === entry) this.#trees.delete(root);
      }
    );
    return entry.levels;
  }

  #evict(): void {
    for (const [root, kept] of this.#trees) {
      if (this.#bytes <= KEPT_BYTES) return;
      this.#trees.delete(root);
      this.#bytes -= kept.bytes;
    }
  }
}

const SHELF = new TreeShelf();

/**
 * The merkle tree of the block at `height`, or null beyond the tip.
 * @throws Error when the index's txids of the block do not give its header's merkle root (the
 *   block was replaced between the two reads, or the index is damaged); nothing is kept then.
 */
export async function blockTree(context: MethodContext, height: number): Promise<BlockTree | null> {
  const { headers, tipHeight } = await context.index.headerRange(height, 1);
  const header = headers[0];
  if (header === undefined) return null;
  const root = headerMerkleRoot(header);
  let built = false;
  const levels = await SHELF.get(bytesToHex(root), async () => {
    built = true;
    const { txids } = await context.index.blockTxidsWithTip(height);
    if (txids === null) throw new Error(`block ${height} left the index while it was read`);
    const tree = merkleLevels(txids);
    if (!equalBytes(tree[tree.length - 1] ?? new Uint8Array(0), root)) {
      throw new Error(`the txids of block ${height} do not give its header's merkle root`);
    }
    return tree;
  });
  return { levels, tipHeight, built };
}

/** `result` marked, for the cost table, with the txs of the tree its request built (if any). */
export function withBuildCost<T extends object>(result: T, tree: BlockTree): T {
  if (!tree.built) return result;
  return Object.assign(result, { [TREE_BUILT_TXS]: leafCount(tree) });
}

/** The number of txs of a tree's block. */
export function leafCount(tree: BlockTree): number {
  return (tree.levels[0]?.length ?? 0) / NODE_BYTES;
}

/** The txid at `position` of a tree's block (internal order), or undefined past its end. */
export function leafAt(tree: BlockTree, position: number): Uint8Array | undefined {
  if (!Number.isInteger(position) || position < 0 || position >= leafCount(tree)) return undefined;
  return tree.levels[0]?.slice(position * NODE_BYTES, (position + 1) * NODE_BYTES);
}

/** The position of `txid` (internal order) in a tree's block, or -1. */
export function leafPosition(tree: BlockTree, txid: Uint8Array): number {
  const leaves = tree.levels[0] ?? new Uint8Array(0);
  const count = leafCount(tree);
  for (let position = 0; position < count; position++) {
    const at = position * NODE_BYTES;
    if (equalBytes(leaves.subarray(at, at + NODE_BYTES), txid)) return position;
  }
  return -1;
}
