// JSON-RPC dispatch of the simulated node: request parsing, named and positional parameters,
// arity, replies and HTTP statuses as radiant-node's httprpc.cpp and rpc/server.cpp produce them.
import { truncateForMessage } from '../core/bytes.ts';
import {
  httpStatusForCode,
  NodeRpcError,
  RPC_INVALID_PARAMETER,
  RPC_INVALID_REQUEST,
  RPC_METHOD_NOT_FOUND,
  RPC_MISC_ERROR,
  RPC_PARSE_ERROR,
} from './sim-node-errors.ts';
import { stringifyJson, type JsonValue } from './sim-node-json.ts';

/** One RPC method: its parameter names (for named calls), arity and handler. */
export interface MethodSpec<Context> {
  /** Parameter names in position order; `required` of them must be given. */
  args: string[];
  required: number;
  /** One line shown (as the node shows its help text) when the arity is wrong. */
  usage: string;
  /** Accepts any number of parameters beyond `args` (positional only). */
  variadic?: boolean;
  handler: (params: unknown[], context: Context) => JsonValue;
}

/**
 * A table entry from the method's usage line, e.g. `getblockheader "hash" ( verbose )`: the
 * words are the parameter names (quotes mark strings), those inside the parentheses optional,
 * and a trailing `...` takes any number of further parameters.
 */
export function fromUsage<C>(
  usage: string,
  handler: MethodSpec<C>['handler']
): [string, MethodSpec<C>] {
  const [name = '', ...words] = usage.split(' ');
  const args: string[] = [];
  let required = -1;
  let variadic = false;
  for (const word of words) {
    if (word === '(') required = args.length;
    else if (word === '...') variadic = true;
    else if (word !== ')') args.push(word.replaceAll('"', ''));
  }
  if (required < 0) required = args.length;
  return [name, { args, required, usage, handler, variadic }];
}

/** A method table keyed by method name. */
export type MethodTable<Context> = ReadonlyMap<string, MethodSpec<Context>>;

/** Runs before a method is looked up and may throw (the node's warmup check comes first). */
export type MethodGate = (method: string) => void;

/** An HTTP answer: status and the JSON text (with the node's trailing newline). */
export interface HttpReply {
  status: number;
  body: string;
}

type ReplyObject = { result: JsonValue; error: JsonValue; id: JsonValue };

function errorObject(error: unknown): { code: number; message: string } {
  if (error instanceof NodeRpcError) return { code: error.code, message: error.message };
  // rpc/server.cpp: any other exception a handler throws becomes RPC_MISC_ERROR with its text.
  return { code: RPC_MISC_ERROR, message: error instanceof Error ? error.message : String(error) };
}

function replyFor(result: JsonValue, error: unknown, id: JsonValue): ReplyObject {
  if (error === undefined) return { result, error: null, id };
  return { result: null, error: errorObject(error), id };
}

function isJsonValue(value: unknown): value is JsonValue {
  return value === null || ['string', 'number', 'boolean', 'object'].includes(typeof value);
}

/** Named parameters to positional ones (rpc/server.cpp transformNamedArguments). */
function positional<C>(
  params: unknown[] | Record<string, unknown>,
  spec: MethodSpec<C>
): unknown[] {
  if (Array.isArray(params)) return params;
  const unknownName = Object.keys(params).find((name) => !spec.args.includes(name));
  if (unknownName !== undefined) {
    throw new NodeRpcError(RPC_INVALID_PARAMETER, `Unknown named parameter ${unknownName}`);
  }
  const out = spec.args.map((name) => (name in params ? params[name] : null));
  while (out.length > 0 && out[out.length - 1] === null) out.pop();
  return out;
}

/**
 * Runs one request object and returns its reply object (JSONRPCRequest::parse, then the table).
 * Never throws: every failure is an error reply carrying the request's id when it had one.
 */
