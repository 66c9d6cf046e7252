// JSON-RPC framing: one request or batch per message in, one JSON value per reply frame out.
import {
  describeValue,
  INVALID_PARAMS,
  INVALID_REQUEST,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  RpcError,
  withThousands,
} from './errors.ts';
import { idTexts } from './id-text.ts';
import { encodeJson, RawJson } from './json.ts';

/** Largest request message accepted, in UTF-8 bytes (DESIGN §6 MAX_RECV). */
export const MAX_RECV_BYTES = 1_000_000;
/** Largest reply sent, in UTF-8 bytes; larger replies become an error (DESIGN §6 MAX_SEND). */
export const MAX_SEND_BYTES = 8_100_000;
/** Most requests in one batch; a wallet's address sweep stays far below this. */
export const MAX_BATCH_ITEMS = 1_000;

/**
 * A request id: echoed back with the same JSON type. A number JSON.parse could not hold exactly
 * (beyond 2^53) is kept as the text the client wrote (RawJson), so the echo is exact too.
 */
export type RpcId = number | string | null | RawJson;
/** Positional or named parameters as they arrived. */
export type RpcParams = unknown[] | Record<string, unknown>;

/** One well-formed request. `isNotification` is true when the object had no "id" member. */
export interface RpcRequest {
  id: RpcId;
  isNotification: boolean;
  method: string;
  params: RpcParams;
}

/** One member of a message: a request, or the error to answer it with (under `id`). */
export type ParsedItem =
  | { ok: true; request: RpcRequest }
  | { ok: false; id: RpcId; error: RpcError };

/** A whole incoming message. `invalid` is answered by one error reply with id null. */
export type ParsedMessage =
  | { kind: 'single'; item: ParsedItem }
  | { kind: 'batch'; items: ParsedItem[] }
  | { kind: 'invalid'; error: RpcError };

/** UTF-8 length of a string without encoding it; a lone surrogate counts 3, as TextEncoder does. */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** True when `text` is longer than `maxBytes` in UTF-8; cheap for the common short message. */
export function exceedsBytes(text: string, maxBytes: number): boolean {
  if (text.length * 3 <= maxBytes) return false;
  if (text.length > maxBytes) return true;
  return utf8ByteLength(text) > maxBytes;
}

/**
 * Parses one message. JSON.parse already allows the trailing "\n" line-oriented clients send; two
 * JSON values in one message are invalid JSON, as in ElectrumX's WebSocket transport.
 */
export function parseMessage(text: string, maxRecvBytes = MAX_RECV_BYTES): ParsedMessage {
  if (exceedsBytes(text, maxRecvBytes)) {
    const message = `request too large (over ${withThousands(maxRecvBytes)} bytes)`;
    return { kind: 'invalid', error: new RpcError(INVALID_REQUEST, message) };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return { kind: 'invalid', error: new RpcError(PARSE_ERROR, 'invalid JSON') };
  }
  if (!Array.isArray(payload)) {
    const item = parseItem(payload);
    if (!hasRoundedId(item)) return { kind: 'single', item };
    const written = idTexts(text);
    return { kind: 'single', item: withIdText(item, typeof written === 'string' ? written : null) };
  }
  if (payload.length === 0) {
    return { kind: 'invalid', error: new RpcError(INVALID_REQUEST, 'batch is empty') };
  }
  if (payload.length > MAX_BATCH_ITEMS) {
    const count = withThousands(payload.length);
    const most = withThousands(MAX_BATCH_ITEMS);
    const message = `batch of ${count} requests is too large (at most ${most})`;
    return { kind: 'invalid', error: new RpcError(INVALID_REQUEST, message) };
  }
  const items = payload.map(parseItem);
  if (!items.some(hasRoundedId)) return { kind: 'batch', items };
  const written = idTexts(text);
  const texts = Array.isArray(written) ? written : [];
  return { kind: 'batch', items: items.map((item, n) => withIdText(item, texts[n] ?? null)) };
}

/** The id a reply to `item` carries (null for a member that is not a request object). */
export function idOfItem(item: ParsedItem): RpcId {
  return item.ok ? item.request.id : item.id;
}

// A number id JSON.parse rounded: an integer beyond 2^53, or one too big for a double at all.
// (Fractions keep their shortest form: JSON-RPC asks for none, and no wallet sends them.)
function hasRoundedId(item: ParsedItem): boolean {
  const id = idOfItem(item);
  if (typeof id !== 'number') return false;
  return !Number.isFinite(id) || (Number.isInteger(id) && !Number.isSafeInteger(id));
}

// The item with its rounded number id replaced by the id's text (a JSON number token).
function withIdText(item: ParsedItem, written: string | null): ParsedItem {
  if (!hasRoundedId(item) || written === null) return item;
  const id = new RawJson(written);
  return item.ok ? { ok: true, request: { ...item.request, id } } : { ...item, id };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates one request object (JSON-RPC 2.0 §4, 1.0 accepted: "jsonrpc" absent or "1.0"). */
export function parseItem(payload: unknown): ParsedItem {
  if (!isPlainObject(payload)) {
    return invalid(null, INVALID_REQUEST, 'request object must be a dictionary');
  }
  const hasId = Object.hasOwn(payload, 'id');
  const id = hasId ? payload.id : null;
  if (id !== null && typeof id !== 'string' && typeof id !== 'number') {
    return invalid(null, INVALID_REQUEST, `invalid "id": ${describeValue(id)}`);
  }
  const version = payload.jsonrpc;
  if (version !== undefined && version !== '2.0' && version !== '1.0') {
    return invalid(id, INVALID_REQUEST, `unsupported "jsonrpc" version: ${describeValue(version)}`);
  }
  const method = payload.method;
  if (method === undefined) return invalid(id, INVALID_REQUEST, 'request has no "method"');
  if (typeof method !== 'string') return invalid(id, METHOD_NOT_FOUND, 'method must be a string');
  const params = payload.params ?? [];
  if (!Array.isArray(params) && !isPlainObject(params)) {
    return invalid(id, INVALID_PARAMS, `invalid request arguments: ${describeValue(params)}`);
  }
  return { ok: true, request: { id, isNotification: !hasId, method, params } };
}

function invalid(id: RpcId, code: number, message: string): ParsedItem {
  return { ok: false, id, error: new RpcError(code, message) };
}

/** A success reply. @throws TypeError when `result` holds something JSON cannot (a handler bug). */
export function encodeResult(id: RpcId, result: unknown): string {
  return `{"jsonrpc":"2.0","result":${encodeJson(result)},"id":${encodeJson(id)}}`;
}

/** An error reply; only the code and message reach the client. */
export function encodeError(id: RpcId, error: RpcError): string {
  const body = encodeJson({ code: error.code, message: error.message });
  return `{"jsonrpc":"2.0","error":${body},"id":${encodeJson(id)}}`;
}

/** A server-to-client notification (subscriptions). */
export function encodeNotification(method: string, params: unknown[]): string {
  return encodeJson({ jsonrpc: '2.0', method, params });
}

/** Joins the replies of a batch into one JSON array. */
export function encodeBatch(parts: readonly string[]): string {
  return `[${parts.join(',')}]`;
}

/** The error sent instead of a reply over `maxSendBytes` (aiorpcx wording, parenthesis and all). */
export function responseTooLarge(maxSendBytes: number): RpcError {
  const message = `response too large (over ${withThousands(maxSendBytes)} bytes`;
  return new RpcError(INVALID_REQUEST, message);
}
