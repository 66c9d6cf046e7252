// Applies parsed blocks to the index: headers, txs, history, utxos, refs, undo, status, changes.
import type { Block } from '../core/block.ts';
import { equalBytes, hashToHex } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { isUnspendable, pushRefs, scriptHash } from '../core/script.ts';
import type { Tx } from '../core/tx.ts';
import { BatchInsert } from './batch-insert.ts';
import type { IndexDb } from './db.ts';
import { bytesKey, StatusCache, statusEntryText } from './status-cache.ts';
import { encodeUndo, type IndexedOutput } from './undo-record.ts';

/** A block that cannot be applied; the message names height and hash (sync logs it and stops). */
export class BlockError extends Error {
  override name = 'BlockError';
  readonly height: number;
  readonly hashHex: string;

  constructor(height: number, hashHex: string, reason: string, options?: ErrorOptions) {
    super(`block ${height} ${hashHex}: ${reason}`, options);
    this.height = height;
    this.hashHex = hashHex;
  }
}

/** Where the index stands inside the current transaction. */
export interface Tip {
  height: number;
  hash: Uint8Array | null;
  txCount: number;
  lastChangeSeq: number;
}

interface PendingOutput extends IndexedOutput {
  height: number;
}

const REF_KIND_NORMAL = 0;
const REF_KIND_SINGLE = 1;
const REF_RECORD_BYTES = 37;

function outpointKey(txid: Uint8Array, vout: number): string {
  return `${bytesKey(txid)}${vout}`;
}

/** The utxos.refs value of an output: n x (36-byte ref + kind byte), or null (core/schema.ts). */
export function encodeRefs(script: Uint8Array, coin: Coin): Uint8Array | null {
  if (!coin.radiant) return null;
  const found = pushRefs(script);
  if (found.length === 0) return null;
  const out = new Uint8Array(found.length * REF_RECORD_BYTES);
  found.forEach((item, i) => {
    out.set(item.ref, i * REF_RECORD_BYTES);
    out[i * REF_RECORD_BYTES + 36] = item.kind === 'single' ? REF_KIND_SINGLE : REF_KIND_NORMAL;
  });
  return out;
}

/** The changes.hashxes value: 32-byte hashes keyed by bytesKey, concatenated in byte order. */
export function packHashxes(hashxes: Map<string, Uint8Array>): Uint8Array {
  // latin1 keys compare like the bytes they hold.
  const keys = [...hashxes.keys()].sort();
  const out = new Uint8Array(keys.length * 32);
  keys.forEach((key, i) => out.set(hashxes.get(key) ?? new Uint8Array(32), i * 32));
  return out;
}

/**
 * Writes blocks into the index. Use inside one SQLite transaction:
 * beginFlush(), applyBlock() for each whole block in order, endFlush().
 * Outputs live in an in-memory map until endFlush, so an output created and spent within the
 * same flush never touches the utxos table.
 */
export class BlockWriter {
  private readonly db: IndexDb;
  private readonly coin: Coin;
  private readonly reorgLimit: number;
  private readonly statuses: StatusCache;
  private readonly pending = new Map<string, PendingOutput>();
  private txRows: BatchInsert;
  private tipState: Tip = { height: -1, hash: null, txCount: 0, lastChangeSeq: 0 };

  constructor(db: IndexDb, coin: Coin, reorgLimit: number) {
    this.db = db;
    this.coin = coin;
    this.reorgLimit = reorgLimit;
    this.statuses = new StatusCache(db);
    this.txRows = this.newTxRows();
  }

  private newTxRows(): BatchInsert {
    return new BatchInsert(this.db, 'txs', ['tx_num', 'txid', 'height', 'position', 'raw']);
  }

  /** The tip as of the last applied block (or the last beginFlush). */
  get tip(): Tip {
    return this.tipState;
  }

  /** Starts a flush from the committed state (forgetting anything a rollback left behind). */
  beginFlush(): void {
    this.pending.clear();
    this.statuses.clear();
    this.txRows = this.newTxRows();
    const state = this.db.readChainState();
    this.tipState = {
      height: state.height,
      hash: state.tipHash,
      txCount: state.txCount,
      lastChangeSeq: state.lastChangeSeq,
    };
  }

