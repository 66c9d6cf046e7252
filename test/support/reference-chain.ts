// An independent reading of a chain file, written for tests only: it shares no code with core/
// and uses node:crypto, so the answers it gives can check the server's. Legacy txs, and with
// `rules` (reference-rules.ts) segwit txs and Radiant v3 txids, zero-ref script hashes and refs.
import { createHash } from 'node:crypto';
import {
  referencePushRefs,
  referenceScriptHash,
  referenceTxid,
  type ReferenceRules,
  type ReferenceTxFields,
} from './reference-rules.ts';

export type HeaderHashName = 'sha256d' | 'sha512_256d';

export interface ReferenceOutput {
  txid: string; // display hex
  vout: number;
  value: bigint;
  script: Buffer;
  scriptHash: string; // display hex, as wallets send it
  height: number;
}

export interface ReferenceTx {
  txid: string;
  height: number;
  position: number;
  raw: Buffer;
}

export interface ReferenceChain {
  headers: Buffer[];
  blockHashes: string[];
  /** txids per height, in block order. */
  blockTxids: string[][];
  txs: Map<string, ReferenceTx>;
  /** Confirmed history per script hash, in (height, position) order. */
  history: Map<string, { txHash: string; height: number }[]>;
  /** Unspent outputs per script hash. */
  unspent: Map<string, ReferenceOutput[]>;
  /**
   * Radiant rules only: for each pushed ref (36 bytes as hex, internal order) the txids (display
   * hex) of the confirmed txs with an output pushing it, in chain order.
   */
  refs: Map<string, string[]>;
}

function hash(name: string, data: Buffer): Buffer {
  return createHash(name).update(data).digest();
}

export function sha256d(data: Buffer): Buffer {
  return hash('sha256', hash('sha256', data));
}

function displayHex(internal: Buffer): string {
  return Buffer.from(internal).reverse().toString('hex');
}

/** Minimal cursor over a buffer; throws on any read past the end. Test readers share it. */
export class Cursor {
  offset = 0;
  constructor(private readonly bytes: Buffer) {}
  take(n: number): Buffer {
    if (this.offset + n > this.bytes.length) throw new Error('test reader: truncated');
    const slice = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return slice;
  }
  varint(): number {
    const first = this.take(1)[0] ?? 0;
    if (first < 0xfd) return first;
    if (first === 0xfd) return this.take(2).readUInt16LE(0);
    if (first === 0xfe) return this.take(4).readUInt32LE(0);
    return Number(this.take(8).readBigUInt64LE(0));
  }
}

interface ParsedTx extends ReferenceTxFields {
  raw: Buffer;
}

function readTx(cursor: Cursor, bytes: Buffer, rules: ReferenceRules): ParsedTx {
  const start = cursor.offset;
  const version = cursor.take(4).readInt32LE(0);
  // BIP144: marker 0x00 and flag 0x01 where the input count would be.
  const witness = rules.segwit === true && bytes[start + 4] === 0 && bytes[start + 5] === 1;
  if (witness) cursor.take(2);
  const bodyStart = cursor.offset;
  const inputs: ParsedTx['inputs'] = [];
  for (let i = cursor.varint(); i > 0; i--) {
    const prevTxidInternal = Buffer.from(cursor.take(32));
    const prevVout = cursor.take(4).readUInt32LE(0);
    const scriptSig = Buffer.from(cursor.take(cursor.varint()));
    const sequence = cursor.take(4).readUInt32LE(0);
    inputs.push({ prevTxidInternal, prevVout, scriptSig, sequence });
  }
  const outputs: ParsedTx['outputs'] = [];
  for (let i = cursor.varint(); i > 0; i--) {
    const value = cursor.take(8).readBigInt64LE(0);
    outputs.push({ value, script: Buffer.from(cursor.take(cursor.varint())) });
  }
  const bodyEnd = cursor.offset;
  if (witness) {
    for (let i = 0; i < inputs.length; i++) {
      for (let n = cursor.varint(); n > 0; n--) cursor.take(cursor.varint());
    }
  }
  const locktimeBytes = cursor.take(4);
  const raw = Buffer.from(bytes.subarray(start, cursor.offset));
  const stripped = witness
    ? Buffer.concat([raw.subarray(0, 4), bytes.subarray(bodyStart, bodyEnd), locktimeBytes])
    : raw;
  return { raw, version, inputs, outputs, locktime: locktimeBytes.readUInt32LE(0), stripped };
}

function isUnspendable(script: Buffer): boolean {
  return script[0] === 0x6a || (script[0] === 0x00 && script[1] === 0x6a);
}

