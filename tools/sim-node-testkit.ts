// Helpers shared by the simulated node's tests: independent hashing (node:crypto), raw HTTP posts
// and small transactions to send.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { serializeTx } from './block-builder.ts';
import { callNode, splitNodeUrl } from './sim-node-client.ts';
import type { SimNode } from './sim-node.ts';

/** Chain file blocks by repository-relative path. */
export function chainBlocks(path: string): string[] {
  const file = new URL(`../${path}`, import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { blocks: string[] }).blocks;
}

export const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();
export const sha256d = (data: Uint8Array): Buffer => sha256(sha256(data));
export const sha512_256d = (data: Uint8Array): Buffer =>
  createHash('sha512-256').update(createHash('sha512-256').update(data).digest()).digest();
export const displayHex = (hash: Uint8Array): string => Buffer.from(hash).reverse().toString('hex');

/** Display hash of a block's sha256d header, computed independently of the code under test. */
export function headerHashHex(blockHex: string): string {
  return displayHex(sha256d(Buffer.from(blockHex.slice(0, 160), 'hex')));
}

/** An HTTP answer of the node, body parsed when it is JSON. */
export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** POSTs `body` (stringified unless a string) with the node's credentials unless told otherwise. */
export async function post(
  node: SimNode,
  body: unknown,
  init: { authorization?: string | null; method?: string } = {}
): Promise<RawAnswer> {
  const { endpoint, authorization } = splitNodeUrl(node.url);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const auth = init.authorization === undefined ? authorization : init.authorization;
  if (auth !== null) headers.authorization = auth;
  const method = init.method ?? 'POST';
  const response = await fetch(endpoint, {
    method,
    headers,
    body: method === 'POST' ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: the test looks at text.
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Calls a method and returns its result (throws NodeCallError on an error reply). */
export function rpc(node: SimNode, method: string, params: unknown[] = []): Promise<unknown> {
  return callNode(node.url, method, params, 20_000);
}

/** P2PKH scripts of made-up key hashes, distinct per `n`. */
export function p2pkh(n: number): Buffer {
  const [prefix, suffix] = [Buffer.from('76a914', 'hex'), Buffer.from('88ac', 'hex')];
  return Buffer.concat([prefix, Buffer.alloc(20, n), suffix]);
}

/** A tx spending outpoints (display txids) to outputs; scriptSigs are a lone OP_TRUE. */
export function spend(
  inputs: { txid: string; vout: number }[],
  outputs: { value: bigint; script: Uint8Array }[],
  version = 2
): string {
  const raw = serializeTx({
    version,
    inputs: inputs.map((input) => ({
      prevTxid: Buffer.from(input.txid, 'hex').reverse(),
      prevVout: input.vout,
      script: Uint8Array.of(0x51),
      sequence: 0xffffffff,
    })),
    outputs,
    locktime: 0,
  });
  return Buffer.from(raw).toString('hex');
}

/** Display txid of raw tx hex (legacy serialization, version 1 or 2). */
export function txidOf(hex: string): string {
  return displayHex(sha256d(Buffer.from(hex, 'hex')));
}
