// Mempool of the simulated node: acceptance with the node's reject codes, conflicts, removal.
import type { Coin } from '../core/coins.ts';
import { isUnspendable } from '../core/script.ts';
import { parseTx, type Tx, type TxOutput } from '../core/tx.ts';
import { displayHex, type SimChain } from './sim-node-chain.ts';
import {
  NodeRpcError,
  RPC_DESERIALIZATION_ERROR,
  RPC_VERIFY_ALREADY_IN_CHAIN,
  RPC_VERIFY_ERROR,
  RPC_VERIFY_REJECTED,
} from './sim-node-errors.ts';

/** An unconfirmed transaction and what the node records about it. */
export interface MempoolEntry {
  readonly tx: Tx;
  readonly txidHex: string;
  readonly feeSats: bigint;
  readonly sizeBytes: number;
  /** When it entered the mempool, seconds since the epoch. */
  readonly timeSec: number;
  /** Tip height when it entered. */
  readonly height: number;
}

// Reject codes inside the message (radiant-node consensus/validation.h).
const REJECT_INVALID = 0x10;
const REJECT_DUPLICATE = 0x12;

/**
 * Which node's wording the reject messages follow. radiant-node (and Bitcoin Cash Node, its
 * parent) append "(code N)" and say "Missing inputs"; Bitcoin Core prints the bare reason.
 */
type Dialect = 'radiant' | 'core';

/** How the simulated node words the sendrawtransaction failures that differ between nodes. */
export interface RejectTexts {
  decodeFailed: string;
  alreadyInChain: string;
  missingInputs: string;
}

/** The texts of radiant-node src/node/transaction.cpp and Bitcoin Core's TransactionErrorString. */
export function rejectTexts(coin: Coin): RejectTexts {
  if (dialectOf(coin) === 'core') {
    return {
      decodeFailed: 'TX decode failed. Make sure the tx has at least one input.',
      alreadyInChain: 'Transaction already in block chain',
      missingInputs: 'bad-txns-inputs-missingorspent',
    };
  }
  return {
    decodeFailed: 'TX decode failed',
    alreadyInChain: 'transaction already in block chain',
    missingInputs: 'Missing inputs',
  };
}

function dialectOf(coin: Coin): Dialect {
  return coin.name === 'Bitcoin' ? 'core' : 'radiant';
}

function outpointKey(txidHex: string, vout: number): string {
  return `${txidHex}:${vout}`;
}

/**
 * Unconfirmed transactions in arrival order (parents always before children). No script or
 * signature is verified and no fee policy applies: the simulator exists to feed indexers.
 * TODO(someday): coinbase maturity and standardness are not checked; such txs are accepted.
 */
export class SimMempool {
  private readonly chain: SimChain;
  private readonly coin: Coin;
  private readonly entries = new Map<string, MempoolEntry>();
  /** Outpoint "txid:vout" -> txid of the mempool tx spending it. */
  private readonly spentBy = new Map<string, string>();

  constructor(chain: SimChain) {
    this.chain = chain;
    this.coin = chain.coin;
  }

  /** True when a mempool tx spends output `vout` of `txidHex`. */
  spends(txidHex: string, vout: number): boolean {
    return this.spentBy.has(outpointKey(txidHex, vout));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Entries in arrival order. */
  list(): MempoolEntry[] {
    return [...this.entries.values()];
  }

  get(txidHex: string): MempoolEntry | undefined {
    return this.entries.get(txidHex.toLowerCase());
  }

  /** Sum of the entries' serialized sizes. */
  totalBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.sizeBytes;
    return total;
  }

  /** Mempool parents of an entry (the node's "depends"), sorted. */
  parentsOf(entry: MempoolEntry): string[] {
    const parents = new Set<string>();
    for (const input of entry.tx.inputs) {
      const prev = displayHex(input.prevTxid);
      if (this.entries.has(prev)) parents.add(prev);
    }
    return [...parents].sort();
  }

  /** Mempool children of an entry (the node's "spentby"), sorted. */
  childrenOf(entry: MempoolEntry): string[] {
    const children = new Set<string>();
    for (let vout = 0; vout < entry.tx.outputs.length; vout++) {
      const child = this.spentBy.get(outpointKey(entry.txidHex, vout));
      if (child !== undefined) children.add(child);
    }
    return [...children].sort();
  }

  /**
   * Decodes hex and accepts the transaction (sendrawtransaction).
   * @throws NodeRpcError -22 when the hex is not exactly one transaction, else as accept.
   */
  acceptHex(hex: string, timeSec: number): string {
    let tx: Tx;
    try {
      if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new Error('not hex');
      tx = parseTx(Buffer.from(hex, 'hex'), this.coin);
    } catch {
      throw new NodeRpcError(RPC_DESERIALIZATION_ERROR, rejectTexts(this.coin).decodeFailed);
    }
    return this.accept(tx, timeSec);
  }

