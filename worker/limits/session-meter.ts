// A session's side of its group budget: charges are counted locally and settled with the group's
// Limiter in batches, so no request waits on a Limiter round trip (issue 5, docs/LIMITS.md).
// Pure code: time, timers and the Limiter come in through small interfaces.
import { EXCESSIVE_RESOURCE_USAGE, RpcError, SERVER_BUSY } from '../../core/protocol/errors.ts';
import type { Budget } from './budget.ts';
import { ConcurrencyGate, type Release } from './concurrency-gate.ts';
import { decayed, throttleAt, type Throttle } from './cost-model.ts';
import type { GroupSnapshot } from './group-ledger.ts';

/** A settle is sent at least this often while charges are waiting. */
export const SETTLE_INTERVAL_MS = 1000;
/**
 * Below the soft limit a settle also goes out once this share of the hard limit is waiting;
 * above it every charge goes out at once (one settle in flight at a time). LIMITS.md derives
 * the slack from these two numbers.
 */
export const SETTLE_SHARE_OF_HARD = 1 / 200;

/** A group request slot's answer: a token to hand back, or null (refused), and the figures. */
export interface SlotAnswer {
  token: string | null;
  snapshot: GroupSnapshot;
}

/** The group's Limiter as a session sees it. */
export interface GroupPort {
  /** Adds `charge` to the group and returns its figures afterwards. */
  settle(charge: number, subscriptions: number): Promise<GroupSnapshot>;
  /**
   * Waits for one of the group's request slots (a crowded group's sessions take turns through
   * them): a token once granted; null at the hard limit or after REQUEST_TIMEOUT.
   */
  beginRequest(): Promise<SlotAnswer>;
  /** Hands a slot back. */
  endRequest(token: string): Promise<void>;
  /** Adds the cost of requests that were still running when the session closed. */
  chargeClosed(charge: number): Promise<void>;
}

/** Time and timers, real in the Worker and fake in tests. */
export interface MeterClock {
  nowMs(): number;
  sleep(ms: number): Promise<void>;
  /** Runs `callback` after `ms`; the returned function cancels it. */
  setTimer(callback: () => void, ms: number): () => void;
}

/** What the meter reports to its host. */
export interface MeterEvents {
  /** The first refusal at the hard limit (the host logs it and closes the socket). */
  onCutOff(cost: number, snapshot: GroupSnapshot): void;
  /** A settle failed; its charges wait for the next one. */
  onSettleFailed(error: unknown): void;
}

/** The meter's figures that must survive hibernation. */
export interface MeterState {
  snapshot: GroupSnapshot;
  snapshotAtMs: number;
  unsettled: number;
}

export interface MeterOptions {
  budget: Budget;
  port: GroupPort;
  clock: MeterClock;
  events: MeterEvents;
  state: MeterState;
  /** The session's subscription count, sent with each settle (it slows the decay). */
  subscriptions(): number;
}

/** The -101 reply; the session closes once it is sent (aiorpcx wording). */
export function excessiveUsage(): RpcError {
  return new RpcError(EXCESSIVE_RESOURCE_USAGE, 'excessive resource usage', { disconnect: true });
}

/** What a request of a closed session gets instead of running (no one reads it). */
function sessionClosed(): RpcError {
  return new RpcError(SERVER_BUSY, 'session closed');
}

/** The -102 reply for a request that waited and ran past REQUEST_TIMEOUT (aiorpcx wording). */
export function requestTimedOut(): RpcError {
  return new RpcError(SERVER_BUSY, 'server busy - request timed out');
}

/** One session's meter: local charges, batched settles, throttling and the cut-off. */
export class SessionMeter {
  readonly #options: MeterOptions;
  readonly #gate: ConcurrencyGate;
  #snapshot: GroupSnapshot;
  #snapshotAtMs: number;
  #unsettled: number;
  #inflight = 0;
  #settling: Promise<void> | null = null;
  #cancelTimer: (() => void) | null = null;
  #cutOff = false;
  #closed = false;
  // Set after a failed settle: the next try waits SETTLE_INTERVAL_MS instead of looping.
  #backingOff = false;

  constructor(options: MeterOptions) {
    this.#options = options;
    this.#snapshot = options.state.snapshot;
    this.#snapshotAtMs = options.state.snapshotAtMs;
    this.#unsettled = options.state.unsettled;
    this.#gate = new ConcurrencyGate(options.budget.initialConcurrent);
  }

