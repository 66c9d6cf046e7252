// The simulated full node: an HTTP JSON-RPC server standing in for radiantd / bitcoind, serving a
// chain held in memory, with a mempool, mining, reorgs and fault injection for tests.
import type { Coin } from '../core/coins.ts';
import type { Tx } from '../core/tx.ts';
import { SimChain, type ChainBlock } from './sim-node-chain.ts';
import { CONTROL_METHODS, type SimControl } from './sim-node-control.ts';
import { NodeRpcError, RPC_IN_WARMUP } from './sim-node-errors.ts';
import { startHttpFront, type FaultMode, type HttpFront } from './sim-node-http.ts';
import { SimMempool } from './sim-node-mempool.ts';
import { buildPayment, DEFAULT_PAY_SATS } from './sim-node-pay.ts';
import {
  defaultNodeFees,
  NODE_METHODS,
  relayFeeSatsPerKb,
  type EstimateMode,
  type SimNodeFees,
} from './sim-node-methods.ts';
import {
  buildNextBlock,
  DEFAULT_PAYOUT_SCRIPT,
  MAX_MINE_COUNT,
  type MineOptions,
} from './sim-node-miner.ts';
import { answerBody, type HttpReply, type MethodSpec } from './sim-node-rpc.ts';

export type { FaultMode } from './sim-node-http.ts';
export type { MineOptions } from './sim-node-miner.ts';
export type { EstimateMode, SimNodeFees } from './sim-node-methods.ts';

/** How to start a simulated node. */
export interface SimNodeOptions {
  coin: Coin;
  /** Raw block hex, index = height; at least the genesis block. */
  blocks: string[];
  user: string;
  password: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: pick a free port. */
  port?: number;
  /** Fixed clock (seconds since the epoch) for mempool times and mined block times. */
  mocktime?: number;
  /** How long the 'slow' fault holds each reply (default 2000 ms). */
  slowDelayMs?: number;
  /** Node methods to leave out, e.g. ['estimatesmartfee'] to act like radiant-node. */
  disabledMethods?: string[];
}

/** A running simulated node. Hashes and txids are display hex. */
export interface SimNode {
  /** http://user:password@host:port */
  readonly url: string;
  readonly port: number;
  tipHeight(): number;
  tipHash(): string;
  blockHash(height: number): string;
  blockHex(height: number): string;
  /** Appends blocks; each must link to the one before (the first to the tip). All or none. */
  addBlocks(hexBlocks: string[]): void;
  /**
   * Drops the blocks above forkHeight, then appends hexBlocks. The dropped blocks' non-coinbase
   * txs go back to the mempool unless they conflict with the new chain or are in it.
   */
  reorg(forkHeight: number, hexBlocks: string[]): void;
  /** reorg() onto `count` freshly mined blocks; returns their hashes. */
  reorgMine(forkHeight: number, count: number, options?: MineOptions): string[];
  /** Accepts a tx as sendrawtransaction does; returns its txid. @throws NodeRpcError */
  addMempoolTx(hex: string): string;
  /**
   * Pays `value` sats (default 0.01 coin) to `script` from an unspent coinbase output of the
   * chain, into the mempool (tools/sim-node-pay.ts); returns the txid. @throws NodeRpcError
   */
  pay(script: Uint8Array, value?: bigint): string;
  /** Removes a mempool tx and its mempool descendants. @throws Error when it is not there. */
  removeMempoolTx(txidHex: string): void;
  /** Empties the mempool, as a node restarted without its mempool file. */
  clearMempool(): void;
  /** Builds and appends blocks (block-builder); returns their hashes. */
  mine(options?: MineOptions): string[];
  setFault(mode: FaultMode): void;
  /**
   * What estimatefee / estimatesmartfee report, sats per kB; null = no estimate. With `mode`,
   * only estimatesmartfee with that estimate_mode; a mode never set follows the no-mode rate.
   */
  setFeeRate(satsPerKb: bigint | null, mode?: EstimateMode): void;
  /** Sets the relay fee, incremental fee or mempool floor getnetworkinfo/getmempoolinfo report. */
  setNodeFees(fees: Partial<SimNodeFees>): void;
  close(): Promise<void>;
}

const DEFAULT_SLOW_DELAY_MS = 2000;

function bufferFromHex(hex: string, what: string): Buffer {
  if (typeof hex !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(hex)) {
    throw new Error(`${what} is not even-length hex: "${String(hex).slice(0, 40)}"`);
  }
  return Buffer.from(hex, 'hex');
}

