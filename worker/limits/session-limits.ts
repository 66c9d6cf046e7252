// The limits inside one Session object: its meter and Limiter port, the message and request
// hooks the Session calls, the idle timeout (an alarm), and the report when the session ends.
import type { DispatchOptions, Handler } from '../../core/protocol/dispatch.ts';
import type { RpcError } from '../../core/protocol/errors.ts';
import {
  encodeBatch,
  encodeError,
  idOfItem,
  parseMessage,
  utf8ByteLength,
  type RpcId,
} from '../../core/protocol/framing.ts';
import type { MethodSpec } from '../../core/protocol/methods.ts';
import { describeError, type Logger } from '../log.ts';
import type { Budget, LimitSettings } from './budget.ts';
import { bandwidthCost, ERROR_REPLY_COST, errorRepliesCost } from './cost-model.ts';
import { emptyLedger, GroupLedger, type GroupSnapshot } from './group-ledger.ts';
import { limitsConfig } from './limits-config.ts';
import type { LimitsEnv } from './limits-env.ts';
import { roundCost } from './limits-log.ts';
import { requestCost } from './method-cost.ts';
import {
  excessiveUsage,
  SETTLE_INTERVAL_MS,
  SessionMeter,
  type GroupPort,
  type MeterClock,
  type MeterState,
  type SlotAnswer,
} from './session-meter.ts';
import { isSessionTicket, readTicket, type SessionTicket } from './session-ticket.ts';

const TICKET_KEY = 'limits:ticket';
// Follow-up writes of a meter whose charges have not settled yet (one per SETTLE_INTERVAL_MS).
const MAX_UNSETTLED_WRITES = 5;
const METER_KEY = 'limits:meter';
/** WebSocket close code after the cut-off (policy violation, as for other error closes). */
export const CLOSE_EXCESSIVE = 1008;
/** WebSocket close code for an idle session (normal closure). */
export const CLOSE_IDLE = 1000;

interface StoredMeter extends MeterState {
  lastActivityMs: number;
}

const DO_CLOCK: MeterClock = {
  nowMs: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  setTimer: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};

// A group kept in memory, for a session that reached us without a ticket (it should not happen:
// the Worker always sends one). It still meters itself rather than run unlimited.
class LocalGroup implements GroupPort {
  readonly #ledger = new GroupLedger(emptyLedger(Date.now()));
  readonly #budget: Budget;
  readonly #sessionId: string;

  constructor(budget: Budget, sessionId: string) {
    this.#budget = budget;
    this.#sessionId = sessionId;
  }

  async settle(charge: number, subscriptions: number): Promise<GroupSnapshot> {
    return this.#ledger.settle(this.#sessionId, charge, subscriptions, this.#budget, Date.now())
      .snapshot;
  }

  // A group of one session is never crowded; a slot is there for the asking.
  async beginRequest(): Promise<SlotAnswer> {
    return { token: 'local', snapshot: this.#ledger.snapshot(this.#budget, Date.now()) };
  }

  async endRequest(): Promise<void> {}

  async chargeClosed(charge: number): Promise<void> {
    this.#ledger.charge(charge, this.#budget, Date.now());
  }
}

/** What a Session object hands its limits. */
export interface SessionLimitsHost {
  ctx: DurableObjectState;
  env: LimitsEnv;
  sessionId: string;
  log: Logger;
  /** The session's script-hash subscriptions now (they slow the decay). */
  subscriptions(): number;
}

// The limits of each Session object in memory, so that replies and notifications (which may
// come on a wake, before the object ran any message since hibernation) share one meter.
const LIVE = new WeakMap<DurableObjectState, SessionLimits>();

/**
 * One session's limits. Exempt sessions have no meter but keep the idle timeout and caps.
 * Every frame the session sends is charged as bytes out: replies (endMessage) and the
 * notifications the hubs wake it for (chargeNotification), as ElectrumX charges every message
 * it sends a session (DESIGN §6).
 */
export class SessionLimits {
  readonly ticket: SessionTicket;
  readonly settings: LimitSettings;
  readonly #host: SessionLimitsHost;
  readonly #meter: SessionMeter | null;
  #lastActivityMs: number;
  #persistedAtMs: number;
  #persistTimer: ReturnType<typeof setTimeout> | null = null;
  // Writes in a row that found charges still unsettled (see #persistSoon).
  #unsettledWrites = 0;
  #inFlight = 0;
  #closing: Promise<void> | null = null;

