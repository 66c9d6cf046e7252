// One IP group's account: its decaying cost, its open sessions and their subscriptions. The
// Limiter Durable Object keeps one; sessions without a Limiter keep one in memory. Pure code.
import type { Budget } from './budget.ts';
import { decayed, decayPerSecond, retryAfterSec, secondsUntilBelow } from './cost-model.ts';

/** An open session as the group knows it. */
export interface LedgerSession {
  subscriptions: number;
  /** Last open or settle; a session silent past its lease is taken for gone. */
  seenAtMs: number;
}

/** Everything a ledger persists (plain data: structured-clone and JSON safe). */
/**
 * The most a group's cost can reach, as a multiple of its hard limit: with the default decay
 * (hard limit / 10,000 s) a group cut off at the cap is back under the hard limit within about
 * 2.8 hours, however far its sessions overshot together.
 */
export const MAX_COST_OVER_HARD = 2;

export interface LedgerState {
  /**
   * The group's cost at `costAtMs`. Closed sessions leave their cost in it, so reconnecting
   * starts where the group left off; it decays whether sessions are open or not.
   */
  cost: number;
  costAtMs: number;
  sessions: Record<string, LedgerSession>;
  /** Above the soft limit at the last change (for the one log line per episode). */
  throttled: boolean;
}

/** What a session learns from its group after opening or settling. */
export interface GroupSnapshot {
  cost: number;
  /** Current decay, cost units per second. */
  decayPerSec: number;
  sessions: number;
  subscriptions: number;
}

/** Why the group refused a new session, with the wait a client should observe. */
export type OpenVerdict =
  | { admitted: true; snapshot: GroupSnapshot }
  | {
      admitted: false;
      reason: 'sessions' | 'cost';
      retryAfterSec: number;
      snapshot: GroupSnapshot;
    };

/** A throttling episode starting or ending, reported once per crossing of the soft limit. */
export type ThrottleChange = 'throttled' | 'relieved' | null;

/** A fresh, empty ledger state. */
export function emptyLedger(nowMs: number): LedgerState {
  return { cost: 0, costAtMs: nowMs, sessions: {}, throttled: false };
}

/** A group's account; every method takes the time and the budget in force. */
export class GroupLedger {
  readonly state: LedgerState;

  constructor(state: LedgerState) {
    this.state = state;
  }

  #subscriptions(): number {
    let total = 0;
    for (const session of Object.values(this.state.sessions)) total += session.subscriptions;
    return total;
  }

  #sessionCount(): number {
    return Object.keys(this.state.sessions).length;
  }

  // Decays the cost up to `nowMs` at the rate of the subscriptions held until then.
  #advance(budget: Budget, nowMs: number): void {
    const rate = decayPerSecond(budget, this.#subscriptions());
    this.state.cost = decayed(this.state.cost, nowMs - this.state.costAtMs, rate);
    this.state.costAtMs = Math.max(this.state.costAtMs, nowMs);
  }

  /** The group's figures now. */
  snapshot(budget: Budget, nowMs: number): GroupSnapshot {
    this.#advance(budget, nowMs);
    const subscriptions = this.#subscriptions();
    return {
      cost: this.state.cost,
      decayPerSec: decayPerSecond(budget, subscriptions),
      sessions: this.#sessionCount(),
      subscriptions,
    };
  }

  /** Admits a session unless the group is at its session cap or its hard limit. */
  open(sessionId: string, budget: Budget, nowMs: number): OpenVerdict {
    const before = this.snapshot(budget, nowMs);
    if (before.cost >= budget.hardLimit) {
      const retry = retryAfterSec(before.cost, budget.hardLimit, before.decayPerSec);
      return { admitted: false, reason: 'cost', retryAfterSec: retry, snapshot: before };
    }
    const known = Object.hasOwn(this.state.sessions, sessionId);
    if (!known && before.sessions >= budget.maxSessionsPerGroup) {
      return { admitted: false, reason: 'sessions', retryAfterSec: 1, snapshot: before };
    }
    this.state.sessions[sessionId] = { subscriptions: 0, seenAtMs: nowMs };
    return { admitted: true, snapshot: this.snapshot(budget, nowMs) };
  }

  /**
   * Adds a session's charges since its last settle and records its subscriptions. A session
   * unknown here (its lease ran out while it hibernated) is counted again.
   */
  settle(
    sessionId: string,
    charge: number,
    subscriptions: number,
    budget: Budget,
    nowMs: number
  ): { snapshot: GroupSnapshot; change: ThrottleChange } {
    this.#advance(budget, nowMs);
    this.#add(charge, budget);
    this.state.sessions[sessionId] = { subscriptions: Math.max(0, subscriptions), seenAtMs: nowMs };
    return { snapshot: this.snapshot(budget, nowMs), change: this.#throttleChange(budget) };
  }

  /** Adds the cost of a stateless request (POST /rpc), which holds no session. */
  charge(
    charge: number,
    budget: Budget,
    nowMs: number
  ): { snapshot: GroupSnapshot; change: ThrottleChange } {
    this.#advance(budget, nowMs);
    this.#add(charge, budget);
    return { snapshot: this.snapshot(budget, nowMs), change: this.#throttleChange(budget) };
  }

  /** Adds a closing session's last charges and forgets it; its cost stays with the group. */
  close(
    sessionId: string,
    charge: number,
    budget: Budget,
    nowMs: number
  ): { snapshot: GroupSnapshot; change: ThrottleChange } {
    this.#advance(budget, nowMs);
    this.#add(charge, budget);
    delete this.state.sessions[sessionId];
    return { snapshot: this.snapshot(budget, nowMs), change: this.#throttleChange(budget) };
  }

  // Adds a charge, holding the cost at MAX_COST_OVER_HARD x the hard limit: past the hard limit
  // the group is refused anyway, and the cap bounds how long an overshoot (sessions that spent
  // together before any of them heard the group's figures) keeps a shared network locked out.
  #add(charge: number, budget: Budget): void {
    const cap = budget.hardLimit * MAX_COST_OVER_HARD;
    this.state.cost = Math.min(cap, this.state.cost + Math.max(0, charge));
  }

  /** Forgets sessions not seen for `leaseMs` (closed without telling us); returns their ids. */
  expire(leaseMs: number, budget: Budget, nowMs: number): string[] {
    this.#advance(budget, nowMs);
    const gone = Object.entries(this.state.sessions)
      .filter(([, session]) => nowMs - session.seenAtMs > leaseMs)
      .map(([id]) => id);
    for (const id of gone) delete this.state.sessions[id];
    return gone;
  }

  /** True once nothing is left to remember: no session open and the cost fully decayed. */
  isEmpty(budget: Budget, nowMs: number): boolean {
    const { cost, sessions } = this.snapshot(budget, nowMs);
    return cost === 0 && sessions === 0;
  }

  /** Milliseconds until the cost reaches zero at today's decay (for the clean-up alarm). */
  msUntilDrained(budget: Budget, nowMs: number): number {
    const { cost, decayPerSec } = this.snapshot(budget, nowMs);
    return Math.ceil(secondsUntilBelow(cost, Number.MIN_VALUE, decayPerSec) * 1000);
  }

  #throttleChange(budget: Budget): ThrottleChange {
    const above = this.state.cost > budget.softLimit;
    if (above === this.state.throttled) return null;
    this.state.throttled = above;
    return above ? 'throttled' : 'relieved';
  }
}
