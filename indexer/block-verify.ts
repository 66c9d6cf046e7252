// Parsing and checking one block from the node before anything of it reaches the index.
import { checkMerkleRoot, parseBlock, type Block } from '../core/block.ts';
import { hashToHex } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';

/** A block that cannot be applied; the message names height and hash (sync logs it and stops). */
export class BlockError extends Error {
  override name = 'BlockError';
  readonly height: number;
  readonly hashHex: string;
  /** The message without the height and hash, to rebuild the error on another thread. */
  readonly reason: string;

  constructor(height: number, hashHex: string, reason: string, options?: ErrorOptions) {
    super(`block ${height} ${hashHex}: ${reason}`, options);
    this.height = height;
    this.hashHex = hashHex;
    this.reason = reason;
  }
}

/**
 * Parses the node's block and checks it is the block asked for with a matching merkle root.
 * @throws BlockError naming height and hash (DESIGN §3: never trust a block blindly).
 */
export function verifyBlock(bytes: Uint8Array, height: number, hashHex: string, coin: Coin): Block {
  let block: Block;
  try {
    block = parseBlock(bytes, coin);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BlockError(height, hashHex, `does not parse: ${reason}`, { cause: error });
  }
  const actual = hashToHex(block.header.hash);
  if (actual !== hashHex) {
    throw new BlockError(height, hashHex, `the node sent block ${actual} instead`);
  }
  try {
    checkMerkleRoot(block);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BlockError(height, hashHex, reason, { cause: error });
  }
  return block;
}