  private constructor(host: SessionLimitsHost, ticket: SessionTicket, stored: StoredMeter | null) {
    this.#host = host;
    this.ticket = ticket;
    this.settings = limitsConfig(host.env).settings;
    const nowMs = Date.now();
    this.#lastActivityMs = stored?.lastActivityMs ?? nowMs;
    this.#persistedAtMs = nowMs;
    const state = stored ?? { snapshot: ticket.snapshot, snapshotAtMs: nowMs, unsettled: 0 };
    this.#meter = ticket.exempt ? null : this.#newMeter(state);
    LIVE.set(host.ctx, this);
  }

  /** Limits of a session being opened; `request` carries the Worker's ticket. */
  static async start(host: SessionLimitsHost, request: Request): Promise<SessionLimits> {
    let ticket = readTicket(request.headers);
    if (ticket === null) {
      host.log.error('limits_ticket_missing', { session: host.sessionId.slice(0, 16) });
      ticket = localTicket(host.env);
    }
    const nowMs = Date.now();
    const first: StoredMeter = {
      snapshot: ticket.snapshot,
      snapshotAtMs: nowMs,
      unsettled: 0,
      lastActivityMs: nowMs,
    };
    host.ctx.storage.kv.put(TICKET_KEY, ticket);
    host.ctx.storage.kv.put(METER_KEY, first);
    await host.ctx.storage.setAlarm(nowMs + ticket.budget.sessionTimeoutMs);
    return new SessionLimits(host, ticket, first);
  }

  /**
   * Limits of a session woken from hibernation, from what `start` and later messages stored; the
   * object's limits already in memory when a notification woke them first.
   */
  static resume(host: SessionLimitsHost): SessionLimits {
    const live = LIVE.get(host.ctx);
    if (live !== undefined) return live;
    const found: unknown = host.ctx.storage.kv.get(TICKET_KEY);
    const ticket = isSessionTicket(found) ? found : localTicket(host.env);
    const stored: unknown = host.ctx.storage.kv.get(METER_KEY);
    return new SessionLimits(host, ticket, isStoredMeter(stored) ? stored : null);
  }

  #newMeter(state: MeterState): SessionMeter {
    const { env, sessionId, log } = this.#host;
    const { group, budget, label } = this.ticket;
    const limiter = (name: string) => env.LIMITER.get(env.LIMITER.idFromName(name));
    const port: GroupPort =
      group === null
        ? new LocalGroup(budget, sessionId)
        : {
            settle: (charge, subscriptions) => {
              return limiter(group).settle({ group, sessionId, budget, charge, subscriptions });
            },
            beginRequest: () => limiter(group).beginRequest({ group, sessionId, budget }),
            endRequest: async (token) => {
              await limiter(group).endRequest({ group, sessionId, budget, token });
            },
            chargeClosed: async (charge) => {
              await limiter(group).charge({ group, budget, charge });
            },
          };
    return new SessionMeter({
      budget,
      port,
      clock: DO_CLOCK,
      state,
      subscriptions: () => this.#host.subscriptions(),
      events: {
        onCutOff: (cost, snapshot) => {
          const fields = { group: label, cost: roundCost(cost), sessions: snapshot.sessions };
          log.warn('limits_session_cut_off', fields);
        },
        onSettleFailed: (error) => log.warn('limits_settle_failed', describeError(error)),
      },
    });
  }

  /** The meter, or null for an exempt session. */
  get meter(): SessionMeter | null {
    return this.#meter;
  }

  /**
   * Starts one incoming message: charges its bytes and returns its meter, or null when the
   * group is at its hard limit (the caller sends cutOffFrame, if still open, and closes).
   */
  async beginMessage(bytesIn: number): Promise<MessageMeter | null> {
    this.#lastActivityMs = Date.now();
    const meter = this.#meter;
    if (meter !== null) {
      meter.charge(bandwidthCost(bytesIn, this.ticket.budget));
      await meter.refresh();
      if (meter.checkCutOff()) return null;
    }
    this.#inFlight += 1;
    return new MessageMeter(this, meter);
  }

