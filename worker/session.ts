// The Session Durable Object: one per WebSocket connection, on the hibernation API.
// An idle wallet then costs nothing while its subscriptions stay in place.
import { DurableObject } from 'cloudflare:workers';
import { handleMessage, type DispatchOptions } from '../core/protocol/dispatch.ts';
import { internalError, PARSE_ERROR, RpcError } from '../core/protocol/errors.ts';
import { encodeError, utf8ByteLength } from '../core/protocol/framing.ts';
import { storedBanner } from './admin-sessions-banner.ts';
import { loadConfig, openIndex, type WorkerConfig } from './config.ts';
import type { IndexReader } from './index-reader.ts';
import { createLogger, describeError, type Logger } from './log.ts';
import { CLOSE_EXCESSIVE, SessionLimits, type SessionLimitsHost } from './limits/session-limits.ts';
import type { LimitsEnv } from './limits/limits-env.ts';
import type { MethodContext } from './methods/context.ts';
import { SessionStats } from './metrics-session.ts';
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
/**
 * A session reports its notification latencies with one wake in this many (the next report
 * carries every sample since). One registry call per wake cost workerd a quarter of its CPU time
 * in `npm run bench:notify --headers` (1,000 sessions woken per block, all calling one object).
 */
const NOTIFY_REPORT_EVERY = 16;
/** Close code when the admin API disconnects a session (application range 4000-4999). */
export const CLOSE_BY_OPERATOR = 4000;
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
  #stats: SessionStats | null = null;
  // Wakes that sent something, offset by the id so sessions woken together report apart.
  #notifiedWakes: number;

  constructor(ctx: DurableObjectState, env: SessionEnv & LimitsEnv) {
    super(ctx, env);
    // A no-op CREATE still counts as a write, and a write holds the frames of the wake that
    // brought an evicted object back behind the output gate until it is durable.
    const found = ctx.storage.sql.exec(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'subscriptions'"
    );
    if (found.toArray().length === 0) WebSocketSession.prepareStorage(ctx.storage.sql);
    this.#notifiedWakes = Number.parseInt(ctx.id.toString().slice(-2), 16) || 0;
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
    this.ctx.waitUntil(this.#statsOf(state.sessionId).report());
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  // Requests, errors and the session's state for the admin API (worker/metrics-session.ts).
  #statsOf(sessionId: string): SessionStats {
    this.#stats ??= new SessionStats({
      ctx: this.ctx,
      env: this.env,
      log: this.#logger(sessionId),
      describe: () => {
        const limits = this.#limitsOf(sessionId);
        const state = this.#state;
        return {
          id: sessionId,
          group: limits.ticket.group,
          label: limits.ticket.label,
          clientName: state?.clientName ?? '',
          protocolVersion: state?.protocolVersion ?? '',
          subscriptions: state?.subscriptionCount ?? 0,
          cost: limits.meter?.estimate() ?? 0,
          openedAtMs: state?.openedAtMs ?? 0,
        };
      },
    });
    return this.#stats;
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
    const stats = this.#statsOf(state.sessionId);
    const metered = await limits.beginMessage(messageBytes(message));
    if (metered === null) {
      // At the hard limit: -101 and close (once; later messages of the same burst are dropped).
      if (ws.readyState === WebSocket.READY_STATE_OPEN) {
        const frame = limits.cutOffFrame(typeof message === 'string' ? message : '');
        this.#send(ws, frame, log);
        ws.close(CLOSE_EXCESSIVE, 'excessive resource usage');
        stats.noteCutOff();
        stats.countReply(frame);
      }
      await limits.close();
      await stats.report(true);
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
      // The admin API's banner (PUT /admin/banner) is looked up only when a request asks for it.
      if (text.includes('server.banner')) options = await this.#withStoredBanner(options);
    } catch (error) {
      // A misconfigured Worker (bad COIN/NET, no LIBSQL_URL): our failure, detailed in the log.
      log.error('session_config_failed', describeError(error));
      this.#send(ws, encodeError(null, internalError(error)), log);
      metered.finish(null);
      return;
    }
    const outcome = await handleMessage(text, metered.options(stats.wrap(options)));
    if (outcome.reply !== null) this.#send(ws, outcome.reply, log);
    metered.finish(outcome.reply);
    stats.countReply(outcome.reply);
    stats.noteThrottled((limits.meter?.throttle().sleepMs ?? 0) > 0);
    stats.reportSoon();
    // Subscriptions reach the hubs after the reply, so a client never waits on them.
    await this.#notifications(log).afterMessage(ws, tracked);
    // Closed once: the other requests of a burst cut off at the hard limit end up here too.
    if (outcome.disconnect && ws.readyState === WebSocket.READY_STATE_OPEN) {
      log.info('session_closed_by_server', { reason: 'error_reply' });
      ws.close(CLOSE_POLICY, 'closed after an error reply');
      await limits.close();
      await stats.report(true);
    }
  }

  async #withStoredBanner(
    options: DispatchOptions<MethodContext>
  ): Promise<DispatchOptions<MethodContext>> {
    let banner: string | null;
    try {
      banner = await storedBanner(this.env);
    } catch (error) {
      // The registry is unreachable: the BANNER var's text still answers.
      this.#log?.warn('banner_lookup_failed', describeError(error));
      return options;
    }
    if (banner === null) return options;
    const { context } = options;
    const server = { ...context.server, banner };
    return { ...options, context: { ...context, server } };
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
    const parts = {
      config,
      index: tracked.index,
      session: tracked,
      log,
      stateless: false,
      indexUrl: this.env.LIBSQL_URL,
    };
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
    const result = await this.#notifications(this.#logger(sessionId)).wake(wake, restored);
    this.#noteLatency(sessionId, wake, result);
    return result;
  }

  // Latency from the indexer's commit (the notice's commit_ms) to the send, for /admin/metrics;
  // only wakes that sent something count.
  #noteLatency(sessionId: string, wake: SessionWake, result: WakeResult): void {
    const { commitMs } = wake;
    if (commitMs === null || !('sent' in result) || result.sent === 0) return;
    const stats = this.#statsOf(sessionId);
    stats.noteNotifyLatency(Date.now() - commitMs);
    this.#notifiedWakes += 1;
    if (this.#notifiedWakes % NOTIFY_REPORT_EVERY === 0) stats.reportSoon();
  }

  /** Admin API: closes this session's socket; false when there was none open. */
  async disconnect(reason: string): Promise<boolean> {
    const sockets = this.ctx.getWebSockets();
    const first = sockets[0];
    if (first === undefined) return false;
    const state = (this.#state ??= readAttachment(first));
    const log = this.#logger(state.sessionId);
    log.info('session_closed_by_server', { reason: 'admin' });
    for (const ws of sockets) ws.close(CLOSE_BY_OPERATOR, reason.slice(0, 120));
    await this.#notifications(log).forget();
    await this.#limitsOf(state.sessionId).close();
    await this.#statsOf(state.sessionId).report(true);
    await this.ctx.storage.deleteAll();
    return true;
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
    // Answer the close frame at once: the runtime's automatic reply (compatibility date
    // 2026-04-07) did not reach clients under wrangler dev, which then waited ~10 s for a 1006.
    answerClose(ws, code, shortReason);
    await this.#notifications(log).forget();
    await this.#limitsOf(state.sessionId).close();
    await this.#statsOf(state.sessionId).report(true);
    await this.ctx.storage.deleteAll();
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    const state = this.#state ?? readAttachment(ws);
    const log = this.#logger(state.sessionId);
    log.warn('session_error', describeError(error));
    await this.#notifications(log).forget();
    await this.#limitsOf(state.sessionId).close();
    await this.#statsOf(state.sessionId).report(true);
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

/** Echoes a client's close; codes a server may not send (1005, 1006, 1015) become 1000. */
function answerClose(ws: WebSocket, code: number, reason: string): void {
  const reserved = code === 1005 || code === 1006 || code === 1015;
  const sendable = !reserved && ((code >= 1000 && code <= 1014) || (code >= 3000 && code <= 4999));
  try {
    ws.close(sendable ? code : 1000, reason);
  } catch {
    // Already closed by the runtime: nothing left to answer.
  }
}
