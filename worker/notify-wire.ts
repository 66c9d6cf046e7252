// Change notices on the wire: the indexer's POST /internal/notify body, what the Worker hands the
// hubs and the sessions, and the script-hash sharding all of them agree on. No Workers APIs here,
// so Node tests import this file too.
import { truncateForMessage } from '../core/bytes.ts';

/** Largest POST /internal/notify body accepted; the indexer's notifier sends at most 1 MiB. */
export const MAX_NOTICE_BODY_BYTES = 4 * 1024 * 1024;
/** Most notices one POST may carry. */
export const MAX_NOTICES_PER_BODY = 1_000;
/** Hub shards when HUB_SHARDS is unset; script hashes spread over them by one byte. */
export const DEFAULT_HUB_SHARDS = 16;
/** HUB_SHARDS may not exceed this: the shard is one byte of the hash modulo the count. */
export const MAX_HUB_SHARDS = 256;

const HASH_HEX = /^[0-9a-f]{64}$/;
const HEADER_HEX = /^[0-9a-f]{160}$/;

/**
 * One committed `changes` row (core/schema.ts), as the indexer sends it. Hashes are display hex.
 * A row with very many script hashes may come in parts: every part but the last has `more`.
 */
export interface Notice {
  seq: number;
  /** Height of the tip after this change (lower than before on a reorg's unwind). */
  height: number;
  tipHash: string;
  /** The tip's 80-byte header as hex; null when that block is no longer in the index. */
  headerHex: string | null;
  /** Script hashes whose status may have changed, display hex. */
  hashxes: string[];
  /**
   * The indexer's cached status of each of `hashxes` (plain hex, null without history), read
   * after the commit; null when the sender left them out and the Worker reads them itself.
   */
  statuses: (string | null)[] | null;
  /** When the indexer saw the commit (ms since the epoch); for latency figures only. */
  commitMs: number | null;
  /** More parts of the same seq follow. */
  more: boolean;
  /** The index was rebuilt: hubs drop their seq and take this one as the next. */
  reset: boolean;
}

/** The chain tip a session may announce to blockchain.headers.subscribe. */
export interface TipNotice {
  seq: number;
  height: number;
  headerHex: string;
}

/** What a hub asks of one session it wakes. */
export interface SessionWake {
  /** The newest seq this wake covers. */
  seq: number;
  /** Subscribed script hashes (display hex) to re-check. */
  hashxes: string[];
  /**
   * The cached status of each of `hashxes` (plain hex or null), read by the hub after the notice
   * committed: one index read per hub instead of one per session. Null: the session reads them.
   */
  statuses: Record<string, string | null> | null;
  /** The newest tip, for headers subscribers; null when the wake has no new tip. */
  tip: TipNotice | null;
  /**
   * Set when earlier wakes to this session failed: it also re-checks every script hash of the
   * changes rows after this seq (or all its subscriptions when those rows are pruned).
   */
  afterSeq: number | null;
  /** Re-check every subscription (the hub itself fell behind the pruned change feed). */
  all: boolean;
  /**
   * The feed started over (the index was rebuilt or restored: its seqs are lower than those
   * already announced), or may have: the session forgets the seq of the last tip it announced,
   * so tips of the new feed are not taken for old ones.
   */
  feedReset: boolean;
  /** The newest covered notice's commit time (indexer clock, ms), for latency figures only. */
  commitMs: number | null;
}

/** A session's answer to a wake. `gone`: no WebSocket left, so the hub forgets the session. */
export type WakeResult = { ok: true; sent: number } | { gone: true };

/** A batch of registration changes from one session to one hub. */
export interface Registration {
  /** The Session Durable Object id (hex); the hub wakes it by this id. */
  session: string;
  add: string[];
  remove: string[];
  /** Start or stop waking this session on new tips. */
  headers: 'add' | 'remove' | null;
  /** Forget everything this session registered here (it closed). */
  removeAll: boolean;
}

/** The hub's position in the change feed (GET /internal/notify answers the lowest). */
export interface HubPosition {
  seq: number;
  tipHash: string | null;
  /**
   * When the hub last looked up whom to wake (its clock, ms since the epoch; 0 = never). A
   * session registering a subscription re-reads its status only if this falls after the
   * subscribe began: only then can a notice have passed it by.
   */
  plannedAtMs: number;
}

/** A malformed notice body; the message names the field and the bad value. */
export class NoticeError extends Error {
  override name = 'NoticeError';
}

function field(record: Record<string, unknown>, name: string, where: string): unknown {
  if (!(name in record)) throw new NoticeError(`${where}: "${name}" is missing`);
  return record[name];
}

function positiveInt(value: unknown, what: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new NoticeError(`${what} must be an integer >= ${min}, got ${show(value)}`);
  }
  return value;
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? `"${value}"` : String(JSON.stringify(value));
  return truncateForMessage(text);
}