class SimNodeImpl implements SimNode, SimControl {
  readonly coin: Coin;
  readonly chain: SimChain;
  readonly mempool: SimMempool;
  private fault: FaultMode = 'none';
  private feeRate: bigint | null;
  private readonly modeFeeRates = new Map<EstimateMode, bigint | null>();
  private fees: SimNodeFees;
  private minedCount = 0;
  private front: HttpFront | null = null;
  private readonly mocktime: number | undefined;
  url = '';
  port = 0;

  constructor(options: SimNodeOptions) {
    this.coin = options.coin;
    this.chain = new SimChain(options.coin);
    this.mempool = new SimMempool(this.chain);
    this.mocktime = options.mocktime;
    this.feeRate = relayFeeSatsPerKb(options.coin);
    this.fees = defaultNodeFees(options.coin);
    if (options.blocks.length === 0) {
      throw new Error('a simulated node needs at least a genesis block');
    }
    this.chain.appendAll(options.blocks.map((hex, i) => bufferFromHex(hex, `block ${i}`)));
  }

  attach(front: HttpFront, url: string): void {
    this.front = front;
    this.port = front.port;
    this.url = url;
  }

  nowSec(): number {
    return this.mocktime ?? Math.floor(Date.now() / 1000);
  }

  tipHeight(): number {
    return this.chain.height;
  }

  tipHash(): string {
    return this.chain.tip().hashHex;
  }

  private activeBlock(height: number): ChainBlock {
    const block = this.chain.blockAt(height);
    if (block === undefined) {
      throw new RangeError(`height ${height} outside 0..${this.chain.height}`);
    }
    return block;
  }

  blockHash(height: number): string {
    return this.activeBlock(height).hashHex;
  }

  blockHex(height: number): string {
    return this.activeBlock(height).raw.toString('hex');
  }

  addBlocks(hexBlocks: string[]): void {
    this.chain.appendAll(hexBlocks.map((hex, i) => bufferFromHex(hex, `block ${i}`)));
    if (this.mempool.size > 0) this.mempool.revalidate([], this.nowSec());
  }

  reorg(forkHeight: number, hexBlocks: string[]): void {
    this.checkForkHeight(forkHeight);
    const raws = hexBlocks.map((hex, i) => bufferFromHex(hex, `block ${i}`));
    this.chain.checkLinks(raws, forkHeight);
    const returning = this.returningTxs(forkHeight);
    this.chain.disconnectAbove(forkHeight);
    this.chain.appendAll(raws);
    this.mempool.revalidate(returning, this.nowSec());
  }

  private checkForkHeight(forkHeight: number): void {
    if (!Number.isInteger(forkHeight) || forkHeight < 0 || forkHeight > this.chain.height) {
      throw new RangeError(`fork height ${forkHeight} outside 0..${this.chain.height}`);
    }
  }

  /** Non-coinbase txs of the blocks above forkHeight, in block order (broken blocks skipped). */
  private returningTxs(forkHeight: number): Tx[] {
    const txs: Tx[] = [];
    for (let height = forkHeight + 1; height <= this.chain.height; height++) {
      try {
        txs.push(...this.chain.parsed(this.activeBlock(height)).txs.filter((tx) => !tx.isCoinbase));
      } catch {
        // A deliberately broken block has no txs to return.
      }
    }
    return txs;
  }

  reorgMine(forkHeight: number, count: number, options: MineOptions = {}): string[] {
    this.checkForkHeight(forkHeight);
    const returning = this.returningTxs(forkHeight);
    this.chain.disconnectAbove(forkHeight);
    // The dropped txs wait outside while the new branch is mined, as in a real reorg where the
    // other miner never saw them.
    const hashes = this.mineBlocks({ ...options, count, includeMempool: false });
    this.mempool.revalidate(returning, this.nowSec());
    return hashes;
  }

  mine(options: MineOptions = {}): string[] {
    const hashes = this.mineBlocks(options);
    this.mempool.revalidate([], this.nowSec());
    return hashes;
  }

