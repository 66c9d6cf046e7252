// POST /rpc: the same JSON-RPC as the WebSocket, stateless, for callers that cannot hold a socket.
import type { Context } from 'hono';
import { handleMessage } from '../core/protocol/dispatch.ts';
import { INVALID_REQUEST, RpcError, withThousands } from '../core/protocol/errors.ts';
import { encodeError, MAX_RECV_BYTES } from '../core/protocol/framing.ts';
import { loadConfig, openIndex } from './config.ts';
import type { Env } from './env.ts';
import { meterOf } from './limits/http-meter.ts';
import { createLogger } from './log.ts';
import { dispatchOptions } from './rpc-engine.ts';
import { HttpRequestSession } from './session-state.ts';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function tooLarge(): Response {
  const message = `request too large (over ${withThousands(MAX_RECV_BYTES)} bytes)`;
  const reply = encodeError(null, new RpcError(INVALID_REQUEST, message));
  return new Response(reply, { status: 413, headers: JSON_HEADERS });
}

// Reads the body as UTF-8 text, giving up (null) once it passes MAX_RECV, so a huge or chunked
// body without Content-Length is never buffered whole.
async function readBoundedText(body: ReadableStream<Uint8Array> | null): Promise<string | null> {
  if (body === null) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let totalBytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    totalBytes += value.byteLength;
    if (totalBytes > MAX_RECV_BYTES) {
      await reader.cancel();
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** Answers one HTTP JSON-RPC request: 200 with the reply, 204 when only notifications came. */
export async function handleHttpRpc(c: Context<{ Bindings: Env }>): Promise<Response> {
  if (Number(c.req.header('Content-Length') ?? '0') > MAX_RECV_BYTES) return tooLarge();
  const text = await readBoundedText(c.req.raw.body);
  if (text === null) return tooLarge();
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
  // Exempt callers have no meter (worker/limits/http-guard.ts).
  const meter = meterOf(c.req.raw);
  const outcome = await handleMessage(text, meter === undefined ? options : meter.options(options));
  if (outcome.reply === null) return new Response(null, { status: 204 });
  return new Response(outcome.reply, { status: 200, headers: JSON_HEADERS });
}
