// The indexer's admin RPC: JSON-RPC 2.0 over HTTP with basic auth, on loopback by default.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  INTERNAL_ERROR,
  INTERNAL_ERROR_MESSAGE,
  INVALID_PARAMS,
  INVALID_REQUEST,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  RpcError,
  describeValue,
} from '../core/protocol/errors.ts';
import { encodeJson } from '../core/protocol/json.ts';
import { redact, type Logger } from './logger.ts';

/** The caller gave no or wrong credentials (HTTP 401). Not an Electrum code: admin only. */
export const UNAUTHORIZED = -32001;
/** The request came from a web page (it has an Origin header): refused (HTTP 403). */
export const FORBIDDEN = -32002;

/** An admin command: gets the positional params, returns (or resolves to) a JSON-able result. */
export type AdminHandler = (params: readonly unknown[]) => unknown;

/** Settings of `startAdminRpc`. */
export interface AdminRpcOptions {
  /** Default 127.0.0.1 (RPC_HOST). */
  host?: string;
  /** Default 8000 (RPC_PORT); 0 picks a free port. */
  port?: number;
  user: string;
  password: string;
  /** Commands by name, e.g. getinfo, sessions, groups, disconnect, log, reorg, query, stop. */
  handlers: Readonly<Record<string, AdminHandler>>;
  logger?: Logger;
  /** Redacted from every reply and log line, on top of `password`. */
  secrets?: readonly string[];
  /** Largest request body accepted; default 1 MB. */
  maxBodyBytes?: number;
  /** Wait before answering a failed login, to slow guessing (bitcoind waits too); default 250. */
  authFailureDelayMs?: number;
}

/** A running admin RPC server. */
export interface AdminRpcServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 8000;
const MAX_BATCH = 100;

interface Reply {
  jsonrpc: '2.0';
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Checks an Authorization header in time independent of where the values differ: both sides are
 * hashed to 32 bytes first, so neither the length nor the content of the secret leaks.
 */
function makeAuthCheck(user: string, password: string): (header: string | undefined) => boolean {
  const wantUser = digest(user);
  const wantPassword = digest(password);
  return (header) => {
    const match = /^Basic ([A-Za-z0-9+/=]{1,1024})$/.exec(header ?? '');
    const encoded = match?.[1] ?? '';
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const gotUser = colon < 0 ? '' : decoded.slice(0, colon);
    const gotPassword = colon < 0 ? '' : decoded.slice(colon + 1);
    const userOk = timingSafeEqual(digest(gotUser), wantUser);
    const passwordOk = timingSafeEqual(digest(gotPassword), wantPassword);
    return colon >= 0 && userOk && passwordOk;
  };
}

function errorReply(id: unknown, code: number, message: string): Reply {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

function isValidId(id: unknown): boolean {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

// Strings inside a result pass through redact, so a handler cannot leak a secret by accident.
function redactDeep(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return redact(value, secrets);
  if (depth > 32 || typeof value !== 'object' || value === null) return value;
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactDeep(item, secrets, depth + 1);
  return out;
}

function errorDetail(error: unknown, secrets: readonly string[]): string {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return redact(text, secrets);
}

interface Dispatcher {
  handlers: Readonly<Record<string, AdminHandler>>;
  secrets: readonly string[];
  logger: Logger | undefined;
}

async function runHandler(
  d: Dispatcher,
  handler: AdminHandler,
  method: string,
  params: unknown[]
): Promise<unknown> {
  try {
    return await handler(params);
  } catch (error) {
    if (error instanceof RpcError) throw new RpcError(error.code, redact(error.message, d.secrets));
    // Our own failure: the detail goes to the log only (DESIGN §5), redacted here as well in
    // case the caller's logger was not given the same secrets.
    d.logger?.error('admin_rpc_failed', { method, detail: errorDetail(error, d.secrets) });
    throw new RpcError(INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE);
  }
}

async function dispatchOne(d: Dispatcher, request: unknown): Promise<Reply | undefined> {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return errorReply(null, INVALID_REQUEST, 'request object must be a dictionary');
  }
  const { id, method, params } = request as Record<string, unknown>;
  const hasId = 'id' in request;
  if (hasId && !isValidId(id)) {
    return errorReply(null, INVALID_REQUEST, `invalid request id: ${describeValue(id)}`);
  }
  if (typeof method !== 'string') {
    return errorReply(id ?? null, INVALID_REQUEST, 'method must be a string');
  }
  // Own properties only: "constructor" or "__proto__" must not reach Object.prototype.
  const handler = Object.hasOwn(d.handlers, method) ? d.handlers[method] : undefined;
  let reply: Reply;
  if (handler === undefined) {
    // The commands are the operator's own to know: the caller has passed the password.
    const commands = Object.keys(d.handlers).sort().join(', ');
    const unknown = `unknown method "${describeValue(method, 40)}"; the commands: ${commands}`;
    reply = errorReply(id, METHOD_NOT_FOUND, unknown);
  } else if (params !== undefined && !Array.isArray(params)) {
    reply = errorReply(id, INVALID_PARAMS, 'params must be a list');
  } else {
    try {
      const result = await runHandler(d, handler, method, params ?? []);
      reply = { jsonrpc: '2.0', id, result: redactDeep(result ?? null, d.secrets) };
    } catch (error) {
      const rpc = error instanceof RpcError ? error : undefined;
      reply = errorReply(id, rpc?.code ?? INTERNAL_ERROR, rpc?.message ?? INTERNAL_ERROR_MESSAGE);
    }
  }
  return hasId ? reply : undefined;
}

async function dispatch(d: Dispatcher, body: string): Promise<unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return errorReply(null, PARSE_ERROR, 'invalid JSON');
  }
  if (!Array.isArray(parsed)) return dispatchOne(d, parsed);
  if (parsed.length === 0) return errorReply(null, INVALID_REQUEST, 'batch is empty');
  if (parsed.length > MAX_BATCH) {
    return errorReply(null, INVALID_REQUEST, `batch over ${MAX_BATCH} requests`);
  }
  const replies: Reply[] = [];
  // One after another: admin commands such as disconnect or stop must not interleave.
  for (const request of parsed) {
    const reply = await dispatchOne(d, request);
    if (reply !== undefined) replies.push(reply);
  }
  return replies.length === 0 ? undefined : replies;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (status === 401) headers['www-authenticate'] = 'Basic realm="electrum-edge admin"';
  if (body === undefined) {
    response.writeHead(status === 200 ? 204 : status, headers).end();
    return;
  }
  headers['content-type'] = 'application/json';
  response.writeHead(status, headers).end(encodeJson(body));
}

