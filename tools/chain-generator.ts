// Synthetic chains: deterministic blocks of wallet-like transactions for tests and benchmarks.
import { compareBytes, concatBytes, u32LE } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { sha256d } from '../core/hashes.ts';
import { merkleRoot } from '../core/merkle.ts';
import { radiantV3Txid } from '../core/tx.ts';
import {
  bitsToTarget,
  hashToNumber,
  heightPush,
  REGTEST_BITS,
  serializeTx,
  type TxSpec,
} from './block-builder.ts';
import { SeededRandom, ZipfSampler } from './chain-generator-random.ts';
import {
  genesisBlock,
  opReturnScript,
  outputScript,
  spendData,
  type OutputKind,
} from './chain-generator-scripts.ts';
import { blockSubsidySats } from './sim-node-miner.ts';

/** What to generate; every field but coin, blocks and txsPerBlock has a default. */
export interface ChainGeneratorOptions {
  coin: Coin;
  /** Blocks after genesis. */
  blocks: number;
  /** Transactions per block besides the coinbase. */
  txsPerBlock: number;
  /** Same seed, same options: same chain, byte for byte. Default 1. */
  seed?: number;
  /** Distinct keys (addresses); default a quarter of all txs, at least 1000. */
  keys?: number;
  /** Zipf exponent of key reuse; default 1 (rank k used about 1/k as often as rank 1). */
  zipfExponent?: number;
  /** Share of inputs spending an output made earlier in the same block; default 0.2. */
  sameBlockSpendShare?: number;
}

/** One unspent output the generator may spend. */
interface Coinlet {
  txid: Uint8Array;
  vout: number;
  value: bigint;
  kind: OutputKind;
  /** 36-byte ref carried by a token output. */
  ref?: Uint8Array;
}

/** An output being built: its owner's key hash, before the tx has a txid. */
interface NewOutput {
  keyHash: Uint8Array;
  value: bigint;
  kind: OutputKind;
  ref?: Uint8Array;
}

interface BuiltTx {
  raw: Uint8Array;
  txid: Uint8Array;
  fee: bigint;
}

// Shape of a wallet payment: 1-3 inputs (mean 1.95) and 1-3 outputs (mean 2.1), so the UTXO set
// grows slowly as on a real chain. Below this many spendable outputs a tx fans out instead.
const INPUT_COUNT_WEIGHTS = [0, 0.25, 0.55, 0.2];
const OUTPUT_COUNT_WEIGHTS = [0, 0.05, 0.8, 0.15];
const FAN_OUT_BELOW = 64;
const FAN_OUT_OUTPUTS = 16;
const OP_RETURN_SHARE = 0.05;
const V3_SHARE = 0.1;
const MINT_SHARE = 0.03;
const FEE_SATS = 1_000n;
const BLOCK_SPACING_SEC = 600;
const BLOCK_VERSION = 0x20000000;
const MAX_NONCE_TRIES = 1 << 20;
const COINBASE_VOUT = 0xffffffff;
const FINAL = 0xffffffff;

function pickWeighted(weights: readonly number[], random: SeededRandom): number {
  let u = random.next();
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i] ?? 0;
    if (u < 0) return i;
  }
  return weights.length - 1;
}

function takeAt(list: Coinlet[], index: number): Coinlet {
  const picked = list[index];
  const last = list.pop();
  if (picked === undefined || last === undefined) throw new Error('empty pool (cannot happen)');
  if (picked !== last) list[index] = last;
  return picked;
}

/**
 * Generates a chain block by block. Blocks after genesis are mined at regtest difficulty, link
 * to their parent, carry valid merkle roots, and hold wallet-like txs: P2PKH and P2SH (plus
 * P2WPKH with witnesses on Bitcoin), OP_RETURN data outputs, and on Radiant NFT (0xd8) and FT
 * (0xd0) token outputs whose refs are minted from a spent outpoint and carried on when spent,
 * with 10% version-3 txs. Inputs spend random unspent outputs, some made earlier in the same
 * block; Bitcoin Cash and Radiant blocks are then put in canonical (txid) order, so a child may
 * precede its parent. Keys are reused with Zipf frequencies: a few script hashes get very long
 * histories, most get one or two entries. Signatures are filler (nothing checks them) and
 * coinbase maturity is not enforced.
 */
export class ChainGenerator {
  private readonly o: Required<ChainGeneratorOptions>;
  private readonly random: SeededRandom;
  private readonly zipf: ZipfSampler;
  private readonly keyHashes: Uint8Array;
  private readonly pool: Coinlet[] = [];
  private blockOutputs: Coinlet[] = [];
  private prevHash: Uint8Array = new Uint8Array(32);
  private prevTime = 0;
  private nextHeight = 0;

