// The Limiter Durable Object: one per IP group (idFromName of the group's network). It keeps the
// group's GroupLedger in its storage, admits sessions, takes their batched charges, logs the start
// of throttling, and reports its session count to the LimitsRegistry.
import { DurableObject } from 'cloudflare:workers';
import { createLogger, describeError, type Logger } from '../log.ts';
import type { Budget } from './budget.ts';
import { readLimitSettings } from './budget.ts';
import { ConcurrencyGate, type Release } from './concurrency-gate.ts';
import { throttleAt } from './cost-model.ts';
import {
  emptyLedger,
  GroupLedger,
  type GroupSnapshot,
  type LedgerState,
  type OpenVerdict,
  type ThrottleChange,
} from './group-ledger.ts';
import { groupLabel, roundCost } from './limits-log.ts';
import { REGISTRY_NAME, type LimitsRegistry } from './registry.ts';
import type { SlotAnswer } from './session-meter.ts';

/** How often a Limiter with open sessions re-reports its count and expires silent sessions. */
export const CENSUS_REFRESH_MS = 60_000;
/** A session silent this long past SESSION_TIMEOUT is taken for gone (its close was lost). */
export const LEASE_MARGIN_MS = 60_000;
/** A request slot not handed back this long after REQUEST_TIMEOUT is taken back. */
const SLOT_MARGIN_MS = 5000;

/** The bindings a Limiter reads. */
export interface LimiterEnv {
  LIMITS_REGISTRY: DurableObjectNamespace<LimitsRegistry>;
  LOG_LEVEL?: string;
  ANON_LOGS?: unknown;
}

/** Who is asking: every call names the group, the session and the budget in force. */
export interface LimiterCall {
  group: string;
  sessionId: string;
  budget: Budget;
}

/** The group as the admin API shows it. */
export interface GroupView extends GroupSnapshot {
  group: string;
  throttled: boolean;
}

interface Stored {
  group: string;
  budget: Budget;
  ledger: LedgerState;
  /** Orders census reports (they may arrive out of order). */
  seq: number;
}

const STATE_KEY = 'limiter';

/** One IP group's budget keeper. */
export class Limiter extends DurableObject<LimiterEnv> {
  #stored: Stored | null = null;
  #log: Logger | null = null;
  // The request slots of a crowded group (beginRequest), by token.
  #gate: ConcurrencyGate | null = null;
  readonly #slots = new Map<string, Release>();
  readonly #waiting = new Set<AbortController>();
  #nextToken = 0;

