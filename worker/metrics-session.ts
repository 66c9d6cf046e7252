// One Session object's figures for the admin API: it counts requests, error replies, throttling,
// the cut-off and notification latency in memory, and reports them with its own state to the
// LimitsRegistry at most every REPORT_INTERVAL_MS (never one round trip per request).
import type { DispatchOptions, Handler } from '../core/protocol/dispatch.ts';
import type { SessionReport } from './admin-sessions-directory.ts';
import type { LimitsEnv } from './limits/limits-env.ts';
import { REGISTRY_NAME } from './limits/registry.ts';
import { describeError, type Logger } from './log.ts';
import { emptyBatch, isEmptyBatch, type MetricsBatch } from './metrics-book.ts';

/** Sessions report at most this often while busy (and at once on open and close). */
export const REPORT_INTERVAL_MS = 2_000;

/** What the stats read from their Session when they report. */
export interface SessionStatsHost {
  ctx: DurableObjectState;
  env: Pick<LimitsEnv, 'LIMITS_REGISTRY'>;
  log: Logger;
  /** The session as the admin API should see it now (closed is set by the stats). */
  describe(): Omit<SessionReport, 'closed'>;
}

// The code of every error object in a reply frame; core/protocol/framing.ts writes `"error":`
// followed by `{"code":` for every error reply, so no JSON parse of large replies is needed.
const ERROR_CODE = /"error":\{"code":(-?\d{1,6})\b/g;

/** The error codes of a reply frame (a batch may hold several). */
export function errorCodesOf(reply: string): string[] {
  if (!reply.includes('"error":{')) return [];
  return [...reply.matchAll(ERROR_CODE)].map((match) => match[1] ?? '');
}

/** A Session's counters and its reports to the registry. */
export class SessionStats {
  readonly #host: SessionStatsHost;
  #batch: MetricsBatch = emptyBatch();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #throttledSeen = false;
  #closed = false;

  constructor(host: SessionStatsHost) {
    this.#host = host;
  }

  /** The dispatch options with every handler counting its method once per request. */
  wrap<C>(options: DispatchOptions<C>): DispatchOptions<C> {
    const counted: Record<string, Handler<C>> = {};
    for (const [name, handler] of Object.entries(options.handlers)) {
      if (handler === undefined) continue;
      counted[name] = (context, args, room) => {
        this.#batch.requests[name] = (this.#batch.requests[name] ?? 0) + 1;
        return handler(context, args, room);
      };
    }
    return { ...options, handlers: counted };
  }

  /** Counts the error replies in a frame sent to the client. */
  countReply(reply: string | null): void {
    if (reply === null) return;
    for (const code of errorCodesOf(reply)) {
      this.#batch.errors[code] = (this.#batch.errors[code] ?? 0) + 1;
    }
  }

  /** Notes whether the session runs throttled now; it counts once per session object. */
  noteThrottled(throttled: boolean): void {
    if (!throttled || this.#throttledSeen) return;
    this.#throttledSeen = true;
    this.#batch.throttled += 1;
  }

  /** The session was cut off at the hard limit. */
  noteCutOff(): void {
    this.#batch.cutOff += 1;
  }

  /** A notification went out `latencyMs` after the indexer committed its change. */
  noteNotifyLatency(latencyMs: number): void {
    if (this.#batch.notifyLatencyMs.length < 1_000) this.#batch.notifyLatencyMs.push(latencyMs);
  }

  /** Reports within REPORT_INTERVAL_MS (one timer for a whole burst of messages). */
  reportSoon(): void {
    if (this.#timer !== null || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#host.ctx.waitUntil(this.report());
    }, REPORT_INTERVAL_MS);
  }

  /** Sends the session's state and the counters gathered since the last report; never throws. */
  async report(closed = false): Promise<void> {
    if (this.#closed) return;
    if (closed) {
      this.#closed = true;
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
    }
    const batch = this.#batch;
    this.#batch = emptyBatch();
    const { env, log } = this.#host;
    try {
      const registry = env.LIMITS_REGISTRY.get(env.LIMITS_REGISTRY.idFromName(REGISTRY_NAME));
      const report: SessionReport = { ...this.#host.describe(), closed };
      await registry.reportSession(report, isEmptyBatch(batch) ? null : batch);
    } catch (error) {
      // Only admin figures are lost; the session itself goes on.
      log.warn('session_report_failed', describeError(error));
    }
  }
}