  /**
   * Applies one block at tip height + 1. The block must already be verified (parse, hash,
   * merkle root: sync's verifyBlock).
   * @throws BlockError when it does not link or spends an output the index does not have.
   */
  applyBlock(block: Block): void {
    const height = this.tipState.height + 1;
    const hashHex = hashToHex(block.header.hash);
    this.checkLink(block, height, hashHex);
    const firstTxNum = this.tipState.txCount;
    // The genesis coinbase is not indexed (DESIGN §3, as ElectrumX): the block has no txs here.
    const txs = height === 0 ? [] : block.txs;
    const touches: Uint8Array[][] = txs.map(() => []);
    this.addOutputs(txs, height, firstTxNum, touches);
    const undo = this.spendInputs(txs, height, hashHex, touches);
    const touched = this.writeHistory(txs, height, firstTxNum, touches);
    this.db
      .prepare(
        'INSERT INTO headers (height, hash, raw, first_tx_num, tx_count) VALUES (?, ?, ?, ?, ?)'
      )
      .run(height, block.header.hash, block.header.raw, firstTxNum, txs.length);
    this.db.prepare('INSERT INTO undo (height, data) VALUES (?, ?)').run(height, encodeUndo(undo));
    const seq = this.tipState.lastChangeSeq + 1;
    this.db
      .prepare('INSERT INTO changes (seq, height, tip_hash, hashxes) VALUES (?, ?, ?, ?)')
      .run(seq, height, block.header.hash, packHashxes(touched));
    this.tipState = {
      height,
      hash: block.header.hash,
      txCount: firstTxNum + txs.length,
      lastChangeSeq: seq,
    };
  }

  /** Writes what the flush kept in memory, moves chain_state, prunes old undo and changes. */
  endFlush(): void {
    this.txRows.finish();
    const utxoColumns = ['tx_num', 'vout', 'hashx', 'value', 'refs'];
    const utxoRows = new BatchInsert(this.db, 'utxos', utxoColumns);
    for (const output of this.pending.values()) {
      utxoRows.add(output.txNum, output.vout, output.hashx, output.value, output.refs);
    }
    utxoRows.finish();
    this.pending.clear();
    this.statuses.flush();
    const tip = this.tipState;
    this.db
      .prepare(
        `UPDATE chain_state SET height = ?, tip_hash = ?, tx_count = ?, last_change_seq = ?
         WHERE id = 0`
      )
      .run(tip.height, tip.hash, tip.txCount, tip.lastChangeSeq);
    this.db.prepare('DELETE FROM undo WHERE height <= ?').run(tip.height - this.reorgLimit);
    this.db.prepare('DELETE FROM changes WHERE seq <= ?').run(tip.lastChangeSeq - this.reorgLimit);
  }

  private checkLink(block: Block, height: number, hashHex: string): void {
    if (height === 0) {
      if (hashHex !== this.coin.genesisHash) {
        const which = `${this.coin.name} ${this.coin.net}`;
        throw new BlockError(0, hashHex, `is not the ${which} genesis block`);
      }
      return;
    }
    const tipHash = this.tipState.hash;
    if (tipHash === null || !equalBytes(block.header.prevHash, tipHash)) {
      const expected = tipHash === null ? 'none' : hashToHex(tipHash);
      throw new BlockError(
        height,
        hashHex,
        `does not link: prev hash ${hashToHex(block.header.prevHash)}, our tip ${expected}`
      );
    }
  }

