// HTTP front of the simulated node: POST only, Basic auth, body limits and fault injection,
// behaving as radiant-node's httprpc.cpp does towards a client.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { HttpReply } from './sim-node-rpc.ts';

/** Fault modes for tests: what every non-control request meets. */
export type FaultMode = 'none' | 'garbage' | 'slow' | 'down' | 'error500';

/** Valid fault modes, in the order error messages list them. */
export const FAULT_MODES: readonly FaultMode[] = ['none', 'garbage', 'slow', 'down', 'error500'];

// httprpc.cpp: RPC_AUTH_BRUTE_FORCE_DELAY, and the realm it presents with a 401.
const AUTH_FAILURE_DELAY_MS = 250;
const WWW_AUTHENTICATE = 'Basic realm="jsonrpc"';
// libevent's limit in the node's httpserver.cpp (MAX_SIZE of serialize.h, 32 MiB).
const MAX_BODY_BYTES = 0x02000000;

/** What the HTTP front needs from the node behind it. */
export interface HttpFrontOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** How long the 'slow' fault holds each reply. */
  slowDelayMs: number;
  fault(): FaultMode;
  /** Answers a JSON-RPC body; `warmup` makes every node method fail as in the node's warmup. */
  answer(body: string, warmup: boolean): HttpReply;
}

/** A listening HTTP front. */
export interface HttpFront {
  readonly port: number;
  /** Drops every open connection (used when the 'down' fault starts). */
  dropConnections(): void;
  close(): Promise<void>;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function authorized(request: IncomingMessage, user: string, password: string): boolean {
  const header = request.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  return sameSecret(decoded, `${user}:${password}`);
}

/** True when the body only calls sim_* control methods, which faults never touch. */
function isControlBody(body: string): boolean {
  if (!body.includes('sim_')) return false;
  try {
    const parsed: unknown = JSON.parse(body);
    const requests = Array.isArray(parsed) ? parsed : [parsed];
    return (
      requests.length > 0 &&
      requests.every((request: unknown) => {
        const method = (request as { method?: unknown } | null)?.method;
        return typeof method === 'string' && method.startsWith('sim_');
      })
    );
  } catch {
    return false;
  }
}

function send(response: ServerResponse, status: number, body: string, contentType: string): void {
  const length = Buffer.byteLength(body);
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': length });
  response.end(body);
}

function readBody(request: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let totalBytes = 0;
    request.on('data', (chunk: Buffer) => {
      totalBytes += chunk.length;
      if (totalBytes <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      resolve(totalBytes > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString('utf8'));
    });
    request.on('error', reject);
  });
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: HttpFrontOptions
): Promise<void> {
  // A 'down' node answers nothing; the connection is reset unless it carries a control call.
  const down = options.fault() === 'down';
  if (request.method !== 'POST') {
    if (down) request.socket.destroy();
    else send(response, 405, 'JSONRPC server handles only POST requests', 'text/html');
    return;
  }
  if (!authorized(request, options.user, options.password)) {
    if (down) request.socket.destroy();
    else await refuseCredentials(request, response);
    return;
  }
  const body = await readBody(request);
  if (body === null) {
    send(response, 413, 'Request body too large', 'text/plain');
    return;
  }
  const fault = isControlBody(body) ? 'none' : options.fault();
  if (fault === 'down') {
    request.socket.destroy();
    return;
  }
  if (fault === 'garbage') {
    send(response, 200, '<html><body>\u0000 not json {"result": ', 'text/html');
    return;
  }
  if (fault === 'slow') await new Promise((done) => setTimeout(done, options.slowDelayMs));
  const reply = options.answer(body, fault === 'error500');
  send(response, reply.status, reply.body, 'application/json');
}

// httprpc.cpp: 401 with the realm, at once when no credentials came, after a pause when wrong.
async function refuseCredentials(
  request: IncomingMessage,
  response: ServerResponse
): Promise<void> {
  if (request.headers.authorization !== undefined) {
    await new Promise((done) => setTimeout(done, AUTH_FAILURE_DELAY_MS));
  }
  response.writeHead(401, { 'WWW-Authenticate': WWW_AUTHENTICATE, 'Content-Length': 0 }).end();
}

/**
 * Starts the HTTP front on `host:port` (0 picks a free port). In the 'down' fault every request
 * but a sim_* control call has its connection reset without an answer.
 */
export async function startHttpFront(options: HttpFrontOptions): Promise<HttpFront> {
  const sockets = new Set<Socket>();
  // Sockets with a request in progress: 'down' closes them once their reply is out, so a
  // sim_fault call that starts the fault still gets its answer.
  const busy = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    const socket = request.socket;
    busy.add(socket);
    response.on('close', () => {
      busy.delete(socket);
      if (options.fault() === 'down') socket.destroy();
    });
    handle(request, response, options).catch((error: unknown) => {
      if (response.headersSent) response.destroy();
      else send(response, 500, `simulated node failure: ${String(error)}`, 'text/plain');
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('HTTP front has no TCP port');
  }
  return {
    port: address.port,
    dropConnections: () => {
      for (const socket of sockets) if (!busy.has(socket)) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        for (const socket of sockets) socket.destroy();
      }),
  };
}
