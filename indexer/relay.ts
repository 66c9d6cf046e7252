// The broadcast relay: the Worker POSTs a raw tx here and the indexer hands it to the node.
// The node's RPC stays private (DESIGN §2); the Worker authenticates with a shared bearer secret.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ParseError } from '../core/byte-reader.ts';
import { hexToBytes } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { parseTx } from '../core/tx.ts';
import { log } from './log.ts';

/** The path the relay answers on; RELAY_URL in the Worker is `http(s)://host:port/broadcast`. */
export const RELAY_PATH = '/broadcast';
/** Largest raw tx accepted, in hex characters (2 MB of hex, a 1 MB transaction). */
export const RELAY_MAX_TX_HEX_CHARS = 2_000_000;
const MIN_SECRET_CHARS = 16;
const DEFAULT_NODE_TIMEOUT_MS = 20_000;
// The JSON around the hex: {"rawtx":"..."} and some slack for whitespace.
const BODY_OVERHEAD_BYTES = 1_024;

/** What the relay needs of the node client: indexer/daemon.ts Daemon fits. */
export interface RelayDaemon {
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
}

export interface RelayOptions {
  host: string;
  /** 0 picks a free port (see the returned url). */
  port: number;
  /** Bearer token the Worker sends (RELAY_SECRET); at least 16 characters. */
  secret: string;
  daemon: RelayDaemon;
  coin: Coin;
  /** Told of every tx the node accepted, so the mempool can be refreshed at once. */
  onAccepted?: (txid: string) => void;
  /** Give up on the node after this long with 504 (default 20 s, under REQUEST_TIMEOUT). */
  nodeTimeoutMs?: number;
}

export interface Relay {
  /** The full endpoint URL for the Worker's RELAY_URL. */
  readonly url: string;
  close(): Promise<void>;
}

type Reply = { status: number; body: Record<string, unknown> };

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

// Comparing fixed-size digests keeps the time independent of where the tokens differ and of
// the secret's length.
function authorized(header: string | undefined, secretDigest: Buffer): boolean {
  const match = /^Bearer (\S+)$/.exec(header ?? '');
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), secretDigest);
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > maxBytes) return null;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The raw tx of a request body, or the reason it is refused before the node sees it. */
export function parseRelayBody(text: string, coin: Coin): { hex: string } | { error: string } {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return { error: 'body is not JSON' };
  }
  const hex = (payload as { rawtx?: unknown } | null)?.rawtx;
  if (typeof hex !== 'string' || hex.length === 0 || !/^(?:[0-9a-fA-F]{2})+$/.test(hex)) {
    return { error: 'rawtx must be a non-empty hex string of even length' };
  }
  if (hex.length > RELAY_MAX_TX_HEX_CHARS) return { error: 'rawtx is too large' };
  try {
    parseTx(hexToBytes(hex), coin);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    return { error: `rawtx is not a transaction: ${error.message}` };
  }
  return { hex: hex.toLowerCase() };
}

/**
 * The node's own text of a sendrawtransaction error. Daemon wraps it as
 * "<method>: node error <code>: <message>"; a `nodeMessage` field, when the client has one, is
 * the untruncated original.
 */
function nodeMessage(error: { message: string; code: number; nodeMessage?: unknown }): string {
  if (typeof error.nodeMessage === 'string') return error.nodeMessage;
  const prefix = `sendrawtransaction: node error ${error.code}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}

function isNodeError(error: unknown): error is { message: string; code: number } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'number';
}

async function sendToNode(hex: string, options: RelayOptions): Promise<Reply> {
  const timeoutMs = options.nodeTimeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((done) => {
    timer = setTimeout(() => done('timeout'), timeoutMs);
  });
  try {
    const result = await Promise.race([options.daemon.call('sendrawtransaction', [hex]), timeout]);
    if (result === 'timeout') {
      log.warn('relay_node_timeout', { timeout_ms: timeoutMs });
      return { status: 504, body: { error: 'the node did not answer in time' } };
    }
    if (typeof result !== 'string' || !/^[0-9a-f]{64}$/.test(result)) {
      log.error('relay_node_garbage', { result: String(result).slice(0, 80) });
      return { status: 502, body: { error: 'the node answered with no txid' } };
    }
    return { status: 200, body: { txid: result } };
  } catch (error) {
    if (isNodeError(error)) {
      const message = nodeMessage(error);
      log.info('relay_tx_rejected', { code: error.code, message: message.slice(0, 200) });
      return { status: 422, body: { rejected: { code: error.code, message } } };
    }
    log.warn('relay_node_unavailable', { error });
    return { status: 502, body: { error: 'the node is unavailable' } };
  } finally {
    clearTimeout(timer);
  }
}

async function handle(
  req: IncomingMessage,
  options: RelayOptions,
  secretDigest: Buffer
): Promise<Reply> {
  if (req.url !== RELAY_PATH) return { status: 404, body: { error: 'not found' } };
  if (req.method !== 'POST') return { status: 405, body: { error: 'use POST' } };
  if (!authorized(req.headers.authorization, secretDigest)) {
    return { status: 401, body: { error: 'unauthorized' } };
  }
  const maxBytes = RELAY_MAX_TX_HEX_CHARS + BODY_OVERHEAD_BYTES;
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
    return { status: 413, body: { error: 'body too large' } };
  }
  const text = await readBody(req, maxBytes);
  if (text === null) return { status: 413, body: { error: 'body too large' } };
  const parsed = parseRelayBody(text, options.coin);
  if ('error' in parsed) return { status: 400, body: { error: parsed.error } };
  const reply = await sendToNode(parsed.hex, options);
  const txid = reply.body.txid;
  if (typeof txid === 'string') {
    log.info('relay_tx_accepted', { txid });
    try {
      options.onAccepted?.(txid);
    } catch (error) {
      log.warn('relay_on_accepted_failed', { txid, error });
    }
  }
  return reply;
}

/** A request handler for an existing node:http server (answers on RELAY_PATH only). */
export function createRelayHandler(
  options: RelayOptions
): (req: IncomingMessage, res: ServerResponse) => void {
  if (options.secret.length < MIN_SECRET_CHARS || /\s/.test(options.secret)) {
    // DESIGN §7: never serve with an empty or trivial credential.
    throw new RangeError(`relay secret must be at least ${MIN_SECRET_CHARS} characters, no spaces`);
  }
  const secretDigest = digest(options.secret);
  return (req, res) => {
    handle(req, options, secretDigest)
      .catch((error: unknown): Reply => {
        log.error('relay_failed', { error });
        return { status: 500, body: { error: 'relay failure' } };
      })
      .then((reply) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        // A body refused unread is not drained: the connection closes after the reply.
        if (!req.complete) headers.connection = 'close';
        res.writeHead(reply.status, headers);
        res.end(JSON.stringify(reply.body));
      });
  };
}

/** Starts the relay on its own HTTP server. @throws RangeError on a weak secret. */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const server: Server = createServer(createRelayHandler(options));
  server.requestTimeout = 60_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, options.host, () => done());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}${RELAY_PATH}`;
  log.info('relay_listening', { url });
  return {
    url,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
