// Radiant ref handler: blockchain.ref.get, the first and the latest tx pushing a ref.
import { hashToHex, hexToBytes, reverseBytes } from '../../core/bytes.ts';
import type { Handler } from '../../core/protocol/dispatch.ts';
import { BAD_REQUEST, describeValue, RpcError } from '../../core/protocol/errors.ts';
import type { RefTx } from '../index-reader.ts';
import type { MethodContext } from './context.ts';

/**
 * A ref parameter: 72 hex characters, the txid in display order then the vout as 8 hex digits
 * big-endian, as Radiant's ElectrumX reads it (each half reversed). Returns the 36 bytes the
 * index keys on: txid in internal order, vout little-endian.
 */
export function parseRef(value: unknown): Uint8Array {
  if (typeof value === 'string' && /^[0-9a-fA-F]{72}$/.test(value)) {
    const txid = reverseBytes(hexToBytes(value.slice(0, 64)));
    const vout = reverseBytes(hexToBytes(value.slice(64)));
    const ref = new Uint8Array(36);
    ref.set(txid, 0);
    ref.set(vout, 32);
    return ref;
  }
  throw new RpcError(BAD_REQUEST, `${describeValue(value)} should be a ref`);
}

function refJson(tx: RefTx): { tx_hash: string; height: number } {
  return { tx_hash: hashToHex(tx.txid), height: tx.height };
}

/**
 * blockchain.ref.get(ref): [first, last] as {tx_hash, height}: the first confirmed tx pushing the
 * ref (its mint) and the latest one, the mempool's newest when there is one (height 0). One tx
 * appears twice; an unknown ref gives [].
 */
export const refGet: Handler<MethodContext> = async ({ index }, [refParam]) => {
  const history = await index.refHistory(parseRef(refParam));
  const all = [...history.confirmed, ...history.mempool];
  const first = all[0];
  const last = all[all.length - 1];
  if (first === undefined || last === undefined) return [];
  return [refJson(first), refJson(last)];
};
