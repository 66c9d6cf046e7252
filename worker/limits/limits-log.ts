// How limit events name an IP group in log lines: its network, or an opaque tag under ANON_LOGS.
import { bytesToHex } from '../../core/bytes.ts';
import { sha256 } from '../../core/hashes.ts';

const encoder = new TextEncoder();
// A random key per isolate: an unkeyed hash of a /24 could be reversed by trying all 2^24
// networks. Lines from one Limiter object share an isolate, so its lines still match up.
// Made on first use: workerd refuses random values in global scope.
let tagKey: Uint8Array | null = null;

/** The group as log lines show it: "203.0.113.0/24", or "anon-1a2b3c4d5e6f" under ANON_LOGS. */
export function groupLabel(group: string | null, anonLogs: boolean): string {
  if (group === null) return 'exempt';
  if (!anonLogs) return group;
  tagKey ??= crypto.getRandomValues(new Uint8Array(16));
  const text = encoder.encode(group);
  const keyed = new Uint8Array(tagKey.length + text.length);
  keyed.set(tagKey);
  keyed.set(text, tagKey.length);
  return `anon-${bytesToHex(sha256(keyed)).slice(0, 12)}`;
}

/** A cost rounded for a log line or an admin answer. */
export function roundCost(cost: number): number {
  return Math.round(cost * 100) / 100;
}