// Records the txid under every ref the output pushes, once per tx.
function addRefs(refs: Map<string, string[]>, script: Buffer, txid: string): void {
  for (const { ref } of referencePushRefs(script)) {
    const key = ref.toString('hex');
    const txids = refs.get(key) ?? [];
    if (txids.at(-1) !== txid) txids.push(txid);
    refs.set(key, txids);
  }
}

/** Script hash as wallets send it: SHA-256 of the script, byte-reversed, hex. */
export function electrumScriptHash(script: Buffer): string {
  return displayHex(hash('sha256', script));
}

/**
 * Reads every block of a chain file (index = height) into the reference model; `rules` adds
 * segwit and Radiant reading (default: legacy txs, plain SHA-256 script hashes).
 */
export function readReferenceChain(
  blockHexes: string[],
  headerHash: HeaderHashName,
  rules: ReferenceRules = {}
): ReferenceChain {
  const chain: ReferenceChain = {
    headers: [],
    blockHashes: [],
    blockTxids: [],
    txs: new Map(),
    history: new Map(),
    unspent: new Map(),
    refs: new Map(),
  };
  const outputsByOutpoint = new Map<string, ReferenceOutput>();
  const touch = (scriptHash: string, txHash: string, height: number): void => {
    const list = chain.history.get(scriptHash) ?? [];
    if (list.at(-1)?.txHash !== txHash) list.push({ txHash, height });
    chain.history.set(scriptHash, list);
  };
  blockHexes.forEach((blockHex, height) => {
    const bytes = Buffer.from(blockHex, 'hex');
    const header = bytes.subarray(0, 80);
    chain.headers.push(Buffer.from(header));
    const headerDigest =
      headerHash === 'sha256d' ? sha256d(header) : hash('sha512-256', hash('sha512-256', header));
    chain.blockHashes.push(displayHex(headerDigest));
    const cursor = new Cursor(bytes);
    cursor.take(80);
    const parsed: ParsedTx[] = [];
    for (let n = cursor.varint(); n > 0; n--) parsed.push(readTx(cursor, bytes, rules));
    const txids = parsed.map((tx) => referenceTxid(tx, rules));
    chain.blockTxids.push(txids);
    if (height === 0) return; // the genesis coinbase is not indexed (DESIGN §3)
    // Every output of the block first, then the spends: a tx may spend a later one.
    const touched: { scriptHash: string; position: number; txid: string }[] = [];
    parsed.forEach((tx, position) => {
      const txid = txids[position] ?? '';
      chain.txs.set(txid, { txid, height, position, raw: tx.raw });
      tx.outputs.forEach((output, vout) => {
        if (isUnspendable(output.script)) return;
        const scriptHash = referenceScriptHash(output.script, rules);
        if (rules.radiant === true) addRefs(chain.refs, output.script, txid);
        const entry = { txid, vout, value: output.value, script: output.script, scriptHash, height };
        outputsByOutpoint.set(`${txid}:${vout}`, entry);
        touched.push({ scriptHash, position, txid });
      });
    });
    parsed.forEach((tx, position) => {
      if (position === 0) return;
      for (const input of tx.inputs) {
        const key = `${displayHex(input.prevTxidInternal)}:${input.prevVout}`;
        const spent = outputsByOutpoint.get(key);
        if (spent === undefined) throw new Error(`reference: ${key} spent but unknown`);
        outputsByOutpoint.delete(key);
        touched.push({ scriptHash: spent.scriptHash, position, txid: txids[position] ?? '' });
      }
    });
    touched.sort((a, b) => a.position - b.position);
    for (const { scriptHash, txid } of touched) touch(scriptHash, txid, height);
  });
  for (const output of outputsByOutpoint.values()) {
    const list = chain.unspent.get(output.scriptHash) ?? [];
    list.push(output);
    chain.unspent.set(output.scriptHash, list);
  }
  return chain;
}

/** The protocol's status: SHA-256 of "txid:height:" for each history item, hex; null if none. */
export function referenceStatus(history: { txHash: string; height: number }[]): string | null {
  if (history.length === 0) return null;
  const text = history.map((item) => `${item.txHash}:${item.height}:`).join('');
  return hash('sha256', Buffer.from(text, 'ascii')).toString('hex');
}

/** Merkle branch for `index` over display-hex txids, as the protocol returns it (display hex). */
export function referenceBranch(txids: string[], index: number): string[] {
  let level: Buffer[] = txids.map((txid) => Buffer.from(txid, 'hex').reverse());
  const branch: string[] = [];
  let position = index;
  while (level.length > 1) {
    if (level.length % 2 === 1) level.push(level[level.length - 1] as Buffer);
    const sibling = level[position ^ 1] as Buffer;
    branch.push(displayHex(sibling));
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(sha256d(Buffer.concat([level[i] as Buffer, level[i + 1] as Buffer])));
    }
    level = next;
    position >>= 1;
  }
  return branch;
}
