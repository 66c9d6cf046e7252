// Header handlers: the tip subscription, one header by height, and chunks of headers, with
// checkpoint proofs (cp_height) and final answers served from the edge cache.
import { bytesToHex, hashToHex } from '../../core/bytes.ts';
import type { Handler } from '../../core/protocol/dispatch.ts';
import { BAD_REQUEST, RpcError, withThousands } from '../../core/protocol/errors.ts';
import { headerProof, headerProofNodes, treeNodeId } from '../../core/protocol/header-proof.ts';
import {
  parseNonNegativeInteger,
  parseOptionalNonNegativeInteger,
} from '../../core/protocol/validation.ts';
import { PROTOCOL_1_6, versionAtLeast } from '../../core/protocol/version.ts';
import type { MethodContext } from './context.ts';
import { cachedAnswer, isFinal, rememberAnswer } from './final-answers.ts';

/** Most headers one blockchain.block.headers call returns (protocol docs; ElectrumX's chunk). */
export const MAX_HEADERS_PER_CALL = 2016;

/** The error for a height the index does not hold (ElectrumX wording, digits grouped). */
export function heightOutOfRange(height: number): RpcError {
  return new RpcError(BAD_REQUEST, `height ${withThousands(height)} out of range`);
}

function badCheckpoint(height: number, cpHeight: number, tipHeight: number): RpcError {
  const range =
    `header height ${withThousands(height)} <= cp_height ${withThousands(cpHeight)} <= ` +
    `chain height ${withThousands(tipHeight)}`;
  return new RpcError(BAD_REQUEST, `require ${range}`);
}

/** The checkpoint proof of `height` ({branch, root}, display hex) from the stored header tree. */
async function checkpointProof(
  { index }: MethodContext,
  height: number,
  cpHeight: number,
  tipHeight: number
): Promise<{ branch: string[]; root: string }> {
  if (height > cpHeight || cpHeight > tipHeight) throw badCheckpoint(height, cpHeight, tipHeight);
  const read = await index.headerTreeNodes(headerProofNodes(height, cpHeight));
  // A reorg between the two reads took blocks away: answer as if it had come first.
  if (read.tipHeight < cpHeight) throw badCheckpoint(height, cpHeight, read.tipHeight);
  const proof = headerProof(height, cpHeight, (key) => {
    const node = read.nodes.get(treeNodeId(key));
    if (node === undefined) {
      throw new Error(`header tree node ${treeNodeId(key)} missing at tip ${read.tipHeight}`);
    }
    return node;
  });
  return { branch: proof.branch.map(hashToHex), root: hashToHex(proof.root) };
}

/** blockchain.headers.subscribe: the tip as {hex, height}; the session is told of new tips. */
export const headersSubscribe: Handler<MethodContext> = async ({ index, session }) => {
  const tip = await index.tip();
  // ElectrumX answers only once caught up; an empty index has no tip to give.
  if (tip === null) throw new RpcError(BAD_REQUEST, 'the index holds no blocks yet');
  session.subscribeHeaders();
  return { hex: bytesToHex(tip.header), height: tip.height };
};

/**
 * blockchain.block.header(height, cp_height=0): the header as hex, or with cp_height
 * {header, branch, root} proving it against the root over heights 0..cp_height.
 */
export const blockHeader: Handler<MethodContext> = async (context, [heightParam, cpParam]) => {
  const height = parseNonNegativeInteger(heightParam);
  const cpHeight = parseOptionalNonNegativeInteger(cpParam, 0);
  const key = `blockchain.block.header:${height}:${cpHeight}`;
  const cached = await cachedAnswer(context, key);
  if (cached !== undefined) return cached;
  const range = await context.index.headerRange(height, 1);
  const header = range.headers[0];
  if (header === undefined) throw heightOutOfRange(height);
  const hex = bytesToHex(header);
  const result =
    cpHeight === 0
      ? hex
      : { header: hex, ...(await checkpointProof(context, height, cpHeight, range.tipHeight)) };
  if (isFinal(context, Math.max(height, cpHeight), range.tipHeight)) {
    await rememberAnswer(context, key, result);
  }
  return result;
};

/**
 * blockchain.block.headers(start_height, count, cp_height=0): up to `count` headers (at most
 * 2016, fewer at the tip, none past it): concatenated `hex` before protocol 1.6, a `headers`
 * list from 1.6; with cp_height and at least one header, the proof of the last one.
 */
export const blockHeaders: Handler<MethodContext> = async (context, params) => {
  const [startParam, countParam, cpParam] = params;
  const startHeight = parseNonNegativeInteger(startParam);
  const count = Math.min(parseNonNegativeInteger(countParam), MAX_HEADERS_PER_CALL);
  const cpHeight = parseOptionalNonNegativeInteger(cpParam, 0);
  const asList = versionAtLeast(context.session.protocolVersion(), PROTOCOL_1_6);
  const shapeName = asList ? 'list' : 'hex';
  const key = `blockchain.block.headers:${startHeight}:${count}:${cpHeight}:${shapeName}`;
  const cached = await cachedAnswer(context, key);
  if (cached !== undefined) return cached;
  const range = await context.index.headerRange(startHeight, count);
  const headers = range.headers.map(bytesToHex);
  const shape = asList
    ? { count: headers.length, max: MAX_HEADERS_PER_CALL, headers }
    : { hex: headers.join(''), count: headers.length, max: MAX_HEADERS_PER_CALL };
  const lastHeight = startHeight + headers.length - 1;
  const proof =
    headers.length > 0 && cpHeight > 0
      ? await checkpointProof(context, lastHeight, cpHeight, range.tipHeight)
      : {};
  const result = { ...shape, ...proof };
  const complete = headers.length === count && count > 0;
  if (complete && isFinal(context, Math.max(lastHeight, cpHeight), range.tipHeight)) {
    await rememberAnswer(context, key, result);
  }
  return result;
};
