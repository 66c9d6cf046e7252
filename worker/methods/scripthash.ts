// Script hash handlers: balance, history, mempool, unspent outputs (Radiant refs), subscriptions.
import { bytesToHex, hashToHex } from '../../core/bytes.ts';
import type { Handler, ReplyRoom } from '../../core/protocol/dispatch.ts';
import { HISTORY_TOO_LARGE, RpcError } from '../../core/protocol/errors.ts';
import { MAX_SEND_BYTES, responseTooLarge } from '../../core/protocol/framing.ts';
import { parseScriptHash } from '../../core/protocol/validation.ts';
import { refToString, REF_BYTES } from '../../core/script.ts';
import type { MempoolTx, Utxo } from '../index-reader.ts';
import type { MethodContext } from './context.ts';

/**
 * Most confirmed history entries one reply may carry. As in ElectrumX, an entry is about 99 bytes
 * of JSON, so a longer history could not fit in MAX_SEND and is refused before it is read.
 */
export function historyLimit(maxSendBytes: number): number {
  return Math.floor((maxSendBytes - 100) / 99);
}

/** historyLimit at the default MAX_SEND. */
export const HISTORY_LIMIT = historyLimit(MAX_SEND_BYTES);

/**
 * Entries of a history or UTXO list read at once before any room is claimed. A longer list is
 * counted first and its room claimed before its rows are read, so the items of a batch running
 * beside it see the room it will take and are refused before they read their own.
 */
const FIRST_READ_ENTRIES = 1000;

// The fewest bytes one confirmed entry can take in a reply, comma included:
// {"tx_hash":"<64 hex>","height":N}, and {"tx_hash":"<64 hex>","tx_pos":N,"height":N,"value":N}
// (with ,"refs":[] on Radiant). More entries than the room holds at this size cannot fit, so
// they are refused before they are read.
const SMALLEST_HISTORY_ENTRY_BYTES = 90;
const SMALLEST_UTXO_ENTRY_BYTES = 111;
const EMPTY_REFS_BYTES = ',"refs":[]'.length;

/** How many entries of at least `entryBytes` fit in the room left (all of them, at least). */
function entriesThatFit(room: ReplyRoom, entryBytes: number): number {
  return Math.floor(room.bytes() / entryBytes);
}

/** Claims the room `entries` of at least `entryBytes` take. @throws response too large. */
function claimEntries(room: ReplyRoom, entries: number, entryBytes: number): void {
  if (!room.claim(entries * entryBytes)) throw responseTooLarge(room.maxSendBytes);
}

// utxos.refs: n x (36-byte ref + 1 kind byte), docs/ARCHITECTURE.md.
const REF_ENTRY_BYTES = REF_BYTES + 1;
const REF_KINDS = ['normal', 'single'] as const;

/** One Radiant ref of an unspent output as listunspent shows it. */
export interface RefJson {
  ref: string;
  type: (typeof REF_KINDS)[number];
}

/** Decodes the utxos.refs column into listunspent's `refs` list (empty for NULL). */
export function decodeRefs(packed: Uint8Array | null): RefJson[] {
  if (packed === null) return [];
  if (packed.length % REF_ENTRY_BYTES !== 0) {
    const what = `refs column of ${packed.length} bytes`;
    throw new Error(`${what} is not a multiple of ${REF_ENTRY_BYTES}`);
  }
  const refs: RefJson[] = [];
  for (let at = 0; at < packed.length; at += REF_ENTRY_BYTES) {
    const kindByte = packed[at + REF_BYTES] ?? -1;
    const type = REF_KINDS[kindByte];
    if (type === undefined) throw new Error(`refs column holds unknown kind byte ${kindByte}`);
    refs.push({ ref: refToString(packed.subarray(at, at + REF_BYTES)), type });
  }
  return refs;
}

function mempoolJson(tx: MempoolTx): { tx_hash: string; height: number; fee: bigint } {
  return { tx_hash: hashToHex(tx.txid), height: tx.height, fee: tx.fee };
}

/**
 * Key of get_balance's result under which the confirmed UTXO count rides along to the cost table
 * (worker/limits/method-cost.ts). A symbol key: encodeJson and JSON.stringify skip it, so the
 * count never reaches the wire.
 */
export const BALANCE_UTXO_COUNT: unique symbol = Symbol('balance utxo count');

/** get_balance's result: the wire fields plus the UTXO count for the cost table. */
export interface BalanceJson {
  confirmed: bigint;
  unconfirmed: bigint;
  [BALANCE_UTXO_COUNT]: number;
}

