// Hash functions of the chains: SHA-256, SHA-256d and Radiant's double SHA-512/256.
// Built on @noble/hashes (not node:crypto) so the Worker can bundle this file; a Node process may
// swap in a faster SHA-256 with setSha256Implementation.
import { sha256 as nobleSha256, sha512_256 } from '@noble/hashes/sha2.js';

/** A SHA-256 implementation: the message in, its 32-byte digest out (a fresh array). */
export type Sha256Implementation = (data: Uint8Array) => Uint8Array;

let sha256Impl: Sha256Implementation = nobleSha256;

/**
 * Replaces the SHA-256 behind sha256, sha256d and everything built on them (txids, merkle roots,
 * script hashes); null restores @noble/hashes. The indexer passes node:crypto's one-shot hash,
 * which core cannot import (ARCHITECTURE.md: no node:* in core/) and which hashes a 400-byte tx
 * about three times faster. The implementation must return a plain, unshared digest.
 */
export function setSha256Implementation(implementation: Sha256Implementation | null): void {
  sha256Impl = implementation ?? nobleSha256;
}

/** SHA-256 (FIPS 180-4) of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return sha256Impl(data);
}

/** SHA-256 applied twice: txids, merkle trees and Bitcoin-family block hashes. */
export function sha256d(data: Uint8Array): Uint8Array {
  return sha256Impl(sha256Impl(data));
}

/**
 * SHA-512/256 (the FIPS 180-4 variant with its own initial values, not truncated SHA-512) applied
 * twice: the Radiant block header hash (DESIGN §3).
 */
export function sha512_256d(data: Uint8Array): Uint8Array {
  return sha512_256(sha512_256(data));
}