  constructor(options: ChainGeneratorOptions) {
    const totalTxs = options.blocks * options.txsPerBlock;
    this.o = {
      seed: 1,
      keys: Math.max(1000, Math.floor(totalTxs / 4)),
      zipfExponent: 1,
      sameBlockSpendShare: 0.2,
      ...options,
    };
    this.random = new SeededRandom(this.o.seed);
    this.zipf = new ZipfSampler(this.o.keys, this.o.zipfExponent);
    this.keyHashes = this.random.bytes(20 * this.o.keys);
  }

  /** The generator's height-th block, raw (genesis first). */
  nextBlock(): Uint8Array {
    const height = this.nextHeight;
    const block = height === 0 ? genesisBlock(this.o.coin) : this.buildBlock(height);
    this.prevHash = this.o.coin.headerHash(block.subarray(0, 80));
    this.prevTime = new DataView(block.buffer, block.byteOffset + 68, 4).getUint32(0, true);
    this.nextHeight += 1;
    return block;
  }

  /** Every block of the chain, genesis included (options.blocks + 1 of them). */
  *blocks(): Generator<Uint8Array> {
    while (this.nextHeight <= this.o.blocks) yield this.nextBlock();
  }

  private buildBlock(height: number): Uint8Array {
    this.blockOutputs = [];
    const txs: BuiltTx[] = [];
    for (let i = 0; i < this.o.txsPerBlock; i++) {
      const tx = this.buildPayment();
      if (tx !== null) txs.push(tx);
    }
    const fees = txs.reduce((sum, tx) => sum + tx.fee, 0n);
    const coinbase = this.buildCoinbase(height, blockSubsidySats(this.o.coin, height) + fees);
    if (this.o.coin.name !== 'Bitcoin') txs.sort((a, b) => compareBytes(a.txid, b.txid));
    for (const coin of this.blockOutputs) this.pool.push(coin);
    const all = [coinbase, ...txs];
    const header = this.mineHeader(merkleRoot(all.map((tx) => tx.txid)));
    return concatBytes(header, encodeCount(all.length), ...all.map((tx) => tx.raw));
  }

  private mineHeader(root: Uint8Array): Uint8Array {
    const time = this.prevTime + BLOCK_SPACING_SEC;
    const header = concatBytes(
      u32LE(BLOCK_VERSION),
      this.prevHash,
      root,
      u32LE(time),
      u32LE(REGTEST_BITS),
      u32LE(0)
    );
    const target = bitsToTarget(REGTEST_BITS);
    const view = new DataView(header.buffer, header.byteOffset, 80);
    for (let nonce = 0; nonce < MAX_NONCE_TRIES; nonce++) {
      view.setUint32(76, nonce, true);
      if (hashToNumber(this.o.coin.headerHash(header)) <= target) return header;
    }
    throw new Error('no nonce meets the regtest target (cannot happen)');
  }

  private key(): Uint8Array {
    const k = this.zipf.draw(this.random);
    return this.keyHashes.subarray(20 * k, 20 * k + 20);
  }

  // An address keeps one script type, as a wallet's address does: the kind follows the key.
  private kindOf(keyHash: Uint8Array): OutputKind {
    const bucket = (keyHash[0] ?? 0) % 20;
    if (bucket < 3) return 'p2sh';
    if (this.o.coin.segwit && bucket < 9) return 'p2wpkh';
    return 'p2pkh';
  }

  private buildCoinbase(height: number, value: bigint): BuiltTx {
    const keyHash = this.key();
    const kind = this.kindOf(keyHash);
    // BIP34 height, then extra nonce bytes as miners add them.
    const script = concatBytes(heightPush(height), Uint8Array.of(8), this.random.bytes(8));
    const spec: TxSpec = {
      version: 1,
      inputs: [{ prevTxid: new Uint8Array(32), prevVout: COINBASE_VOUT, script, sequence: FINAL }],
      outputs: [{ value, script: outputScript(kind, keyHash) }],
      locktime: 0,
    };
    const raw = serializeTx(spec);
    const txid = sha256d(raw);
    this.blockOutputs.push({ txid, vout: 0, value, kind });
    return { raw, txid, fee: 0n };
  }

  private spendable(): number {
    return this.pool.length + this.blockOutputs.length;
  }

