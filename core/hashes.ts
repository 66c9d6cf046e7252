// Hash functions of the chains: SHA-256, SHA-256d and Radiant's double SHA-512/256.
// Built on @noble/hashes (not node:crypto) so the Worker can bundle this file.
import { sha256 as nobleSha256, sha512_256 } from '@noble/hashes/sha2.js';

/** SHA-256 (FIPS 180-4) of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** SHA-256 applied twice: txids, merkle trees and Bitcoin-family block hashes. */
export function sha256d(data: Uint8Array): Uint8Array {
  return nobleSha256(nobleSha256(data));
}

/**
 * SHA-512/256 (the FIPS 180-4 variant with its own initial values, not truncated SHA-512) applied
 * twice: the Radiant block header hash (DESIGN §3).
 */
export function sha512_256d(data: Uint8Array): Uint8Array {
  return sha512_256(sha512_256(data));
}