/** blockchain.scripthash.get_balance: {confirmed, unconfirmed}, exact integers. */
export const scripthashGetBalance: Handler<MethodContext> = async ({ index }, [scriptHash]) => {
  const balance = await index.balance(parseScriptHash(scriptHash));
  const result: BalanceJson = {
    confirmed: balance.confirmed,
    unconfirmed: balance.unconfirmed,
    [BALANCE_UTXO_COUNT]: balance.utxoCount,
  };
  return result;
};

/** blockchain.scripthash.get_history: confirmed [{tx_hash, height}], then mempool ones with fee. */
export const scripthashGetHistory: Handler<MethodContext> = async (context, params, room) => {
  const hashx = parseScriptHash(params[0]);
  const { index } = context;
  const limit = historyLimit(room.maxSendBytes);
  // Counted up to here: reaching it means refused (too long for any reply, or for this one).
  const counted = Math.min(limit, entriesThatFit(room, SMALLEST_HISTORY_ENTRY_BYTES) + 1);
  let history = await index.history(hashx, Math.min(counted, FIRST_READ_ENTRIES + 1));
  if (history.confirmedCount > FIRST_READ_ENTRIES && counted > FIRST_READ_ENTRIES + 1) {
    claimHistory(room, await index.historyCount(hashx, counted), limit);
    history = await index.history(hashx, counted);
  }
  claimHistory(room, history.confirmedCount, limit);
  const confirmed = history.confirmed.map((tx) => {
    return { tx_hash: hashToHex(tx.txid), height: tx.height };
  });
  return [...confirmed, ...history.mempool.map(mempoolJson)];
};

// Refuses a history of `count` confirmed entries that no reply can carry (10001, as ElectrumX)
// or this one cannot, else claims its room.
function claimHistory(room: ReplyRoom, count: number, limit: number): void {
  if (count >= limit) throw new RpcError(HISTORY_TOO_LARGE, 'history too large');
  claimEntries(room, count, SMALLEST_HISTORY_ENTRY_BYTES);
}

/** blockchain.scripthash.get_mempool: [{tx_hash, height, fee}], height 0 or -1. */
export const scripthashGetMempool: Handler<MethodContext> = async ({ index }, [scriptHash]) => {
  const mempool = await index.mempoolHistory(parseScriptHash(scriptHash));
  return mempool.map(mempoolJson);
};

/** blockchain.scripthash.listunspent: [{tx_hash, tx_pos, height, value}] (+ refs on Radiant). */
export const scripthashListunspent: Handler<MethodContext> = async (context, params, room) => {
  const { coin, index } = context;
  const hashx = parseScriptHash(params[0]);
  const entryBytes = SMALLEST_UTXO_ENTRY_BYTES + (coin.radiant ? EMPTY_REFS_BYTES : 0);
  const fitting = entriesThatFit(room, entryBytes);
  let utxos = await index.unspent(hashx, Math.min(fitting, FIRST_READ_ENTRIES) + 1);
  if (utxos.length > FIRST_READ_ENTRIES && fitting > FIRST_READ_ENTRIES) {
    claimEntries(room, await index.unspentCount(hashx, fitting + 1), entryBytes);
    utxos = await index.unspent(hashx, fitting + 1);
  }
  claimEntries(room, utxos.length, entryBytes);
  return utxos.map((utxo: Utxo) => ({
    tx_hash: hashToHex(utxo.txid),
    tx_pos: utxo.vout,
    height: utxo.height,
    value: utxo.value,
    refs: coin.radiant ? decodeRefs(utxo.refs) : undefined,
  }));
};

/** blockchain.scripthash.subscribe: the status (hex, null without history); changes are pushed. */
export const scripthashSubscribe: Handler<MethodContext> = async ({ index, session }, params) => {
  const [scriptHash] = params;
  const hashx = parseScriptHash(scriptHash);
  const status = await index.status(hashx);
  // The status column holds the SHA-256 digest itself, sent as plain (not reversed) hex.
  const statusHex = status === null ? null : bytesToHex(status);
  session.subscribeScriptHash(hashx, String(scriptHash), statusHex);
  return statusHex;
};

/** blockchain.scripthash.unsubscribe: true when the script hash was subscribed. */
export const scripthashUnsubscribe: Handler<MethodContext> = ({ session }, [scriptHash]) => {
  return session.unsubscribeScriptHash(parseScriptHash(scriptHash));
};
