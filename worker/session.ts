// The Session Durable Object: one per WebSocket connection, on the hibernation API.
// An idle wallet then costs nothing while its subscriptions stay in place.
import { DurableObject } from 'cloudflare:workers';
import { handleMessage, type DispatchOptions } from '../core/protocol/dispatch.ts';
import { internalError, PARSE_ERROR, RpcError } from '../core/protocol/errors.ts';
import { encodeError } from '../core/protocol/framing.ts';
import { loadConfig, openIndex, type WorkerConfig } from './config.ts';
import type { Env } from './env.ts';
import type { IndexReader } from './index-reader.ts';
import { createLogger, describeError, type Logger } from './log.ts';
import type { MethodContext } from './methods/context.ts';
import { dispatchOptions } from './rpc-engine.ts';
import {
  newAttachment,
  readAttachment,
  WebSocketSession,
  type SessionAttachment,
} from './session-state.ts';

// Close code after an error that ends the session (e.g. no common protocol version).
const CLOSE_POLICY = 1008;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** A WebSocket Electrum session; its id is the Durable Object id. */
export class Session extends DurableObject<Env> {
  // In-memory mirrors, rebuilt after hibernation from the attachment and env.
  #state: SessionAttachment | null = null;
  #config: WorkerConfig | null = null;
  #index: IndexReader | null = null;
  #log: Logger | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    WebSocketSession.prepareStorage(ctx.storage.sql);
  }

  #logger(sessionId: string): Logger {
    this.#log ??= createLogger(this.env.LOG_LEVEL, { session: sessionId.slice(0, 16) });
    return this.#log;
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('expected a WebSocket upgrade\n', { status: 426 });
    }
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    const state = newAttachment(this.ctx.id.toString(), Date.now());
    server.serializeAttachment(state);
    this.#state = state;
    this.#logger(state.sessionId).info('session_open');
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const state = (this.#state ??= readAttachment(ws));
    const log = this.#logger(state.sessionId);
    const text = decodeMessage(message);
    if (text === null) {
      const error = new RpcError(PARSE_ERROR, 'messages must be encoded in UTF-8');
      this.#send(ws, encodeError(null, error), log);
      return;
    }
    if (log.debugEnabled) log.debug('message', { chars: text.length });
    let options: DispatchOptions<MethodContext>;
    try {
      options = this.#options(ws, state, log);
    } catch (error) {
      // A misconfigured Worker (bad COIN/NET, no LIBSQL_URL): our failure, detailed in the log.
      log.error('session_config_failed', describeError(error));
      this.#send(ws, encodeError(null, internalError(error)), log);
      return;
    }
    const outcome = await handleMessage(text, options);
    if (outcome.reply !== null) this.#send(ws, outcome.reply, log);
    if (outcome.disconnect) {
      log.info('session_closed_by_server', { reason: 'error_reply' });
      ws.close(CLOSE_POLICY, 'closed after an error reply');
    }
  }

  #options(ws: WebSocket, state: SessionAttachment, log: Logger): DispatchOptions<MethodContext> {
    this.#config ??= loadConfig(this.env);
    this.#index ??= openIndex(this.env);
    const session = new WebSocketSession(ws, state, this.ctx.storage.sql);
    const config = this.#config;
    return dispatchOptions({ config, index: this.#index, session, log, stateless: false });
  }

  #send(ws: WebSocket, frame: string, log: Logger): void {
    try {
      ws.send(frame);
    } catch (error) {
      // The client went away while we were answering; the close handler cleans up.
      log.debug('send_failed', describeError(error));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const state = this.#state ?? readAttachment(ws);
    const ageMs = Date.now() - state.openedAtMs;
    // The reason is the client's text: cut short so it cannot flood the log.
    const shortReason = reason.slice(0, 120);
    this.#logger(state.sessionId).info('session_close', { code, reason: shortReason, ageMs });
    // Since compatibility date 2026-04-07 the runtime answers the close frame itself.
    await this.ctx.storage.deleteAll();
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    const state = this.#state ?? readAttachment(ws);
    this.#logger(state.sessionId).warn('session_error', describeError(error));
    await this.ctx.storage.deleteAll();
  }
}

function decodeMessage(message: string | ArrayBuffer): string | null {
  if (typeof message === 'string') return message;
  try {
    return utf8.decode(message);
  } catch {
    return null;
  }
}
