// Chain state of the simulated node: active and stale blocks, the txid index and spent outputs.
import { ByteReader } from '../core/byte-reader.ts';
import { parseBlock, parseHeader, type Block, type BlockHeader } from '../core/block.ts';
import { equalBytes } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { isUnspendable } from '../core/script.ts';
import { parseTx, type Tx, type TxOutput } from '../core/tx.ts';
import { bitsToTarget } from './block-builder.ts';

/** A block the node has connected at some point; stale once a reorg dropped it. */
export interface ChainBlock {
  readonly height: number;
  /** Display hex. */
  readonly hashHex: string;
  readonly raw: Buffer;
  readonly header: BlockHeader;
  /** The tx count the block declares (0 when its body is too short to say). */
  readonly txCount: number;
  /** Sum of the work of this block and its ancestors (the node's nChainWork). */
  readonly chainWork: bigint;
  /** Median time of this block and its 10 ancestors (the node's GetMedianTimePast). */
  readonly medianTimeSec: number;
}

/** Where a confirmed transaction lies, and which of its outputs are still unspent. */
interface TxLocation {
  height: number;
  position: number;
  start: number;
  end: number;
  /** Per output: UNSPENDABLE, UNSPENT or SPENT. */
  outputs: Uint8Array;
}

/** A confirmed transaction found through the txid index. */
export interface ConfirmedTx {
  block: ChainBlock;
  position: number;
  raw: Uint8Array;
}

const UNSPENDABLE = 0;
const UNSPENT = 1;
const SPENT = 2;
// The node's GetMedianTimePast: the block and its 10 ancestors.
const MEDIAN_TIME_SPAN = 11;
const PARSED_CACHE_BLOCKS = 16;

/** Display hex of an internal-order hash, through Buffer because the index hashes every input. */
export function displayHex(hash: Uint8Array): string {
  return Buffer.from(hash).reverse().toString('hex');
}

/** The work a header with `bits` proves: 2^256 / (target + 1) (the node's GetBlockProof). */
export function blockWork(bits: number): bigint {
  return (1n << 256n) / (bitsToTarget(bits) + 1n);
}

/**
 * The blocks of one chain, held as raw bytes. Block bodies are parsed only when asked for, and
 * the txid index with its spent-output marks is built lazily, so a node serving a long chain to an
 * indexer that only calls getblock pays nothing for it. Bodies are never validated: tests may
 * serve blocks that do not parse or whose merkle root is wrong, to see the indexer refuse them.
 */
export class SimChain {
  readonly coin: Coin;
  private readonly active: ChainBlock[] = [];
  private readonly known = new Map<string, ChainBlock>();
  private readonly txIndex = new Map<string, TxLocation>();
  // Height 0 counts as indexed from the start: a node keeps the genesis coinbase out of its
  // txindex and UTXO set.
  private indexedHeight = 0;
  private readonly parsedCache = new Map<string, Block>();

  constructor(coin: Coin) {
    this.coin = coin;
  }

  get height(): number {
    return this.active.length - 1;
  }

  /** The tip block. @throws Error on a chain with no blocks. */
  tip(): ChainBlock {
    const tip = this.active[this.active.length - 1];
    if (tip === undefined) throw new Error('the chain has no blocks');
    return tip;
  }

  /** The active block at `height`, or undefined outside 0..tip. */
  blockAt(height: number): ChainBlock | undefined {
    return this.active[height];
  }

  /** Any block ever connected (active or stale) by display hash. */
  blockByHash(hashHex: string): ChainBlock | undefined {
    return this.known.get(hashHex.toLowerCase());
  }

  isActive(block: ChainBlock): boolean {
    return this.active[block.height] === block;
  }

  /**
   * Checks that each raw block has a header linking to the block before it, the first to the
   * active block at `parentHeight` (any parent is fine for a first block at height 0).
   * @throws Error naming the block that is too short or does not link.
   */
  checkLinks(raws: Uint8Array[], parentHeight: number): void {
    let parentHash = this.active[parentHeight]?.header.hash;
    let height = parentHeight + 1;
    for (const raw of raws) {
      const header = headerOf(raw, this.coin, height);
      if (parentHash !== undefined && !equalBytes(parentHash, header.prevHash)) {
        throw new Error(
          `block ${displayHex(header.hash)} for height ${height} does not link: its prev is ` +
            `${displayHex(header.prevHash)}, the block below is ${displayHex(parentHash)}`
        );
      }
      parentHash = header.hash;
      height += 1;
    }
  }

  /**
   * Appends blocks to the tip after checking that all of them link (all or none are appended).
   * @throws Error as checkLinks.
   */
  appendAll(raws: Buffer[]): void {
    this.checkLinks(raws, this.height);
    for (const raw of raws) this.append(raw);
  }

  private append(raw: Buffer): void {
    const parent = this.active[this.active.length - 1];
    const height = this.active.length;
    const header = headerOf(raw, this.coin, height);
    if (parent !== undefined && !equalBytes(parent.header.hash, header.prevHash)) {
      throw new Error(`block for height ${height} does not link (checked before, cannot happen)`);
    }
    const hashHex = displayHex(header.hash);
    const block: ChainBlock = {
      height,
      hashHex,
      raw,
      header,
      txCount: declaredTxCount(raw),
      chainWork: (parent?.chainWork ?? 0n) + blockWork(header.bits),
      medianTimeSec: this.medianTime(header.time),
    };
    this.active.push(block);
    this.known.set(hashHex, block);
  }