export function executeOne<C>(
  request: unknown,
  methods: MethodTable<C>,
  context: C,
  gate?: MethodGate
): ReplyObject {
  let id: JsonValue = null;
  try {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      throw new NodeRpcError(RPC_INVALID_REQUEST, 'Invalid Request object');
    }
    const fields = request as Record<string, unknown>;
    const rawId = fields.id;
    if (isJsonValue(rawId)) id = rawId;
    const method = fields.method;
    if (method === undefined) throw new NodeRpcError(RPC_INVALID_REQUEST, 'Missing method');
    if (typeof method !== 'string') {
      throw new NodeRpcError(RPC_INVALID_REQUEST, 'Method must be a string');
    }
    const params = fields.params ?? [];
    if (typeof params !== 'object' || params === null) {
      throw new NodeRpcError(RPC_INVALID_REQUEST, 'Params must be an array or object');
    }
    gate?.(method);
    const spec = methods.get(method);
    if (spec === undefined) throw new NodeRpcError(RPC_METHOD_NOT_FOUND, 'Method not found');
    const args = positional(params as unknown[] | Record<string, unknown>, spec);
    const tooMany = spec.variadic !== true && args.length > spec.args.length;
    if (args.length < spec.required || tooMany) {
      throw new NodeRpcError(RPC_MISC_ERROR, spec.usage);
    }
    return replyFor(spec.handler(args, context), undefined, id);
  } catch (error) {
    return replyFor(null, error, id);
  }
}

/**
 * Answers an HTTP body: a single request (HTTP 200, or 400 / 404 / 500 by error code, as
 * httprpc.cpp JSONErrorReply does) or a batch (always 200, one reply per element, in order).
 */
export function answerBody<C>(
  body: string,
  methods: MethodTable<C>,
  context: C,
  gate?: MethodGate
): HttpReply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return errorReply(RPC_PARSE_ERROR, 'Parse error');
  }
  if (Array.isArray(parsed)) {
    const replies = parsed.map((request: unknown) => executeOne(request, methods, context, gate));
    return { status: 200, body: `${stringifyJson(replies)}\n` };
  }
  if (typeof parsed !== 'object' || parsed === null) {
    return errorReply(RPC_PARSE_ERROR, 'Top-level object parse error');
  }
  const reply = executeOne(parsed, methods, context, gate);
  const code = reply.error === null ? 0 : (reply.error as { code: number }).code;
  return { status: code === 0 ? 200 : httpStatusForCode(code), body: `${stringifyJson(reply)}\n` };
}

/** A reply for a request that could not be read at all (id null). */
export function errorReply(code: number, message: string): HttpReply {
  const reply = { result: null, error: { code, message }, id: null };
  return { status: httpStatusForCode(code), body: `${stringifyJson(reply)}\n` };
}

// Parameter readers. The texts are UniValue's get_int / get_bool / get_str failures, which the
// node reports as RPC_MISC_ERROR, and rpc/server.cpp ParseHashV's, reported as -8.

/** True when parameter `index` was left out or given as null (the node's isNull()). */
export function isAbsent(params: unknown[], index: number): boolean {
  return params[index] === undefined || params[index] === null;
}

/** An integer parameter. @throws NodeRpcError -1 when it is not a JSON integer. */
export function intParam(params: unknown[], index: number): number {
  const value = params[index];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new NodeRpcError(RPC_MISC_ERROR, 'JSON value is not an integer as expected');
  }
  return value;
}

/** A boolean parameter. @throws NodeRpcError -1 when it is not a JSON boolean. */
export function boolParam(params: unknown[], index: number): boolean {
  const value = params[index];
  if (typeof value !== 'boolean') {
    throw new NodeRpcError(RPC_MISC_ERROR, 'JSON value is not a boolean as expected');
  }
  return value;
}

/** A string parameter. @throws NodeRpcError -1 when it is not a JSON string. */
export function stringParam(params: unknown[], index: number): string {
  const value = params[index];
  if (typeof value !== 'string') {
    throw new NodeRpcError(RPC_MISC_ERROR, 'JSON value is not a string as expected');
  }
  return value;
}

/** A 64-hex-digit hash parameter, lowercased. @throws NodeRpcError -8 naming `name`. */
export function hashParam(params: unknown[], index: number, name: string): string {
  const value = stringParam(params, index);
  const shown = truncateForMessage(value, 100);
  if (value.length !== 64) {
    throw new NodeRpcError(
      RPC_INVALID_PARAMETER,
      `${name} must be of length 64 (not ${value.length}, for '${shown}')`
    );
  }
  if (!/^[0-9a-fA-F]+$/.test(value)) {
    throw new NodeRpcError(
      RPC_INVALID_PARAMETER,
      `${name} must be hexadecimal string (not '${shown}')`
    );
  }
  return value.toLowerCase();
}

/** A verbosity given as a number or a boolean (getblock, getrawtransaction). */
export function levelParam(params: unknown[], index: number, fallback: number): number {
  if (isAbsent(params, index)) return fallback;
  if (typeof params[index] === 'number') return intParam(params, index);
  return boolParam(params, index) ? 1 : 0;
}