  /** Called by MessageMeter.finish once the message is answered. */
  endMessage(reply: string | null, errorsCharged: number): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    this.#lastActivityMs = Date.now();
    this.#persistSoon();
    const meter = this.#meter;
    // A reply to a closed session is never sent; its requests' work was charged as it ended.
    if (meter === null || reply === null || meter.closed) return;
    // Errors thrown by handlers were charged as they happened; the rest are charged here.
    const errorsCost = Math.max(0, errorRepliesCost(reply) - errorsCharged * ERROR_REPLY_COST);
    meter.charge(bandwidthCost(utf8ByteLength(reply), this.ticket.budget) + errorsCost);
  }

  /** Charges a frame sent outside any reply (a notification) as bytes out, as replies are. */
  chargeSent(frame: string): void {
    const meter = this.#meter;
    if (meter === null || this.#closing !== null) return;
    meter.charge(bandwidthCost(utf8ByteLength(frame), this.ticket.budget));
    // Not activity (only the client's messages are), but the charge must survive hibernation.
    this.#persistSoon();
  }

  /** The -101 reply to a message refused at the hard limit, under the request's id(s). */
  cutOffFrame(text: string): string {
    const ids = requestIds(text, this.settings.maxRecvBytes);
    const error = excessiveUsage();
    if (!Array.isArray(ids)) return encodeError(ids, error);
    return encodeBatch(ids.map((id) => encodeError(id, error)));
  }

  /** Reports the session's end and last charges to its Limiter once; later calls wait for it. */
  close(): Promise<void> {
    this.#closing ??= this.#reportClose();
    return this.#closing;
  }

  async #reportClose(): Promise<void> {
    const { ctx, env, sessionId, log } = this.#host;
    if (this.#persistTimer !== null) clearTimeout(this.#persistTimer);
    this.#persistTimer = null;
    await ctx.storage.deleteAlarm();
    const meter = this.#meter;
    const group = this.ticket.group;
    if (meter === null) return;
    const charge = await meter.close();
    if (group === null) return;
    try {
      const stub = env.LIMITER.get(env.LIMITER.idFromName(group));
      await stub.closeSession({ group, sessionId, budget: this.ticket.budget, charge });
    } catch (error) {
      // The Limiter drops the session when its lease runs out; only the charge is lost.
      log.warn('limits_close_report_failed', describeError(error));
    }
  }

  /**
   * The alarm: closes the socket of a session idle for SESSION_TIMEOUT, else re-arms for the
   * moment it would become so. True when it closed the session.
   */
  async alarm(sockets: readonly WebSocket[]): Promise<boolean> {
    const timeoutMs = this.ticket.budget.sessionTimeoutMs;
    const nowMs = Date.now();
    const idleMs = nowMs - this.#lastActivityMs;
    // A message still being answered (a long batch) is activity, however long ago it came.
    if ((idleMs < timeoutMs || this.#inFlight > 0) && sockets.length > 0) {
      const nextMs = this.#inFlight > 0 ? nowMs + timeoutMs : this.#lastActivityMs + timeoutMs;
      await this.#host.ctx.storage.setAlarm(nextMs);
      return false;
    }
    const idleSec = Math.round(idleMs / 1000);
    if (sockets.length > 0) this.#host.log.info('session_idle_closed', { idleSec });
    for (const ws of sockets) ws.close(CLOSE_IDLE, `idle for ${idleSec} s`);
    await this.close();
    return sockets.length > 0;
  }

  // Writes the meter and the last activity at most once per SETTLE_INTERVAL_MS, the last change
  // of a burst included, so a session woken from hibernation resumes from them. A write that
  // still holds unsettled charges is followed by another once they have had time to settle:
  // a woken session settles what it finds stored, so a stale figure would be charged twice.
  #persistSoon(): void {
    if (this.#persistTimer !== null || this.#closing !== null) return;
    const waitMs = Math.max(0, this.#persistedAtMs + SETTLE_INTERVAL_MS - Date.now());
    this.#persistTimer = setTimeout(() => {
      this.#persistTimer = null;
      this.#persistNow();
      const unsettled = this.#meter?.state().unsettled ?? 0;
      // Bounded: while the Limiter cannot be reached, a few more writes, then the next charge's.
      if (unsettled > 0 && this.#unsettledWrites < MAX_UNSETTLED_WRITES) {
        this.#unsettledWrites += 1;
        this.#persistSoon();
      } else if (unsettled === 0) {
        this.#unsettledWrites = 0;
      }
    }, waitMs);
  }

  #persistNow(): void {
    const nowMs = Date.now();
    this.#persistedAtMs = nowMs;
    const meterState = this.#meter?.state() ?? {
      snapshot: this.ticket.snapshot,
      snapshotAtMs: nowMs,
      unsettled: 0,
    };
    const stored: StoredMeter = { ...meterState, lastActivityMs: this.#lastActivityMs };
    // Unconfirmed: replies need not wait for this write; losing it loses under a second of data.
    this.#host.ctx.storage.put(METER_KEY, stored, { allowUnconfirmed: true }).catch((error) => {
      this.#host.log.warn('limits_persist_failed', describeError(error));
    });
  }
}

function isLimitsEnv(env: unknown): env is LimitsEnv {
  return typeof env === 'object' && env !== null && 'LIMITER' in env && 'LIMITS_REGISTRY' in env;
}

