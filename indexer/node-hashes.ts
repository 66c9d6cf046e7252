// node:crypto's native SHA-256 behind core's hash functions, for the Node processes.
import { hash } from 'node:crypto';
import { setSha256Implementation } from '../core/hashes.ts';

/**
 * SHA-256 through node:crypto's one-shot hash (Node >= 20.12), as a plain Uint8Array view: core
 * code treats digests as Uint8Array, and a Buffer's slice() would share memory (Daemon.blocks).
 */
export function nodeSha256(data: Uint8Array): Uint8Array {
  const digest = hash('sha256', data, 'buffer');
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** Makes core's sha256/sha256d (txids, merkle roots, script hashes) use node:crypto. */
export function useNodeHashes(): void {
  setSha256Implementation(nodeSha256);
}