function hashHex(value: unknown, what: string): string {
  const text = typeof value === 'string' ? value.toLowerCase() : '';
  if (!HASH_HEX.test(text)) {
    throw new NoticeError(`${what} must be 64 hex digits, got ${show(value)}`);
  }
  return text;
}

function headerHex(value: unknown, what: string): string | null {
  if (value === null || value === undefined) return null;
  const text = typeof value === 'string' ? value.toLowerCase() : '';
  if (!HEADER_HEX.test(text)) throw new NoticeError(`${what} must be 160 hex digits or null`);
  return text;
}

function statusList(value: unknown, count: number, what: string): (string | null)[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length !== count) {
    throw new NoticeError(`${what} must be an array as long as hashxes (${count})`);
  }
  return value.map((item, i) => (item === null ? null : hashHex(item, `${what}[${i}]`)));
}

function flag(value: unknown, what: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') {
    throw new NoticeError(`${what} must be a boolean, got ${show(value)}`);
  }
  return value;
}

/** Checks one notice object of the body (snake_case keys, as the indexer writes them). */
export function parseNotice(value: unknown, where: string): Notice {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new NoticeError(`${where} must be an object, got ${show(value)}`);
  }
  const record = value as Record<string, unknown>;
  const hashList = field(record, 'hashxes', where);
  if (!Array.isArray(hashList)) throw new NoticeError(`${where}.hashxes must be an array`);
  const commitMs = record.commit_ms ?? null;
  const hashxes = hashList.map((item, i) => hashHex(item, `${where}.hashxes[${i}]`));
  return {
    seq: positiveInt(field(record, 'seq', where), `${where}.seq`, 1),
    height: positiveInt(field(record, 'height', where), `${where}.height`, 0),
    tipHash: hashHex(field(record, 'tip_hash', where), `${where}.tip_hash`),
    headerHex: headerHex(record.header_hex, `${where}.header_hex`),
    hashxes,
    statuses: statusList(record.statuses, hashxes.length, `${where}.statuses`),
    commitMs: commitMs === null ? null : positiveInt(commitMs, `${where}.commit_ms`, 0),
    more: flag(record.more, `${where}.more`),
    reset: flag(record.reset, `${where}.reset`),
  };
}

/**
 * Parses a POST /internal/notify body: one notice object or an array of them, in seq order.
 * @throws NoticeError naming the first bad field.
 */
export function parseNoticeBody(text: string): Notice[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new NoticeError('body is not valid JSON');
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  if (items.length === 0) throw new NoticeError('body holds no notice');
  if (items.length > MAX_NOTICES_PER_BODY) {
    throw new NoticeError(`body holds ${items.length} notices, at most ${MAX_NOTICES_PER_BODY}`);
  }
  const notices = items.map((item, i) => parseNotice(item, `notice[${i}]`));
  notices.reduce((previous, notice) => {
    if (notice.seq < previous.seq || (notice.seq === previous.seq && !previous.more)) {
      throw new NoticeError(`notice seq ${notice.seq} follows seq ${previous.seq}: out of order`);
    }
    return notice;
  });
  return notices;
}

/**
 * Reads HUB_SHARDS (1..256, default 16). Every part of the Worker must use the same count, so a
 * bad value falls back to the default everywhere alike; the caller logs the returned problem.
 */
export function parseHubShards(text: string | undefined): {
  shards: number;
  problem: string | null;
} {
  if (text === undefined || text.trim() === '') {
    return { shards: DEFAULT_HUB_SHARDS, problem: null };
  }
  const shards = Number(text);
  if (Number.isInteger(shards) && shards >= 1 && shards <= MAX_HUB_SHARDS) {
    return { shards, problem: null };
  }
  const shown = truncateForMessage(text, 20);
  const problem = `HUB_SHARDS "${shown}" is not an integer in 1..${MAX_HUB_SHARDS}`;
  return { shards: DEFAULT_HUB_SHARDS, problem };
}

/**
 * The hub shard of a 64-hex-digit value (a script hash in display hex, or a Session id): its
 * first byte in internal order, which is the last byte of display hex, modulo `shards`. Script
 * hashes are SHA-256 output, so any byte spreads them evenly.
 */
export function shardOf(hex: string, shards: number): number {
  const byte = Number.parseInt(hex.slice(62, 64), 16);
  if (Number.isNaN(byte)) {
    throw new Error(`shardOf needs 64 hex digits, got "${truncateForMessage(hex)}"`);
  }
  return byte % shards;
}

/** The name of hub shard `index`; the Hub namespace's idFromName takes it. */
export function hubName(index: number): string {
  return `hub-${index}`;
}
