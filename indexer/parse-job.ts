// One block's trip from the node's hex to a PreparedBlock: decode, parse, verify, hash, prepare.
import type { Coin } from '../core/coins.ts';
import { prepareBlock, type PreparedBlock } from './block-prep.ts';
import { BlockError, verifyBlock } from './block-verify.ts';

/** A block to prepare: getblock's hex for the block the node named at `height`. */
export interface ParseJob {
  id: number;
  height: number;
  /** Display hex of the hash the node gave for this height. */
  hashHex: string;
  hex: string;
}

/**
 * The outcome of a job. `hex`: the node's answer is not hex (sync retries it like any unusable
 * answer); `block`: the block is invalid (BlockError, the indexer stops); `internal`: our bug.
 */
export type ParseReply =
  | { id: number; prepared: PreparedBlock }
  | { id: number; error: { kind: 'hex' | 'block' | 'internal'; message: string } };

/**
 * Decodes the hex into a buffer of its own (so it can be transferred), verifies the block
 * (parse, hash, merkle root) and prepares it for BlockWriter. Never throws: failures are replies.
 */
export function runParseJob(job: ParseJob, coin: Coin): ParseReply {
  const { id, height, hashHex, hex } = job;
  const bytes = new Uint8Array(hex.length >>> 1);
  // Buffer#write stops at the first non-hex character; a full regex pass first would cost a
  // second walk over megabytes.
  const decoded = Buffer.from(bytes.buffer).write(hex, 'hex');
  if (hex.length % 2 !== 0 || decoded !== bytes.length) {
    const message = `${hashHex}: odd length or non-hex at character ${2 * decoded}`;
    return { id, error: { kind: 'hex', message } };
  }
  try {
    return { id, prepared: prepareBlock(verifyBlock(bytes, height, hashHex, coin), coin) };
  } catch (error) {
    if (error instanceof BlockError) return { id, error: { kind: 'block', message: error.reason } };
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { id, error: { kind: 'internal', message } };
  }
}
