// Block and header parsing, with the merkle-root check the indexer runs on every block.
import { ByteReader, ParseError, readCount } from './byte-reader.ts';
import { equalBytes, hashToHex } from './bytes.ts';
import type { Coin } from './coins.ts';
import { merkleRoot } from './merkle.ts';
import { readTx, type Tx } from './tx.ts';

/** Size of a serialized block header for every supported coin. */
export const HEADER_BYTES = 80;
// Smallest tx: version 4 + input count 1 + output count 1 + locktime 4.
const MIN_TX_BYTES = 10;

/** A parsed 80-byte header; hashes in internal order, byte fields are views into `raw`. */
export interface BlockHeader {
  raw: Uint8Array;
  hash: Uint8Array;
  version: number;
  prevHash: Uint8Array;
  merkleRoot: Uint8Array;
  time: number;
  bits: number;
  nonce: number;
}

/** A parsed block; `size` is its serialized size in bytes. */
export interface Block {
  header: BlockHeader;
  txs: Tx[];
  size: number;
}

// Where the merkle root sits in every supported chain's header: version 4 | prev hash 32 | root 32.
const MERKLE_ROOT_START = 36;
const MERKLE_ROOT_END = 68;

/** The merkle root field of a raw header (a view of its bytes), without parsing the rest. */
export function headerMerkleRoot(raw80: Uint8Array): Uint8Array {
  return raw80.subarray(MERKLE_ROOT_START, MERKLE_ROOT_END);
}

/**
 * Parses an 80-byte header and hashes it with the coin's header hash.
 * @throws ParseError unless `raw80` is exactly 80 bytes.
 */
export function parseHeader(raw80: Uint8Array, coin: Coin): BlockHeader {
  if (raw80.length !== HEADER_BYTES) {
    throw new ParseError(`block header must be ${HEADER_BYTES} bytes, got ${raw80.length}`);
  }
  const reader = new ByteReader(raw80);
  return {
    raw: raw80,
    hash: coin.headerHash(raw80),
    version: reader.readI32LE('header version'),
    prevHash: reader.readBytes(32, 'header prev hash'),
    merkleRoot: reader.readBytes(32, 'header merkle root'),
    time: reader.readU32LE('header time'),
    bits: reader.readU32LE('header bits'),
    nonce: reader.readU32LE('header nonce'),
  };
}

/**
 * Parses a serialized block (header, tx count, txs).
 * @throws ParseError on truncation, trailing bytes, an absurd tx count or a bad tx.
 */
export function parseBlock(bytes: Uint8Array, coin: Coin): Block {
  const reader = new ByteReader(bytes);
  const header = parseHeader(reader.readBytes(HEADER_BYTES, 'block header'), coin);
  const count = readCount(reader, MIN_TX_BYTES, 'block tx');
  if (count === 0) throw new ParseError('block has no transactions');
  const txs: Tx[] = [];
  for (let i = 0; i < count; i++) {
    try {
      txs.push(readTx(reader, coin));
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      throw new ParseError(`tx ${i} of block ${hashToHex(header.hash)}: ${error.message}`, {
        cause: error,
      });
    }
  }
  if (!reader.done) {
    throw new ParseError(`${reader.remaining} trailing bytes after the last tx of the block`);
  }
  return { header, txs, size: bytes.length };
}

/**
 * Checks that the txids fold to the header's merkle root (DESIGN §3: never trust a block blindly).
 * @throws Error naming the block and both roots when they differ.
 */
export function checkMerkleRoot(block: Block): void {
  const computed = merkleRoot(block.txs.map((tx) => tx.txid));
  if (!equalBytes(computed, block.header.merkleRoot)) {
    throw new Error(
      `merkle root mismatch in block ${hashToHex(block.header.hash)}: header has ` +
        `${hashToHex(block.header.merkleRoot)}, txids give ${hashToHex(computed)}`
    );
  }
}
