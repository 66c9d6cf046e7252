// Header handlers: the tip subscription, one header by height, and chunks of headers.
import { bytesToHex } from '../../core/bytes.ts';
import type { Handler } from '../../core/protocol/dispatch.ts';
import { BAD_REQUEST, RpcError, withThousands } from '../../core/protocol/errors.ts';
import {
  parseNonNegativeInteger,
  parseOptionalNonNegativeInteger,
} from '../../core/protocol/validation.ts';
import type { MethodContext } from './context.ts';

/** Most headers one blockchain.block.headers call returns (protocol docs; ElectrumX's chunk). */
export const MAX_HEADERS_PER_CALL = 2016;

/** The error for a height the index does not hold (ElectrumX wording, digits grouped). */
export function heightOutOfRange(height: number): RpcError {
  return new RpcError(BAD_REQUEST, `height ${withThousands(height)} out of range`);
}

// TODO(soon): checkpoint proofs (cp_height > 0) need a merkle tree over all header hashes up to
// cp_height; until the index keeps one, such calls are refused rather than answered without it.
function refuseCheckpoint(cpHeight: number): void {
  if (cpHeight === 0) return;
  const message = `cp_height ${withThousands(cpHeight)}: checkpoint proofs are not supported yet`;
  throw new RpcError(BAD_REQUEST, message);
}

/** blockchain.headers.subscribe: the tip as {hex, height}; the session is told of new tips. */
export const headersSubscribe: Handler<MethodContext> = async ({ index, session }) => {
  const tip = await index.tip();
  // ElectrumX answers only once caught up; an empty index has no tip to give.
  if (tip === null) throw new RpcError(BAD_REQUEST, 'the index holds no blocks yet');
  session.subscribeHeaders();
  return { hex: bytesToHex(tip.header), height: tip.height };
};

/** blockchain.block.header(height, cp_height=0): the 80-byte header as hex. */
export const blockHeader: Handler<MethodContext> = async ({ index }, [heightParam, cpParam]) => {
  const height = parseNonNegativeInteger(heightParam);
  const cpHeight = parseOptionalNonNegativeInteger(cpParam, 0);
  const header = await index.header(height);
  if (header === null) throw heightOutOfRange(height);
  refuseCheckpoint(cpHeight);
  return bytesToHex(header);
};

/**
 * blockchain.block.headers(start_height, count, cp_height=0): up to `count` headers (at most
 * 2016, fewer at the tip, none past it) concatenated as hex.
 */
export const blockHeaders: Handler<MethodContext> = async ({ index }, params) => {
  const [startParam, countParam, cpParam] = params;
  const startHeight = parseNonNegativeInteger(startParam);
  const count = Math.min(parseNonNegativeInteger(countParam), MAX_HEADERS_PER_CALL);
  const cpHeight = parseOptionalNonNegativeInteger(cpParam, 0);
  const headers = await index.headers(startHeight, count);
  if (headers.length > 0) refuseCheckpoint(cpHeight);
  const hex = headers.map(bytesToHex).join('');
  return { hex, count: headers.length, max: MAX_HEADERS_PER_CALL };
};