// The session's subscription count as its attachment keeps it (worker/session-state.ts).
function attachedSubscriptions(ctx: DurableObjectState): number {
  const attachment: unknown = ctx.getWebSockets()[0]?.deserializeAttachment();
  if (typeof attachment !== 'object' || attachment === null) return 0;
  const count = (attachment as Record<string, unknown>).subscriptionCount;
  return typeof count === 'number' ? count : 0;
}

/**
 * Charges a notification frame the session object behind `ctx` pushed to its client
 * (worker/notify-session.ts), as bytes out. A session woken by a hub gets its limits back from
 * storage first, so a client that only listens still pays for what it receives. Never throws:
 * a failure is logged and the frame goes uncharged.
 */
export function chargeNotification(
  ctx: DurableObjectState,
  env: unknown,
  log: Logger,
  frame: string
): void {
  try {
    let limits = LIVE.get(ctx);
    if (limits === undefined) {
      if (!isLimitsEnv(env)) throw new Error('the Session env has no LIMITER binding');
      const sessionId = ctx.id.toString();
      const subscriptions = () => attachedSubscriptions(ctx);
      limits = SessionLimits.resume({ ctx, env, sessionId, log, subscriptions });
    }
    limits.chargeSent(frame);
  } catch (error) {
    log.warn('limits_notification_charge_failed', describeError(error));
  }
}

// A session without a ticket is metered alone under the public budget.
function localTicket(env: LimitsEnv): SessionTicket {
  const { budget } = limitsConfig(env);
  const snapshot = { cost: 0, decayPerSec: 0, sessions: 1, subscriptions: 0 };
  return { exempt: false, group: null, label: 'local', budget, snapshot };
}

function isStoredMeter(value: unknown): value is StoredMeter {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.lastActivityMs === 'number' &&
    typeof record.snapshotAtMs === 'number' &&
    typeof record.unsettled === 'number' &&
    typeof record.snapshot === 'object'
  );
}

/**
 * One message's accounting: its handlers run metered (throttle, request cost, and the 100 of an
 * error charged at once, so a batch of failing requests reaches the hard limit mid-batch).
 */
export class MessageMeter {
  readonly #limits: SessionLimits;
  readonly #meter: SessionMeter | null;
  #errorsCharged = 0;
  #finished = false;

  constructor(limits: SessionLimits, meter: SessionMeter | null) {
    this.#limits = limits;
    this.#meter = meter;
  }

  /** The dispatch options with the session's size limits and, unless exempt, metered handlers. */
  options<C>(options: DispatchOptions<C>): DispatchOptions<C> {
    const { maxRecvBytes, maxSendBytes } = this.#limits.settings;
    const sized = { ...options, maxRecvBytes, maxSendBytes };
    const meter = this.#meter;
    if (meter === null) return sized;
    const handlers = this.#metered(options.handlers, options.methods, meter);
    // Errors no handler threw (unknown methods, bad arguments, invalid items) are charged as
    // they happen too: a batch of them reaches the hard limit mid-batch, and the rest get -101.
    const onDispatchError = (error: RpcError): RpcError => {
      if (meter.closed) return error;
      if (meter.checkCutOff()) return excessiveUsage();
      this.#errorsCharged += 1;
      meter.charge(ERROR_REPLY_COST);
      return error;
    };
    return { ...sized, handlers, onDispatchError };
  }

  /** Charges the reply frame (its bytes, errors not charged yet) and ends the message, once. */
  finish(reply: string | null): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#limits.endMessage(reply, this.#errorsCharged);
  }

  #metered<C>(
    handlers: DispatchOptions<C>['handlers'],
    methods: ReadonlyMap<string, MethodSpec>,
    meter: SessionMeter
  ): Record<string, Handler<C>> {
    const metered: Record<string, Handler<C>> = {};
    for (const [name, handler] of Object.entries(handlers)) {
      if (handler === undefined) continue;
      const baseCost = methods.get(name)?.cost ?? 1;
      metered[name] = (context, args, room) =>
        meter.runRequest(async () => {
          let result: unknown;
          try {
            result = await handler(context, args, room);
          } catch (error) {
            // A handler's own failure (the -101 and -102 of runRequest never reach here).
            this.#errorsCharged += 1;
            meter.charge(baseCost + ERROR_REPLY_COST);
            throw error;
          }
          meter.charge(requestCost(name, baseCost, args, result));
          return result;
        });
    }
    return metered;
  }
}

// The id of a single request, or the ids of a batch (as a reply echoes them); null when the
// text is not JSON or too big.
function requestIds(text: string, maxRecvBytes: number): RpcId | RpcId[] {
  const parsed = parseMessage(text, maxRecvBytes);
  if (parsed.kind === 'invalid') return null;
  return parsed.kind === 'single' ? idOfItem(parsed.item) : parsed.items.map(idOfItem);
}