  /**
   * Adds a transaction as the node's sendrawtransaction does; returns its display txid, also when
   * it is already in the mempool.
   * @throws NodeRpcError -27 (outputs in the chain), -26 (invalid or conflicting), -25 (inputs
   *   missing or spent).
   */
  accept(tx: Tx, timeSec: number): string {
    const txidHex = displayHex(tx.txid);
    if (this.chain.hasUnspentOutputs(txidHex)) {
      throw new NodeRpcError(RPC_VERIFY_ALREADY_IN_CHAIN, rejectTexts(this.coin).alreadyInChain);
    }
    if (this.entries.has(txidHex)) return txidHex;
    this.checkStructure(tx);
    for (const input of tx.inputs) {
      if (this.spentBy.has(outpointKey(displayHex(input.prevTxid), input.prevVout))) {
        throw this.reject('txn-mempool-conflict', REJECT_DUPLICATE);
      }
    }
    const feeSats = this.feeOf(tx);
    for (const input of tx.inputs) {
      this.spentBy.set(outpointKey(displayHex(input.prevTxid), input.prevVout), txidHex);
    }
    const sizeBytes = tx.raw.length;
    const height = this.chain.height;
    this.entries.set(txidHex, { tx, txidHex, feeSats, sizeBytes, timeSec, height });
    return txidHex;
  }

  // The context-free checks of radiant-node consensus/tx_check.cpp that a decoded tx can fail.
  private checkStructure(tx: Tx): void {
    if (tx.isCoinbase) throw this.reject('bad-tx-coinbase', REJECT_INVALID);
    if (tx.inputs.length === 0) throw this.reject('bad-txns-vin-empty', REJECT_INVALID);
    if (tx.outputs.length === 0) throw this.reject('bad-txns-vout-empty', REJECT_INVALID);
    if (tx.outputs.some((output) => output.value < 0n)) {
      throw this.reject('bad-txns-vout-negative', REJECT_INVALID);
    }
    const seen = new Set<string>();
    for (const input of tx.inputs) {
      const key = outpointKey(displayHex(input.prevTxid), input.prevVout);
      if (seen.has(key)) throw this.reject('bad-txns-inputs-duplicate', REJECT_INVALID);
      seen.add(key);
    }
  }

  private feeOf(tx: Tx): bigint {
    let valueInSats = 0n;
    for (const input of tx.inputs) {
      const spent = this.spendableOutput(displayHex(input.prevTxid), input.prevVout);
      if (spent === undefined) {
        throw new NodeRpcError(RPC_VERIFY_ERROR, rejectTexts(this.coin).missingInputs);
      }
      valueInSats += spent.value;
    }
    const valueOutSats = tx.outputs.reduce((sum, output) => sum + output.value, 0n);
    if (valueInSats < valueOutSats) {
      const inText = formatMoney(valueInSats);
      const debug = `value in (${inText}) < value out (${formatMoney(valueOutSats)})`;
      throw this.reject('bad-txns-in-belowout', REJECT_INVALID, debug);
    }
    return valueInSats - valueOutSats;
  }

  private spendableOutput(txidHex: string, vout: number): TxOutput | undefined {
    const parent = this.entries.get(txidHex);
    if (parent === undefined) return this.chain.unspentOutput(txidHex, vout);
    const output = parent.tx.outputs[vout];
    return output === undefined || isUnspendable(output.script) ? undefined : output;
  }

  // radiant-node FormatStateMessage: "reason[, debug] (code N)"; Bitcoin Core: "reason[, debug]".
  private reject(reason: string, code: number, debug?: string): NodeRpcError {
    const text = debug === undefined ? reason : `${reason}, ${debug}`;
    const message = dialectOf(this.coin) === 'core' ? text : `${text} (code ${code})`;
    return new NodeRpcError(RPC_VERIFY_REJECTED, message);
  }

  /**
   * Removes a transaction and every mempool descendant of it (the node's removeRecursive).
   * Returns the removed txids; empty when it was not in the mempool.
   */
  remove(txidHex: string): string[] {
    const entry = this.entries.get(txidHex.toLowerCase());
    if (entry === undefined) return [];
    const removed = [entry.txidHex];
    for (const child of this.childrenOf(entry)) removed.push(...this.remove(child));
    for (const input of entry.tx.inputs) {
      this.spentBy.delete(outpointKey(displayHex(input.prevTxid), input.prevVout));
    }
    this.entries.delete(entry.txidHex);
    return removed;
  }

  /**
   * Re-validates the mempool after the chain changed: `returning` (txs of disconnected blocks, in
   * block order) first, then the current entries in arrival order, each kept only if it is still
   * acceptable. So txs now confirmed, conflicting with the chain, or whose parents vanished leave.
   */
  revalidate(returning: Tx[], nowSec: number): void {
    const candidates = [
      ...returning.map((tx) => ({ tx, timeSec: nowSec })),
      ...this.list().map((entry) => ({ tx: entry.tx, timeSec: entry.timeSec })),
    ];
    this.entries.clear();
    this.spentBy.clear();
    // Canonical order can put a child before its parent in a block: a tx refused for a missing
    // input is tried again once a pass has accepted others, until a pass accepts none.
    let pending = candidates;
    while (pending.length > 0) {
      const refused: typeof candidates = [];
      for (const candidate of pending) {
        try {
          this.accept(candidate.tx, candidate.timeSec);
        } catch (error) {
          if (!(error instanceof NodeRpcError)) throw error;
          refused.push(candidate);
        }
      }
      if (refused.length === pending.length) break;
      pending = refused;
    }
  }
}

/** The node's FormatMoney: coins with up to 8 decimals, trailing zeros trimmed to keep two. */
function formatMoney(sats: bigint): string {
  const negative = sats < 0n;
  const digits = (negative ? -sats : sats).toString().padStart(9, '0');
  const fraction = digits.slice(-8).replace(/0{1,6}$/, '');
  return `${negative ? '-' : ''}${digits.slice(0, -8)}.${fraction}`;
}