  /**
   * Appends `count` mined blocks, the mempool in the first one. The caller revalidates the
   * mempool once afterwards: doing it per block would drop children whose parents are still
   * waiting to come back from a reorg.
   */
  private mineBlocks(options: MineOptions): string[] {
    const count = options.count ?? 1;
    if (!Number.isInteger(count) || count < 0 || count > MAX_MINE_COUNT) {
      throw new RangeError(`mine count ${count} outside 0..${MAX_MINE_COUNT}`);
    }
    const hashes: string[] = [];
    for (let i = 0; i < count; i++) {
      const includeMempool = i === 0 && options.includeMempool !== false;
      this.minedCount += 1;
      const blockOptions = { ...options, includeMempool };
      const nowSec = this.nowSec();
      const hex = buildNextBlock(this.chain, this.mempool, blockOptions, nowSec, this.minedCount);
      this.chain.appendAll([Buffer.from(hex, 'hex')]);
      hashes.push(this.tipHash());
    }
    return hashes;
  }

  addMempoolTx(hex: string): string {
    return this.mempool.acceptHex(hex, this.nowSec());
  }

  pay(script: Uint8Array, value = DEFAULT_PAY_SATS): string {
    const options = { script, value, changeScript: DEFAULT_PAYOUT_SCRIPT };
    const raw = buildPayment(this.chain, this.mempool, options);
    return this.addMempoolTx(Buffer.from(raw).toString('hex'));
  }

  clearMempool(): void {
    // remove() takes descendants along and returns nothing for a txid already gone.
    for (const { txidHex } of this.mempool.list()) this.mempool.remove(txidHex);
  }

  removeMempoolTx(txidHex: string): void {
    if (this.mempool.remove(txidHex).length === 0) {
      throw new Error(`transaction ${String(txidHex).slice(0, 64)} is not in the mempool`);
    }
  }

  setFault(mode: FaultMode): void {
    this.fault = mode;
    if (mode === 'down') this.front?.dropConnections();
  }

  currentFault(): FaultMode {
    return this.fault;
  }

  setFeeRate(satsPerKb: bigint | null, mode?: EstimateMode): void {
    if (mode === undefined) this.feeRate = satsPerKb;
    else this.modeFeeRates.set(mode, satsPerKb);
  }

  feeRateSatsPerKb(mode: EstimateMode | null): bigint | null {
    if (mode !== null && this.modeFeeRates.has(mode)) return this.modeFeeRates.get(mode) ?? null;
    return this.feeRate;
  }

  setNodeFees(fees: Partial<SimNodeFees>): void {
    this.fees = { ...this.fees, ...fees };
  }

  nodeFees(): SimNodeFees {
    return this.fees;
  }

  async close(): Promise<void> {
    await this.front?.close();
    this.front = null;
  }
}

type AnyMethod = MethodSpec<SimNodeImpl>;

/** Node methods (minus the disabled ones) and control methods in one table. */
function methodTable(disabled: string[]): Map<string, AnyMethod> {
  const table = new Map<string, AnyMethod>();
  for (const [name, spec] of NODE_METHODS) {
    if (!disabled.includes(name)) table.set(name, spec);
  }
  for (const [name, spec] of CONTROL_METHODS) table.set(name, spec);
  return table;
}

// rpc/server.cpp: while the node warms up, every call fails with -28 before the method lookup.
function warmupGate(method: string): void {
  if (!method.startsWith('sim_')) throw new NodeRpcError(RPC_IN_WARMUP, 'Loading block index...');
}

/**
 * Starts a simulated node serving `blocks` on host:port (default 127.0.0.1, a free port).
 * @throws Error when the blocks do not link or the port cannot be bound.
 */
export async function startSimNode(options: SimNodeOptions): Promise<SimNode> {
  if (options.user === '' || options.password === '') {
    throw new Error('the simulated node needs a user and a password, as a node does');
  }
  const node = new SimNodeImpl(options);
  const methods = methodTable(options.disabledMethods ?? []);
  const host = options.host ?? '127.0.0.1';
  const front = await startHttpFront({
    host,
    port: options.port ?? 0,
    user: options.user,
    password: options.password,
    slowDelayMs: options.slowDelayMs ?? DEFAULT_SLOW_DELAY_MS,
    fault: () => node.currentFault(),
    answer: (body: string, warmup: boolean): HttpReply =>
      answerBody(body, methods, node, warmup ? warmupGate : undefined),
  });
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const credentials = `${encodeURIComponent(options.user)}:${encodeURIComponent(options.password)}`;
  node.attach(front, `http://${credentials}@${hostInUrl}:${front.port}`);
  return node;
}