  /** The group's cost as this session sees it now: last snapshot, decayed, plus its own charges. */
  estimate(): number {
    return this.#settledCost() + this.#inflight + this.#unsettled;
  }

  // The group's cost at its last snapshot, decayed to now.
  #settledCost(): number {
    const elapsedMs = this.#options.clock.nowMs() - this.#snapshotAtMs;
    return decayed(this.#snapshot.cost, elapsedMs, this.#snapshot.decayPerSec);
  }

  /**
   * The group's cost if every open session of it (as the last snapshot counted them) had spent
   * since its last settle what this one has: the other sessions' spending is only seen at a
   * settle, and sessions of one group opened together by one client tend to act together. Above
   * the soft limit it makes requests wait for the group's figures; it never throttles by itself.
   */
  #groupGuess(): number {
    const sessions = Math.max(1, this.#snapshot.sessions);
    return this.#settledCost() + (this.#inflight + this.#unsettled) * sessions;
  }

  /**
   * Requests this session may run at once: the throttle's concurrency shared among the group's
   * open sessions (at least one each), so a group's sessions together run about what one
   * session may, as ElectrumX's per-session rule would have one client run.
   */
  concurrency(): number {
    const { concurrency } = this.throttle();
    const sessions = Math.max(1, this.#snapshot.sessions);
    return Math.max(Math.min(1, concurrency), Math.floor(concurrency / sessions));
  }

  /** The throttle at today's estimate. */
  throttle(): Throttle {
    return throttleAt(this.estimate(), this.#options.budget);
  }

  /** The last figures from the group (sessions and subscriptions for log lines). */
  get snapshot(): GroupSnapshot {
    return this.#snapshot;
  }

  /** True once the session has been refused at the hard limit. */
  get cutOff(): boolean {
    return this.#cutOff;
  }

  /** What to persist so a woken session resumes with the same figures. */
  state(): MeterState {
    const unsettled = this.#unsettled + this.#inflight;
    return { snapshot: this.#snapshot, snapshotAtMs: this.#snapshotAtMs, unsettled };
  }

  /**
   * Adds a cost; it reaches the group with the next settle, or at once once the session has
   * closed (requests still running then are charged as they end, not forgotten).
   */
  charge(cost: number): void {
    if (!(cost > 0)) return;
    if (this.#closed) {
      this.#options.port.chargeClosed(cost).catch((error: unknown) => {
        this.#options.events.onSettleFailed(error);
      });
      return;
    }
    this.#unsettled += cost;
    this.#maybeSettle();
  }

  /** True once the session has closed: no request starts any more. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Above the soft limit (by #groupGuess), waits for the group's current figures (settling what
   * is pending), so the other sessions' spending is seen before the hard limit is checked.
   * Below it, returns at once: batching then costs nothing in accuracy that matters. Requests
   * above the soft limit sleep anyway, which hides this round trip.
   */
  async refresh(): Promise<void> {
    if (this.#groupGuess() <= this.#options.budget.softLimit) return;
    if (this.#settling !== null) await this.#settling;
    if (this.#backingOff || this.#closed) return;
    if (this.#settling === null) this.#settleNow();
    await this.#settling;
  }

  /** True (and reported once) when the group is at its hard limit. */
  checkCutOff(): boolean {
    const cost = this.estimate();
    if (cost < this.#options.budget.hardLimit) return false;
    if (!this.#cutOff) {
      this.#cutOff = true;
      this.#options.events.onCutOff(cost, this.#snapshot);
    }
    return true;
  }

  /**
   * Runs one request under the throttle: refused at the hard limit (-101), then a slot of the
   * shrinking gate and the sleep, all within REQUEST_TIMEOUT (-102). A request that times out
   * keeps its slot until its work really ends, so timeouts cannot raise the concurrency.
   */
  async runRequest<T>(work: () => Promise<T> | T): Promise<T> {
    // Nobody would read the answer: the rest of a batch whose socket went away is not run.
    if (this.#closed) throw sessionClosed();
    await this.refresh();
    if (this.checkCutOff()) throw excessiveUsage();
    const { budget, clock } = this.#options;
    const abort = new AbortController();
    const timeoutMs = budget.requestTimeoutMs;
    const cancelTimeout = clock.setTimer(() => abort.abort(requestTimedOut()), timeoutMs);
    let release: Release | null = null;
    try {
      this.#gate.setTarget(this.concurrency());
      release = await this.#gate.acquire(abort.signal);
      if (this.checkCutOff()) throw excessiveUsage();
      const { sleepMs } = this.throttle();
      if (sleepMs > 0) await untilAborted(clock.sleep(sleepMs), abort.signal);
      const endSlot = this.crowded() ? await this.#groupSlot(abort.signal) : null;
      const running = Promise.resolve().then(work);
      const held = release;
      release = null;
      running.then(held, held);
      if (endSlot !== null) running.then(endSlot, endSlot);
      return await untilAborted(running, abort.signal);
    } finally {
      release?.();
      cancelTimeout();
    }
  }

  /**
   * True when the group has more open sessions than requests it may run at once: its sessions
   * then run each request in one of the group's slots, kept by its Limiter, since a share of the
   * concurrency per session would be less than one request.
   */
  crowded(): boolean {
    return this.#snapshot.sessions > Math.max(1, this.throttle().concurrency);
  }

  // Waits for a group slot; returns what hands it back. A Limiter that cannot be reached lets the
  // request run without one (as settles fail open). @throws -101 at the hard limit, -102 when
  // the wait outlasts REQUEST_TIMEOUT.
  async #groupSlot(signal: AbortSignal): Promise<() => void> {
    const { port, events } = this.#options;
    const asked = port.beginRequest();
    let answer: SlotAnswer;
    try {
      answer = await untilAborted(asked, signal);
    } catch (error) {
      // Given up on: a slot granted later still goes back.
      asked.then((late) => this.#endSlot(late.token)).catch(() => undefined);
      if (signal.aborted && error === signal.reason) throw error;
      events.onSettleFailed(error);
      return () => {};
    }
    // Fresh figures; a settle still in flight may be counted twice until it returns, which errs
    // toward refusing.
    this.#snapshot = answer.snapshot;
    this.#snapshotAtMs = this.#options.clock.nowMs();
    const { token } = answer;
    if (token === null) throw this.checkCutOff() ? excessiveUsage() : requestTimedOut();
    return () => this.#endSlot(token);
  }

  #endSlot(token: string | null): void {
    if (token === null) return;
    this.#options.port.endRequest(token).catch((error: unknown) => {
      // The Limiter takes the slot back by itself after REQUEST_TIMEOUT and a margin.
      this.#options.events.onSettleFailed(error);
    });
  }

  /** Stops settling by time and hands back every charge not yet settled (for the close report). */
  async close(): Promise<number> {
    this.#closed = true;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    if (this.#settling !== null) await this.#settling;
    const rest = this.#unsettled;
    this.#unsettled = 0;
    return rest;
  }

  #threshold(): number {
    const { budget } = this.#options;
    return this.estimate() > budget.softLimit ? 0 : budget.hardLimit * SETTLE_SHARE_OF_HARD;
  }

  #maybeSettle(): void {
    if (this.#settling !== null || this.#backingOff || this.#closed || this.#unsettled <= 0) return;
    if (this.#unsettled > this.#threshold()) {
      this.#settleNow();
    } else if (this.#cancelTimer === null) {
      this.#cancelTimer = this.#options.clock.setTimer(() => {
        this.#cancelTimer = null;
        if (this.#settling === null && !this.#closed && this.#unsettled > 0) this.#settleNow();
      }, SETTLE_INTERVAL_MS);
    }
  }

  #settleNow(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    const charge = this.#unsettled;
    this.#unsettled = 0;
    this.#inflight = charge;
    const { port, clock, events } = this.#options;
    this.#settling = port
      .settle(charge, this.#options.subscriptions())
      .then(
        (snapshot) => {
          this.#snapshot = snapshot;
          this.#snapshotAtMs = clock.nowMs();
          this.#inflight = 0;
        },
        (error: unknown) => {
          this.#inflight = 0;
          this.#unsettled += charge;
          this.#backingOff = true;
          events.onSettleFailed(error);
        }
      )
      .finally(() => {
        this.#settling = null;
        if (!this.#backingOff) {
          this.#maybeSettle();
          return;
        }
        clock.setTimer(() => {
          this.#backingOff = false;
          this.#maybeSettle();
        }, SETTLE_INTERVAL_MS);
      });
  }
}

/** Resolves like `work`, or rejects with the signal's reason if that comes first. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      }
    );
  });
}
