// An independent ledger for status checks, written for tests only: its own parser for legacy
// blocks and txs, its own script hash (with Radiant's ref zeroing, DESIGN §3), and every script
// hash's status over confirmed then mempool entries, all with node:crypto and nothing from core/
// (the byte cursor is the test reference reader's).
import { createHash } from 'node:crypto';
import { Cursor } from './reference-chain.ts';

interface LedgerTx {
  txid: string;
  inputs: { txid: string; vout: number }[];
  outputs: Buffer[];
  values: bigint[];
}

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();
const displayHex = (hash: Uint8Array): string => Buffer.from(hash).reverse().toString('hex');

function readTx(reader: Cursor, bytes: Buffer): LedgerTx {
  const start = reader.offset;
  reader.take(4);
  const inputs: LedgerTx['inputs'] = [];
  for (let n = reader.varint(); n > 0; n--) {
    const txid = displayHex(reader.take(32));
    const vout = reader.take(4).readUInt32LE(0);
    reader.take(reader.varint());
    reader.take(4);
    inputs.push({ txid, vout });
  }
  const outputs: Buffer[] = [];
  const values: bigint[] = [];
  for (let n = reader.varint(); n > 0; n--) {
    values.push(reader.take(8).readBigInt64LE(0));
    outputs.push(Buffer.from(reader.take(reader.varint())));
  }
  reader.take(4);
  const txid = displayHex(sha256(sha256(bytes.subarray(start, reader.offset))));
  return { txid, inputs, outputs, values };
}

const REF_OPCODES = new Set([0xd0, 0xd1, 0xd2, 0xd3, 0xd8]);

/**
 * Script hash as wallets send it. Radiant: the 36-byte operands of ref opcodes are zeroed first
 * when the script holds a checksig opcode (0xac-0xaf) outside any push (DESIGN §3).
 */
export function scriptHashHex(script: Buffer, radiant: boolean): string {
  if (!radiant) return displayHex(sha256(script));
  const operands: number[] = [];
  let checksig = false;
  for (let i = 0; i < script.length; ) {
    const op = script[i] ?? 0;
    let skip = 0;
    if (op >= 0x01 && op <= 0x4b) skip = op;
    else if (op === 0x4c) skip = 1 + (script[i + 1] ?? 0);
    else if (op === 0x4d) skip = 2 + ((script[i + 1] ?? 0) | ((script[i + 2] ?? 0) << 8));
    else if (op === 0x4e) skip = 4 + (script.length > i + 4 ? script.readUInt32LE(i + 1) : 0);
    else if (REF_OPCODES.has(op)) {
      operands.push(i + 1);
      skip = 36;
    } else if (op >= 0xac && op <= 0xaf) checksig = true;
    i += 1 + skip;
  }
  if (!checksig || operands.length === 0) return displayHex(sha256(script));
  const copy = Buffer.from(script);
  for (const at of operands) copy.fill(0, at, Math.min(at + 36, copy.length));
  return displayHex(sha256(copy));
}

function isUnspendable(script: Buffer): boolean {
  return script[0] === 0x6a || (script[0] === 0x00 && script[1] === 0x6a);
}

/** Entries per script hash, in status order. */
export type Histories = Map<string, { txHash: string; height: number }[]>;

/**
 * Every script hash's history: confirmed txs in (height, position) order (genesis coinbase left
 * out), then the mempool txs (height -1 when an input spends another of them, else 0) ordered
 * height 0 before -1, then by display txid (DESIGN §5).
 */
export function ledgerHistories(
  blockHexes: string[],
  mempoolHexes: string[],
  radiant: boolean
): Histories {
  const outputs = new Map<string, string>();
  const histories: Histories = new Map();
  const touch = (hash: string, txHash: string, height: number): void => {
    const list = histories.get(hash) ?? [];
    if (!list.some((entry) => entry.txHash === txHash)) list.push({ txHash, height });
    histories.set(hash, list);
  };
  const addOutputs = (tx: LedgerTx): void => {
    tx.outputs.forEach((script, vout) => {
      if (isUnspendable(script)) return;
      outputs.set(`${tx.txid}:${vout}`, scriptHashHex(script, radiant));
    });
  };
  const touches = (tx: LedgerTx, isCoinbase: boolean): string[] => {
    const spendable = tx.outputs.filter((script) => !isUnspendable(script));
    const hashes = spendable.map((script) => scriptHashHex(script, radiant));
    if (isCoinbase) return hashes;
    for (const input of tx.inputs) {
      const spent = outputs.get(`${input.txid}:${input.vout}`);
      if (spent === undefined) throw new Error(`ledger: ${input.txid}:${input.vout} unknown`);
      hashes.push(spent);
    }
    return hashes;
  };
  blockHexes.forEach((hex, height) => {
    if (height === 0) return;
    const bytes = Buffer.from(hex, 'hex');
    const reader = new Cursor(bytes);
    reader.take(80);
    const txs: LedgerTx[] = [];
    for (let n = reader.varint(); n > 0; n--) txs.push(readTx(reader, bytes));
    // Outputs of the whole block first: a tx may spend a later one of the same block.
    txs.forEach(addOutputs);
    txs.forEach((tx, position) => {
      for (const hash of touches(tx, position === 0)) touch(hash, tx.txid, height);
    });
  });
  const pool = mempoolHexes.map((hex) => {
    const bytes = Buffer.from(hex, 'hex');
    return readTx(new Cursor(bytes), bytes);
  });
  const inPool = new Set(pool.map((tx) => tx.txid));
  pool.forEach(addOutputs);
  const unconfirmed: Histories = new Map();
  for (const tx of pool) {
    const height = tx.inputs.some((input) => inPool.has(input.txid)) ? -1 : 0;
    for (const hash of touches(tx, false)) {
      const list = unconfirmed.get(hash) ?? [];
      if (!list.some((entry) => entry.txHash === tx.txid)) list.push({ txHash: tx.txid, height });
      unconfirmed.set(hash, list);
    }
  }
  for (const [hash, list] of unconfirmed) {
    list.sort((a, b) => b.height - a.height || (a.txHash < b.txHash ? -1 : 1));
    histories.set(hash, [...(histories.get(hash) ?? []), ...list]);
  }
  return histories;
}

/** The protocol's status of a history: SHA-256 of "txid:height:" for each entry, hex. */
export function ledgerStatus(history: { txHash: string; height: number }[]): string | null {
  if (history.length === 0) return null;
  const text = history.map((entry) => `${entry.txHash}:${entry.height}:`).join('');
  return sha256(Buffer.from(text, 'ascii')).toString('hex');
}

/** Every script hash's status (display hex script hash -> status hex). */
export function ledgerStatuses(
  blockHexes: string[],
  mempoolHexes: string[],
  radiant: boolean
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [hash, history] of ledgerHistories(blockHexes, mempoolHexes, radiant)) {
    const status = ledgerStatus(history);
    if (status !== null) out.set(hash, status);
  }
  return out;
}

/** The coinbase of a block (display txid, value of output 0), read with this file's parser. */
export function coinbaseOf(blockHex: string): { txid: string; value: bigint } {
  const bytes = Buffer.from(blockHex, 'hex');
  const reader = new Cursor(bytes);
  reader.take(80);
  reader.varint();
  const tx = readTx(reader, bytes);
  return { txid: tx.txid, value: tx.values[0] ?? 0n };
}