  #logger(): Logger {
    this.#log ??= createLogger(this.env.LOG_LEVEL, { component: 'limiter' });
    return this.#log;
  }

  #load(call: Pick<LimiterCall, 'group' | 'budget'>, nowMs: number): Stored {
    if (this.#stored === null) {
      const found: unknown = this.ctx.storage.kv.get(STATE_KEY);
      this.#stored = isStored(found)
        ? found
        : { group: call.group, budget: call.budget, ledger: emptyLedger(nowMs), seq: 0 };
    }
    this.#stored.group = call.group;
    this.#stored.budget = call.budget;
    return this.#stored;
  }

  #save(stored: Stored): void {
    this.ctx.storage.kv.put(STATE_KEY, stored);
  }

  /** Admits a session (counted at once) or says why not. */
  async openSession(call: LimiterCall): Promise<OpenVerdict> {
    const nowMs = Date.now();
    const stored = this.#load(call, nowMs);
    const ledger = new GroupLedger(stored.ledger);
    const before = Object.keys(stored.ledger.sessions).length;
    const verdict = ledger.open(call.sessionId, call.budget, nowMs);
    this.#save(stored);
    if (verdict.snapshot.sessions !== before) this.#report(stored, verdict.snapshot.sessions);
    await this.#arm(ledger, stored.budget, nowMs);
    return verdict;
  }

  /** Adds a session's batched charges; answers with the group's figures. */
  async settle(
    call: LimiterCall & { charge: number; subscriptions: number }
  ): Promise<GroupSnapshot> {
    const nowMs = Date.now();
    const stored = this.#load(call, nowMs);
    const ledger = new GroupLedger(stored.ledger);
    const before = Object.keys(stored.ledger.sessions).length;
    const { snapshot, change } = ledger.settle(
      call.sessionId,
      call.charge,
      call.subscriptions,
      call.budget,
      nowMs
    );
    this.#save(stored);
    this.#logChange(stored.group, change, snapshot);
    this.#fitGate(snapshot, call.budget);
    if (snapshot.sessions !== before) this.#report(stored, snapshot.sessions);
    await this.#arm(ledger, stored.budget, nowMs);
    return snapshot;
  }

  /** Adds the cost of a stateless HTTP request of the group (no session is counted). */
  async charge(call: Omit<LimiterCall, 'sessionId'> & { charge: number }): Promise<GroupSnapshot> {
    const nowMs = Date.now();
    const stored = this.#load(call, nowMs);
    const ledger = new GroupLedger(stored.ledger);
    const { snapshot, change } = ledger.charge(call.charge, call.budget, nowMs);
    this.#save(stored);
    this.#logChange(stored.group, change, snapshot);
    this.#fitGate(snapshot, call.budget);
    await this.#arm(ledger, stored.budget, nowMs);
    return snapshot;
  }

  /**
   * A request slot of a crowded group (worker/limits/session-meter.ts): granted at once while
   * fewer than the throttle's concurrency run, else when one is handed back, in turn; refused
   * (token null) at the hard limit or after REQUEST_TIMEOUT. Slots live in memory only: an object
   * evicted meanwhile starts with none held, which lets more run, never fewer.
   */
  async beginRequest(call: LimiterCall): Promise<SlotAnswer> {
    const figures = this.#figures(call);
    const throttle = throttleAt(figures.cost, call.budget);
    if (throttle.cutOff) return { token: null, snapshot: figures };
    const gate = this.#requestGate(throttle.concurrency);
    // The wait ends at REQUEST_TIMEOUT, or as soon as the group reaches its hard limit.
    const waiting = new AbortController();
    const timer = setTimeout(() => waiting.abort(), call.budget.requestTimeoutMs);
    this.#waiting.add(waiting);
    let release: Release;
    try {
      release = await gate.acquire(waiting.signal);
    } catch {
      return { token: null, snapshot: this.#figures(call) };
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(waiting);
    }
    this.#nextToken += 1;
    const token = String(this.#nextToken);
    // A slot whose session never hands it back (gone mid-request) is taken back after the
    // request's own timeout has passed.
    const holdMs = call.budget.requestTimeoutMs + SLOT_MARGIN_MS;
    const expiry = setTimeout(() => this.#endSlot(token), holdMs);
    this.#slots.set(token, () => {
      clearTimeout(expiry);
      release();
    });
    return { token, snapshot: this.#figures(call) };
  }

  /** Hands a request slot back; the gate narrows or widens with the group's cost now. */
  async endRequest(call: LimiterCall & { token: string }): Promise<void> {
    this.#fitGate(this.#figures(call), call.budget);
    this.#endSlot(call.token);
  }

  // Sets the slots' width to the throttle's concurrency at `figures`; at the hard limit the
  // requests waiting for one are refused at once rather than left to time out.
  #fitGate(figures: GroupSnapshot, budget: Budget): void {
    const throttle = throttleAt(figures.cost, budget);
    if (this.#gate !== null) this.#gate.setTarget(throttle.concurrency);
    if (!throttle.cutOff) return;
    for (const waiting of this.#waiting) waiting.abort();
    this.#waiting.clear();
  }

  #figures(call: LimiterCall): GroupSnapshot {
    const nowMs = Date.now();
    const stored = this.#load(call, nowMs);
    return new GroupLedger(stored.ledger).snapshot(call.budget, nowMs);
  }

  #requestGate(concurrency: number): ConcurrencyGate {
    this.#gate ??= new ConcurrencyGate(concurrency);
    this.#gate.setTarget(concurrency);
    return this.#gate;
  }

  #endSlot(token: string): void {
    const release = this.#slots.get(token);
    this.#slots.delete(token);
    release?.();
  }

  /** A session closed: its last charges join the group's cost, its slot is freed. */
  async closeSession(call: LimiterCall & { charge: number }): Promise<GroupSnapshot> {
    const nowMs = Date.now();
    const stored = this.#load(call, nowMs);
    const ledger = new GroupLedger(stored.ledger);
    const { snapshot, change } = ledger.close(call.sessionId, call.charge, call.budget, nowMs);
    this.#save(stored);
    this.#logChange(stored.group, change, snapshot);
    this.#report(stored, snapshot.sessions);
    await this.#arm(ledger, stored.budget, nowMs);
    return snapshot;
  }

  /** The group's figures for the admin API; null when this object holds nothing. */
  async inspect(): Promise<GroupView | null> {
    const found: unknown = this.#stored ?? this.ctx.storage.kv.get(STATE_KEY);
    if (!isStored(found)) return null;
    this.#stored = found;
    const snapshot = new GroupLedger(found.ledger).snapshot(found.budget, Date.now());
    return { group: found.group, throttled: found.ledger.throttled, ...snapshot };
  }

  /** Expires silent sessions, re-reports the count, and forgets a drained, empty group. */
  override async alarm(): Promise<void> {
    const found: unknown = this.#stored ?? this.ctx.storage.kv.get(STATE_KEY);
    if (!isStored(found)) return;
    const nowMs = Date.now();
    const stored = this.#load(found, nowMs);
    const ledger = new GroupLedger(stored.ledger);
    ledger.expire(stored.budget.sessionTimeoutMs + LEASE_MARGIN_MS, stored.budget, nowMs);
    const { sessions } = ledger.snapshot(stored.budget, nowMs);
    this.#report(stored, sessions);
    if (ledger.isEmpty(stored.budget, nowMs)) {
      this.#stored = null;
      await this.ctx.storage.deleteAll();
      return;
    }
    this.#save(stored);
    await this.#arm(ledger, stored.budget, nowMs);
  }

  // Wakes the object to refresh the census while sessions are open, else once fully drained.
  async #arm(ledger: GroupLedger, budget: Budget, nowMs: number): Promise<void> {
    const { sessions } = ledger.snapshot(budget, nowMs);
    const delayMs = sessions > 0 ? CENSUS_REFRESH_MS : ledger.msUntilDrained(budget, nowMs) + 1000;
    const wanted = nowMs + Math.min(delayMs, CENSUS_REFRESH_MS * 60);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > wanted) await this.ctx.storage.setAlarm(wanted);
  }

  #report(stored: Stored, sessions: number): void {
    stored.seq += 1;
    this.#save(stored);
    const registry = this.env.LIMITS_REGISTRY;
    const stub = registry.get(registry.idFromName(REGISTRY_NAME));
    const reporting = stub.reportGroup(stored.group, sessions, stored.seq).catch((error) => {
      this.#logger().warn('limits_census_report_failed', describeError(error));
    });
    this.ctx.waitUntil(reporting);
  }

  #logChange(group: string, change: ThrottleChange, snapshot: GroupSnapshot): void {
    if (change === null) return;
    const anonLogs = readLimitSettings({ ANON_LOGS: this.env.ANON_LOGS }).anonLogs;
    const fields = {
      group: groupLabel(group, anonLogs),
      cost: roundCost(snapshot.cost),
      sessions: snapshot.sessions,
    };
    if (change === 'throttled') this.#logger().info('limits_group_throttled', fields);
    else this.#logger().info('limits_group_relieved', fields);
  }
}

function isStored(value: unknown): value is Stored {
  if (typeof value !== 'object' || value === null) return false;
  const fields = value as Record<string, unknown>;
  return (
    typeof fields.group === 'string' &&
    typeof fields.budget === 'object' &&
    typeof fields.ledger === 'object' &&
    typeof fields.seq === 'number'
  );
}