  // Every output of the block goes in before any input is spent: a tx may spend an output of
  // a later tx in the same block (DESIGN §3; canonical tx order in Bitcoin Cash and Radiant).
  private addOutputs(txs: Tx[], height: number, firstTxNum: number, touches: Uint8Array[][]): void {
    const insertRef = this.db.prepare('INSERT OR IGNORE INTO refs (ref, tx_num) VALUES (?, ?)');
    txs.forEach((tx, position) => {
      const txNum = firstTxNum + position;
      // Written at endFlush: inputs spending this flush's outputs never look in txs.
      this.txRows.add(txNum, tx.txid, height, position, tx.raw);
      tx.outputs.forEach((output, vout) => {
        if (isUnspendable(output.script)) return;
        const hashx = scriptHash(output.script, this.coin);
        const refs = encodeRefs(output.script, this.coin);
        const value = output.value;
        this.pending.set(outpointKey(tx.txid, vout), { txNum, vout, hashx, value, refs, height });
        touches[position]?.push(hashx);
        if (refs === null) return;
        for (let at = 0; at < refs.length; at += REF_RECORD_BYTES) {
          insertRef.run(refs.subarray(at, at + 36), txNum);
        }
      });
    });
  }

  // Resolves each input through the outputs pending in this flush, then the utxos table; returns
  // the block's undo records (outputs created by earlier blocks).
  private spendInputs(
    txs: Tx[],
    height: number,
    hashHex: string,
    touches: Uint8Array[][]
  ): IndexedOutput[] {
    const undo: IndexedOutput[] = [];
    txs.forEach((tx, position) => {
      if (tx.isCoinbase) return;
      for (const input of tx.inputs) {
        const key = outpointKey(input.prevTxid, input.prevVout);
        const fromFlush = this.pending.get(key);
        let spent: IndexedOutput | undefined = fromFlush;
        if (fromFlush !== undefined) {
          this.pending.delete(key);
          if (fromFlush.height < height) undo.push(fromFlush);
        } else {
          spent = this.takeStoredUtxo(input.prevTxid, input.prevVout);
          if (spent !== undefined) undo.push(spent);
        }
        if (spent === undefined) {
          const outpoint = `${hashToHex(input.prevTxid)}:${input.prevVout}`;
          const reason = `tx ${hashToHex(tx.txid)} spends ${outpoint}`;
          throw new BlockError(height, hashHex, `${reason}, which is not an unspent output here`);
        }
        touches[position]?.push(spent.hashx);
      }
    });
    return undo;
  }

  // Looks an outpoint up in the utxos table and deletes it (so a second spend is not found).
  private takeStoredUtxo(txid: Uint8Array, vout: number): IndexedOutput | undefined {
    const lookup = this.db.prepare(
      `SELECT u.tx_num AS tx_num, u.hashx AS hashx, u.value AS value, u.refs AS refs
       FROM txs t JOIN utxos u ON u.tx_num = t.tx_num AND u.vout = ?
       WHERE t.txid = ? ORDER BY t.tx_num DESC LIMIT 1`
    );
    // value is int64: photon amounts exceed 2^53 (DESIGN §3), so read integers as bigint.
    lookup.safeIntegers(true);
    const row = lookup.get(vout, txid) as
      | { tx_num: bigint; hashx: Uint8Array; value: bigint; refs: Uint8Array | null }
      | undefined;
    if (row === undefined) return undefined;
    const txNum = Number(row.tx_num);
    this.db.prepare('DELETE FROM utxos WHERE tx_num = ? AND vout = ?').run(txNum, vout);
    return { txNum, vout, hashx: row.hashx, value: row.value, refs: row.refs };
  }

  // One history entry per (tx, script hash), in (height, position) order; written at endFlush.
  private writeHistory(
    txs: Tx[],
    height: number,
    firstTxNum: number,
    touches: Uint8Array[][]
  ): Map<string, Uint8Array> {
    const blockTouched = new Map<string, Uint8Array>();
    txs.forEach((tx, position) => {
      const txNum = firstTxNum + position;
      const seen = new Set<string>();
      let text: Uint8Array | undefined;
      for (const hashx of touches[position] ?? []) {
        const key = bytesKey(hashx);
        if (seen.has(key)) continue;
        seen.add(key);
        blockTouched.set(key, hashx);
        text ??= statusEntryText(tx.txid, height);
        this.statuses.add(key, hashx, txNum, text);
      }
    });
    return blockTouched;
  }
}