  private medianTime(newTimeSec: number): number {
    const recent = this.active.slice(-(MEDIAN_TIME_SPAN - 1)).map((b) => b.header.time);
    recent.push(newTimeSec);
    recent.sort((a, b) => a - b);
    return recent[Math.floor(recent.length / 2)] ?? newTimeSec;
  }

  /**
   * Drops the blocks above `forkHeight` (they stay known as stale blocks) and undoes their effect
   * on the txid index. Returns the dropped blocks, lowest first.
   * @throws RangeError unless 0 <= forkHeight <= tip height.
   */
  disconnectAbove(forkHeight: number): ChainBlock[] {
    if (!Number.isInteger(forkHeight) || forkHeight < 0 || forkHeight > this.height) {
      throw new RangeError(`fork height ${forkHeight} outside 0..${this.height}`);
    }
    const dropped = this.active.slice(forkHeight + 1);
    for (const block of [...dropped].reverse()) {
      if (block.height <= this.indexedHeight) this.unindexBlock(block);
      this.active.pop();
    }
    this.indexedHeight = Math.min(this.indexedHeight, forkHeight);
    return dropped;
  }

  /**
   * The block parsed into header and txs (cached for a few blocks).
   * @throws ParseError when the body does not parse.
   */
  parsed(block: ChainBlock): Block {
    const cached = this.parsedCache.get(block.hashHex);
    if (cached !== undefined) return cached;
    const parsed = parseBlock(block.raw, this.coin);
    this.parsedCache.set(block.hashHex, parsed);
    if (this.parsedCache.size > PARSED_CACHE_BLOCKS) {
      const oldest = this.parsedCache.keys().next();
      if (oldest.done !== true) this.parsedCache.delete(oldest.value);
    }
    return parsed;
  }

  /** A confirmed tx of the active chain by display txid (genesis excluded, as in the node). */
  findTx(txidHex: string): ConfirmedTx | undefined {
    this.ensureIndexed();
    const location = this.txIndex.get(txidHex);
    if (location === undefined) return undefined;
    const block = this.active[location.height];
    if (block === undefined) throw new Error(`txid index points past the tip: ${txidHex}`);
    const raw = block.raw.subarray(location.start, location.end);
    return { block, position: location.position, raw };
  }

  /** The output `vout` of confirmed tx `txidHex` when it exists and is unspent in the chain. */
  unspentOutput(txidHex: string, vout: number): TxOutput | undefined {
    this.ensureIndexed();
    const location = this.txIndex.get(txidHex);
    if (location === undefined || location.outputs[vout] !== UNSPENT) return undefined;
    const found = this.findTx(txidHex);
    return found === undefined ? undefined : parseTx(found.raw, this.coin).outputs[vout];
  }

  /** True when a confirmed tx with this txid still has an unspent output (the node's -27 test). */
  hasUnspentOutputs(txidHex: string): boolean {
    this.ensureIndexed();
    return this.txIndex.get(txidHex)?.outputs.includes(UNSPENT) ?? false;
  }

  /** Brings the txid index and spent marks up to the tip. */
  ensureIndexed(): void {
    while (this.indexedHeight < this.height) {
      const block = this.active[this.indexedHeight + 1];
      if (block === undefined) throw new Error('index height beyond the tip (cannot happen)');
      this.indexBlock(block);
      this.indexedHeight = block.height;
    }
  }

  private bodyOrNull(block: ChainBlock): Block | null {
    try {
      return this.parsed(block);
    } catch {
      // A deliberately broken block (fault tests) has no txs the node could serve.
      return null;
    }
  }

  // Every output of the block is added before any input is spent: Radiant lets a tx spend a
  // later tx of the same block (DESIGN §3).
  private indexBlock(block: ChainBlock): void {
    const body = this.bodyOrNull(block);
    if (body === null) return;
    for (const [position, tx] of body.txs.entries()) {
      const start = tx.raw.byteOffset - block.raw.byteOffset;
      const outputs = Uint8Array.from(tx.outputs, (output) =>
        isUnspendable(output.script) ? UNSPENDABLE : UNSPENT
      );
      const end = start + tx.raw.length;
      const location = { height: block.height, position, start, end, outputs };
      this.txIndex.set(displayHex(tx.txid), location);
    }
    for (const tx of body.txs) this.markInputs(tx, UNSPENT, SPENT);
  }

  private unindexBlock(block: ChainBlock): void {
    const body = this.bodyOrNull(block);
    if (body === null) return;
    for (const tx of body.txs) this.markInputs(tx, SPENT, UNSPENT);
    for (const tx of body.txs) this.txIndex.delete(displayHex(tx.txid));
  }

  private markInputs(tx: Tx, from: number, to: number): void {
    if (tx.isCoinbase) return;
    for (const input of tx.inputs) {
      const outputs = this.txIndex.get(displayHex(input.prevTxid))?.outputs;
      if (outputs !== undefined && outputs[input.prevVout] === from) outputs[input.prevVout] = to;
    }
  }
}

function headerOf(raw: Uint8Array, coin: Coin, height: number): BlockHeader {
  if (raw.length < 80) {
    throw new Error(`block for height ${height} has ${raw.length} bytes, no header`);
  }
  return parseHeader(raw.subarray(0, 80), coin);
}

function declaredTxCount(raw: Buffer): number {
  try {
    return new ByteReader(raw, 80).readVarInt('tx count');
  } catch {
    return 0;
  }
}
