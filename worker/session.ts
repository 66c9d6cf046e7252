// The Session Durable Object: one per WebSocket connection, on the hibernation API.
// An idle wallet then costs nothing while its subscriptions stay in place.
import { DurableObject } from 'cloudflare:workers';
import { handleMessage, type DispatchOptions } from '../core/protocol/dispatch.ts';
import { internalError, PARSE_ERROR, RpcError } from '../core/protocol/errors.ts';
import { encodeError, utf8ByteLength } from '../core/protocol/framing.ts';
import { loadConfig, openIndex, type WorkerConfig } from './config.ts';
import type { IndexReader } from './index-reader.ts';
import { createLogger, describeError, type Logger } from './log.ts';
import { CLOSE_EXCESSIVE, SessionLimits, type SessionLimitsHost } from './limits/session-limits.ts';
import type { LimitsEnv } from './limits/limits-env.ts';
import type { MethodContext } from './methods/context.ts';
import type { SessionEnv } from './notify-env.ts';
import { SessionNotifier } from './notify-session.ts';
import { TrackedSession } from './notify-tracker.ts';
import type { SessionWake, WakeResult } from './notify-wire.ts';
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
export class Session extends DurableObject<SessionEnv & LimitsEnv> {
  // In-memory mirrors, rebuilt after hibernation from the attachment and env.
  #state: SessionAttachment | null = null;
  #config: WorkerConfig | null = null;
  #index: IndexReader | null = null;
  #log: Logger | null = null;
  #notifier: SessionNotifier | null = null;
  #limits: SessionLimits | null = null;

  constructor(ctx: DurableObjectState, env: SessionEnv & LimitsEnv) {
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
    this.#limits = await SessionLimits.start(this.#limitsHost(state.sessionId), request);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  // Cost budget, throttling, idle timeout (worker/limits/); rebuilt from storage after hibernation.
  #limitsHost(sessionId: string): SessionLimitsHost {
    const log = this.#logger(sessionId);
    const subscriptions = () => this.#state?.subscriptionCount ?? 0;
    return { ctx: this.ctx, env: this.env, sessionId, log, subscriptions };
  }

  #limitsOf(sessionId: string): SessionLimits {
    this.#limits ??= SessionLimits.resume(this.#limitsHost(sessionId));
    return this.#limits;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const state = (this.#state ??= readAttachment(ws));
    const log = this.#logger(state.sessionId);
    const limits = this.#limitsOf(state.sessionId);
    const metered = await limits.beginMessage(messageBytes(message));
    if (metered === null) {
      // At the hard limit: -101 and close (once; later messages of the same burst are dropped).
      if (ws.readyState === WebSocket.READY_STATE_OPEN) {
        this.#send(ws, limits.cutOffFrame(typeof message === 'string' ? message : ''), log);
        ws.close(CLOSE_EXCESSIVE, 'excessive resource usage');
      }
      await limits.close();
      return;
    }
    const text = decodeMessage(message);
    if (text === null) {
      const error = new RpcError(PARSE_ERROR, 'messages must be encoded in UTF-8');
      const frame = encodeError(null, error);
      this.#send(ws, frame, log);
      metered.finish(frame);
      return;
    }
    if (log.debugEnabled) log.debug('message', { chars: text.length });
    let options: DispatchOptions<MethodContext>;
    let tracked: TrackedSession;
    try {
      ({ options, tracked } = this.#options(ws, state, log));
    } catch (error) {
      // A misconfigured Worker (bad COIN/NET, no LIBSQL_URL): our failure, detailed in the log.
      log.error('session_config_failed', describeError(error));
      this.#send(ws, encodeError(null, internalError(error)), log);
      metered.finish(null);
      return;
    }
    const outcome = await handleMessage(text, metered.options(options));
    if (outcome.reply !== null) this.#send(ws, outcome.reply, log);
    metered.finish(outcome.reply);
    // Subscriptions reach the hubs after the reply, so a client never waits on them.
    await this.#notifications(log).afterMessage(ws, tracked);
    // Closed once: the other requests of a burst cut off at the hard limit end up here too.
    if (outcome.disconnect && ws.readyState === WebSocket.READY_STATE_OPEN) {
      log.info('session_closed_by_server', { reason: 'error_reply' });
      ws.close(CLOSE_POLICY, 'closed after an error reply');
      await limits.close();
    }
  }

  #options(
    ws: WebSocket,
    state: SessionAttachment,
    log: Logger
  ): { options: DispatchOptions<MethodContext>; tracked: TrackedSession } {
    this.#config ??= loadConfig(this.env);
    this.#index ??= openIndex(this.env);
    const maxSubs = this.#limitsOf(state.sessionId).ticket.budget.maxSubsPerSession;
    const session = new WebSocketSession(ws, state, this.ctx.storage.sql, maxSubs);
    const tracked = new TrackedSession(session, this.#index);
    const config = this.#config;
    const parts = { config, index: tracked.index, session: tracked, log, stateless: false };
    // `order`: the attachment notes requests sent before server.version (1.6 requires it first).
    return { options: dispatchOptions({ ...parts, order: session }), tracked };
  }

  #notifications(log: Logger): SessionNotifier {
    this.#notifier ??= new SessionNotifier(this.ctx, this.env, log);
    return this.#notifier;
  }

  /** Hub RPC (worker/hub.ts): subscribed script hashes may have changed, or the tip moved. */
  async notify(wake: SessionWake): Promise<WakeResult> {
    // A fresh notifier means this object was evicted (hibernation) and woken by this call.
    const restored = this.#notifier === null;
    const sessionId = this.#state?.sessionId ?? this.ctx.id.toString();
    return this.#notifications(this.#logger(sessionId)).wake(wake, restored);
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
    const log = this.#logger(state.sessionId);
    log.info('session_close', { code, reason: shortReason, ageMs });
    await this.#notifications(log).forget();
    await this.#limitsOf(state.sessionId).close();
    // Since compatibility date 2026-04-07 the runtime answers the close frame itself.
    await this.ctx.storage.deleteAll();
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    const state = this.#state ?? readAttachment(ws);
    const log = this.#logger(state.sessionId);
    log.warn('session_error', describeError(error));
    await this.#notifications(log).forget();
    await this.#limitsOf(state.sessionId).close();
    await this.ctx.storage.deleteAll();
  }

  /** The idle timeout (SESSION_TIMEOUT) of worker/limits/session-limits.ts. */
  override async alarm(): Promise<void> {
    const sockets = this.ctx.getWebSockets();
    const first = sockets[0];
    if (first !== undefined) this.#state ??= readAttachment(first);
    const sessionId = this.#state?.sessionId ?? this.ctx.id.toString();
    await this.#limitsOf(sessionId).alarm(sockets);
  }
}

function messageBytes(message: string | ArrayBuffer): number {
  return typeof message === 'string' ? utf8ByteLength(message) : message.byteLength;
}

function decodeMessage(message: string | ArrayBuffer): string | null {
  if (typeof message === 'string') return message;
  try {
    return utf8.decode(message);
  } catch {
    return null;
  }
}
