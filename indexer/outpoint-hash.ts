// The two operations the in-memory outpoint tables (FlushOutputs, UtxoCache) share: a slot hash
// of an outpoint and a comparison of txids stored side by side in one array.

/** Bytes of a txid. */
export const TXID_BYTES = 32;

/**
 * Hash of the outpoint (txid at `bytes[at..at+32)`, `vout`) for an open-addressing table: txids
 * are uniformly random, so four of their bytes make a good hash, mixed with the vout.
 */
export function outpointHash(bytes: Uint8Array, at: number, vout: number): number {
  const low = (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
  const word = low | ((bytes[at + 2] ?? 0) << 16) | ((bytes[at + 3] ?? 0) << 24);
  return (word ^ Math.imul(vout + 1, 0x9e3779b1)) >>> 0;
}

/** Whether txid number `slot` of `txids` (32 bytes each) equals `bytes[at..at+32)`. */
export function sameTxidAt(
  txids: Uint8Array,
  slot: number,
  bytes: Uint8Array,
  at: number
): boolean {
  const base = slot * TXID_BYTES;
  for (let i = 0; i < TXID_BYTES; i++) if (txids[base + i] !== bytes[at + i]) return false;
  return true;
}
