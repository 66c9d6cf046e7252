// POST /rpc: the same JSON-RPC as the WebSocket, stateless, for callers that cannot hold a socket.
import type { Context } from 'hono';
import { handleMessage } from '../core/protocol/dispatch.ts';
import { INVALID_REQUEST, RpcError, withThousands } from '../core/protocol/errors.ts';
import { encodeError } from '../core/protocol/framing.ts';
import { loadConfig, openIndex } from './config.ts';
import type { Env } from './env.ts';
import { meterOf } from './limits/http-meter.ts';
import { limitsConfig } from './limits/limits-config.ts';
import { createLogger } from './log.ts';
import { dispatchOptions } from './rpc-engine.ts';
import { HttpRequestSession } from './session-state.ts';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function tooLarge(maxRecvBytes: number): Response {
  const message = `request too large (over ${withThousands(maxRecvBytes)} bytes)`;
  const reply = encodeError(null, new RpcError(INVALID_REQUEST, message));
  return new Response(reply, { status: 413, headers: JSON_HEADERS });
}

// Reads the body as UTF-8 text and its size, giving up (null) once it passes `maxBytes`, so a
// huge or chunked body without Content-Length is never buffered whole.
async function readBoundedText(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number
): Promise<{ text: string; bytes: number } | null> {
  if (body === null) return { text: '', bytes: 0 };
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let totalBytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { text: text + decoder.decode(), bytes: totalBytes };
    totalBytes += value.byteLength;
    if (totalBytes > maxBytes) {
      await reader.cancel();
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
}

/**
 * Answers one HTTP JSON-RPC request: 200 with the reply, 204 when only notifications came.
 * MAX_RECV and MAX_SEND apply as on a WebSocket session.
 */
export async function handleHttpRpc(c: Context<{ Bindings: Env }>): Promise<Response> {
  const { maxRecvBytes, maxSendBytes } = limitsConfig(c.env).settings;
  if (Number(c.req.header('Content-Length') ?? '0') > maxRecvBytes) return tooLarge(maxRecvBytes);
  const body = await readBoundedText(c.req.raw.body, maxRecvBytes);
  if (body === null) return tooLarge(maxRecvBytes);
  const log = createLogger(c.env.LOG_LEVEL, { transport: 'http' });
  const session = new HttpRequestSession();
  const options = dispatchOptions({
    config: loadConfig(c.env),
    index: openIndex(c.env),
    session,
    log,
    stateless: true,
    order: session,
    indexUrl: c.env.LIBSQL_URL,
  });
  const sized = { ...options, maxRecvBytes, maxSendBytes };
  // Exempt callers have no meter (worker/limits/http-guard.ts).
  const meter = meterOf(c.req.raw);
  // The bytes really read: a chunked body has no Content-Length to charge by.
  if (meter !== undefined) meter.requestBytes = body.bytes;
  const metered = meter === undefined ? sized : meter.options(sized);
  const outcome = await handleMessage(body.text, metered);
  if (outcome.reply === null) return new Response(null, { status: 204 });
  return new Response(outcome.reply, { status: 200, headers: JSON_HEADERS });
}