  private takeInput(): Coinlet {
    const fromBlock =
      this.blockOutputs.length > 0 &&
      (this.pool.length === 0 || this.random.chance(this.o.sameBlockSpendShare));
    const list = fromBlock ? this.blockOutputs : this.pool;
    return takeAt(list, this.random.below(list.length));
  }

  // One payment; null when nothing is spendable yet (the first block before its coinbase).
  private buildPayment(): BuiltTx | null {
    if (this.spendable() === 0) return null;
    const fanOut = this.spendable() < FAN_OUT_BELOW;
    const wanted = fanOut ? 1 : pickWeighted(INPUT_COUNT_WEIGHTS, this.random);
    const inputCount = Math.min(wanted, this.spendable());
    const spent: Coinlet[] = [];
    for (let i = 0; i < inputCount; i++) spent.push(this.takeInput());
    const outputCount = fanOut ? FAN_OUT_OUTPUTS : pickWeighted(OUTPUT_COUNT_WEIGHTS, this.random);
    return this.assemble(spent, outputCount);
  }

  private assemble(spent: Coinlet[], outputCount: number): BuiltTx {
    const inputs = spent.map((coin) => ({
      prevTxid: coin.txid,
      prevVout: coin.vout,
      sequence: 0xfffffffe,
      ...spendData(coin.kind, this.random),
    }));
    const outputs: NewOutput[] = [];
    // Tokens move on to a new owner; a mint takes its ref from the first outpoint spent.
    for (const coin of spent) {
      if (coin.ref !== undefined) outputs.push(this.newOutput(coin.value, coin.kind, coin.ref));
    }
    const first = spent[0];
    if (this.o.coin.radiant && first !== undefined && this.random.chance(2 * MINT_SHARE)) {
      const ref = concatBytes(first.txid, u32LE(first.vout));
      outputs.push(this.newOutput(1n, this.random.chance(0.5) ? 'nft' : 'ft', ref));
    }
    let available = spent.reduce((sum, coin) => sum + coin.value, 0n);
    for (const token of outputs) available -= token.value;
    const fee = available > FEE_SATS * 2n ? FEE_SATS : 0n;
    this.splitValue(available - fee, outputCount, outputs);
    const specOutputs = outputs.map((out) => ({
      value: out.value,
      script: outputScript(out.kind, out.keyHash, out.ref),
    }));
    if (this.random.chance(OP_RETURN_SHARE)) {
      const script = opReturnScript(this.random.bytes(20), this.random.chance(0.2));
      specOutputs.push({ value: 0n, script });
    }
    const version = this.o.coin.radiant && this.random.chance(V3_SHARE) ? 3 : 2;
    const spec: TxSpec = { version, inputs, outputs: specOutputs, locktime: 0 };
    const raw = serializeTx(spec);
    const txid = this.txidOf(spec, raw);
    outputs.forEach(({ value, kind, ref }, vout) => {
      const coin: Coinlet = { txid, vout, value, kind };
      if (ref !== undefined) coin.ref = ref;
      this.blockOutputs.push(coin);
    });
    return { raw, txid, fee };
  }

  private newOutput(value: bigint, kind?: OutputKind, ref?: Uint8Array): NewOutput {
    const keyHash = this.key();
    const out: NewOutput = { keyHash, value, kind: kind ?? this.kindOf(keyHash) };
    if (ref !== undefined) out.ref = ref;
    return out;
  }

  private splitValue(total: bigint, count: number, outputs: NewOutput[]): void {
    let left = total < 0n ? 0n : total;
    for (let i = 0; i < count; i++) {
      const share = i === count - 1 ? left : (left * BigInt(1 + this.random.below(99))) / 100n;
      left -= share;
      outputs.push(this.newOutput(share));
    }
  }

  private txidOf(spec: TxSpec, raw: Uint8Array): Uint8Array {
    if (spec.version === 3 && this.o.coin.radiant) return radiantV3Txid(spec);
    if (!spec.inputs.some((input) => input.witness !== undefined)) return sha256d(raw);
    const inputs = spec.inputs.map((input) => ({
      prevTxid: input.prevTxid,
      prevVout: input.prevVout,
      script: input.script,
      sequence: input.sequence,
    }));
    const stripped = serializeTx({ ...spec, inputs });
    return sha256d(stripped);
  }
}

function encodeCount(count: number): Uint8Array {
  if (count < 0xfd) return Uint8Array.of(count);
  if (count <= 0xffff) return Uint8Array.of(0xfd, count & 0xff, count >>> 8);
  return concatBytes(Uint8Array.of(0xfe), u32LE(count));
}