async function readBody(request: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const piece = chunk as Buffer;
    size += piece.length;
    if (size > maxBytes) return undefined;
    chunks.push(piece);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

// Order matters: web pages are refused before credentials are looked at, and nothing of the body
// is read before the credentials pass.
function makeRequestHandler(options: AdminRpcOptions, dispatcher: Dispatcher): RequestHandler {
  const isAuthorized = makeAuthCheck(options.user, options.password);
  const maxBodyBytes = options.maxBodyBytes ?? 1_000_000;
  const delayMs = options.authFailureDelayMs ?? 250;
  return async (request, response) => {
    if (request.headers.origin !== undefined) {
      // Browsers always send Origin on cross-site POSTs; no CLI client does (CSRF, DNS rebinding).
      send(response, 403, errorReply(null, FORBIDDEN, 'requests from web pages are refused'));
      return;
    }
    if (!isAuthorized(request.headers.authorization)) {
      await sleep(delayMs);
      options.logger?.warn('admin_rpc_unauthorized', { remote: request.socket.remoteAddress });
      send(response, 401, errorReply(null, UNAUTHORIZED, 'unauthorized'));
      return;
    }
    if (request.method !== 'POST') {
      send(response, 405, errorReply(null, INVALID_REQUEST, 'use POST'));
      return;
    }
    const body = await readBody(request, maxBodyBytes);
    if (body === undefined) {
      send(response, 413, errorReply(null, INVALID_REQUEST, `request over ${maxBodyBytes} bytes`));
      return;
    }
    send(response, 200, await dispatch(dispatcher, body));
  };
}

/** Starts the admin RPC; refuses an empty user or password whatever the caller checked. */
export async function startAdminRpc(options: AdminRpcOptions): Promise<AdminRpcServer> {
  if (options.user === '' || options.password === '') {
    throw new Error('the admin RPC needs RPC_USER and RPC_PASSWORD');
  }
  const dispatcher: Dispatcher = {
    handlers: options.handlers,
    secrets: [options.password, ...(options.secrets ?? [])],
    logger: options.logger,
  };
  const handle = makeRequestHandler(options, dispatcher);
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.logger?.error('admin_rpc_failed', { detail: errorDetail(error, dispatcher.secrets) });
      if (response.headersSent) response.destroy();
      else send(response, 500, errorReply(null, INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE));
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return listen(server, options.host ?? DEFAULT_HOST, options.port ?? DEFAULT_PORT, options.logger);
}

async function listen(
  server: Server,
  host: string,
  port: number,
  logger?: Logger
): Promise<AdminRpcServer> {
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done();
    });
  });
  const address = server.address() as AddressInfo;
  logger?.info('admin_rpc_listening', { host, port: address.port });
  return {
    host,
    port: address.port,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Admin RPC settings from RPC_HOST, RPC_PORT, RPC_USER, RPC_PASSWORD. */
export function adminRpcSettings(env: Record<string, string | undefined>): {
  host: string;
  port: number;
  user: string;
  password: string;
} {
  const rawPort = env['RPC_PORT']?.trim() ?? '';
  const port = rawPort === '' ? DEFAULT_PORT : Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`RPC_PORT must be a port from 0 to 65535, got "${rawPort.slice(0, 20)}"`);
  }
  return {
    host: env['RPC_HOST']?.trim() || DEFAULT_HOST,
    port,
    user: env['RPC_USER']?.trim() ?? '',
    password: env['RPC_PASSWORD'] ?? '',
  };
}
