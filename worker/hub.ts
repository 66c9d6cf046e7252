// Hub Durable Object, one per shard of script hashes: knows which sessions subscribed to what,
// turns each change notice into one wake per affected session, and retries missed wakes.
import { DurableObject } from 'cloudflare:workers';
import { HubStore, type BehindSession } from './hub-store.ts';
import { createLogger, describeError, type Logger } from './log.ts';
import type { HubEnv, HubRpc, ShardRef } from './notify-env.ts';
import { NotifyIndex } from './notify-index.ts';
import {
  shardOf,
  type HubPosition,
  type Notice,
  type Registration,
  type SessionWake,
  type TipNotice,
} from './notify-wire.ts';

// Wakes in flight at once per hub; the rest queue behind them.
const WAKE_CONCURRENCY = 64;
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;
// About 10 minutes of retries at the cap; a session failing that long is gone for good.
const MAX_WAKE_ATTEMPTS = 16;
const RETRIES_PER_ALARM = 256;

/** How one wake went, recorded once the fan-out is over. */
interface WakeOutcome {
  session: string;
  result: 'taken' | 'gone' | 'failed';
  /** The session's retry row before this wake, if it was behind. */
  earlier: BehindSession | undefined;
  /** On failure: it missed the changes after this seq. */
  afterSeq: number;
  all: boolean;
}

/** What one notice batch asks of each affected session. */
interface WakePlan {
  hashxes: Map<string, Set<string>>;
  /** Sessions that must re-check everything (the hub could not name what changed). */
  all: Set<string>;
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const runner = async (): Promise<void> => {
    for (let item = items[next++]; item !== undefined; item = items[next++]) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}

type Statuses = Record<string, string | null>;

// The statuses the notices carry, the newest notice's winning (all are current when sent).
function carriedStatuses(notices: Notice[]): Map<string, string | null> {
  const carried = new Map<string, string | null>();
  for (const notice of notices) {
    notice.hashxes.forEach((hex, i) => {
      if (notice.statuses !== null) carried.set(hex, notice.statuses[i] ?? null);
    });
  }
  return carried;
}

function pick(statuses: Map<string, string | null>, hexes: string[]): Statuses {
  const picked: Statuses = {};
  for (const hex of hexes) picked[hex] = statuses.get(hex) ?? null;
  return picked;
}

function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

function newestTip(notices: Notice[]): TipNotice | null {
  for (let i = notices.length - 1; i >= 0; i--) {
    const notice = notices[i];
    if (notice === undefined || notice.headerHex === null) continue;
    return { seq: notice.seq, height: notice.height, headerHex: notice.headerHex };
  }
  return null;
}

/**
 * The newest tip of `notices` when it differs from the one this hub last announced, else null.
 * Mempool notices carry the unchanged tip: they must not wake every headers subscriber.
 */
export function newTipOf(notices: Notice[], announced: TipNotice | null): TipNotice | null {
  const tip = newestTip(notices);
  return tip === null || tip.headerHex === announced?.headerHex ? null : tip;
}

/** The newest seq whose every part is in `notices` (the last one may be a partial row). */
function completedSeq(notices: Notice[], fallback: number): number {
  let done = fallback;
  for (const notice of notices) if (!notice.more) done = Math.max(done, notice.seq);
  return done;
}

/** A shard of the subscription registry and its fan-out. */
export class Hub extends DurableObject<HubEnv> implements HubRpc {
  readonly #store: HubStore;
  readonly #log: Logger;
  #index: NotifyIndex | null = null;
  // How long the last fan-out's status read took, for the debug line.
  #readMs = 0;
  // When the fan-out in progress (or the last one) was planned; storage has it once it is done.
  #plannedAtMs = 0;

  constructor(ctx: DurableObjectState, env: HubEnv) {
    super(ctx, env);
    this.#store = new HubStore(ctx.storage.sql);
    this.#log = createLogger(env.LOG_LEVEL, { hub: ctx.id.toString().slice(0, 12) });
  }

  async register(change: Registration): Promise<HubPosition> {
    this.#store.apply(change);
    return this.position();
  }

  async position(): Promise<HubPosition> {
    const { seq, tipHash, plannedAtMs } = this.#store.state();
    return { seq, tipHash, plannedAtMs: Math.max(plannedAtMs, this.#plannedAtMs) };
  }

  async deliver(shard: ShardRef, notices: Notice[]): Promise<HubPosition> {
    const startedMs = Date.now();
    const state = this.#store.state();
    let lastSeq = state.seq;
    const first = notices[0];
    const reset = first?.reset === true;
    if (reset) {
      this.#log.info('hub_feed_reset', { from_seq: lastSeq, to_seq: first.seq - 1 });
      lastSeq = first.seq - 1;
      this.#store.resetBehind(lastSeq);
    }
    const fresh = notices.filter((notice) => notice.seq > lastSeq);
    const firstFresh = fresh[0];
    const lastFresh = fresh.at(-1);
    if (firstFresh === undefined || lastFresh === undefined) return this.position();
    // Noted before the lookup: a session registering from now on re-reads what it subscribed.
    // In memory only until the fan-out is done: a storage write here would hold every wake
    // behind the output gate until the write is durable.
    this.#plannedAtMs = startedMs;
    const tip = newTipOf(fresh, state.tip);
    // After a reset every headers subscriber is woken, even for a tip it has: its last
    // announced seq belongs to the old feed and must go (SessionWake.feedReset).
    const plan = this.#plan(fresh, tip !== null || reset);
    // A gap before this batch (the feed was pruned, or the notifier resumed past this hub): read
    // what this shard missed from the index itself. A hub that never had a notice cannot name
    // what its sessions missed since they registered, so they re-check everything once.
    if (firstFresh.seq > lastSeq + 1 && this.#store.hasRegistrations()) {
      await this.#catchUp(plan, shard, lastSeq, firstFresh.seq - 1);
    }
    const fanOutMs = Date.now();
    const failed = await this.#wakeAll(plan, fresh, tip, firstFresh.seq - 1, reset);
    const doneSeq = completedSeq(fresh, lastSeq);
    this.#store.advance(doneSeq, startedMs, lastFresh.more ? null : lastFresh.tipHash, tip);
    if (this.#log.debugEnabled) {
      const woken = plan.hashxes.size + plan.all.size;
      const { commitMs } = lastFresh;
      const lagMs = commitMs === null ? null : startedMs - commitMs;
      const fields = { seq: doneSeq, woken, failed, read_ms: this.#readMs, lag_ms: lagMs };
      const times = { plan_ms: fanOutMs - startedMs, fan_out_ms: Date.now() - fanOutMs };
      this.#log.debug('hub_delivered', { ...fields, ...times, ms: Date.now() - startedMs });
    }
    return this.position();
  }

  #plan(notices: Notice[], newTip: boolean): WakePlan {
    const plan: WakePlan = { hashxes: new Map(), all: new Set() };
    const hexes = [...new Set(notices.flatMap((notice) => notice.hashxes))];
    for (const [session, hashxes] of this.#store.subscribersOf(hexes)) {
      plan.hashxes.set(session, new Set(hashxes));
    }
    if (newTip) {
      for (const session of this.#store.tipSubscribers()) {
        if (!plan.hashxes.has(session)) plan.hashxes.set(session, new Set());
      }
    }
    return plan;
  }

  async #catchUp(plan: WakePlan, shard: ShardRef, afterSeq: number, uptoSeq: number) {
    if (afterSeq === 0) {
      for (const session of this.#store.allSessions()) plan.all.add(session);
      return;
    }
    this.#index ??= NotifyIndex.open(this.env);
    const inShard = (hex: string): boolean => shardOf(hex, shard.count) === shard.index;
    const changed = await this.#index.changedSince(afterSeq, uptoSeq, inShard);
    const { complete } = changed;
    this.#log.info('hub_catch_up', { after_seq: afterSeq, upto_seq: uptoSeq, complete });
    if (!changed.complete) {
      for (const session of this.#store.allSessions()) plan.all.add(session);
      return;
    }
    for (const [session, hashxes] of this.#store.subscribersOf([...changed.hashxes])) {
      const known = plan.hashxes.get(session) ?? new Set<string>();
      for (const hex of hashxes) known.add(hex);
      plan.hashxes.set(session, known);
    }
  }

  // The statuses of every planned script hash: as the notices carry them, else in one read;
  // null (each session reads its own) if the read fails.
  async #statuses(plan: WakePlan, notices: Notice[]): Promise<Map<string, string | null> | null> {
    const hexes = new Set<string>();
    for (const list of plan.hashxes.values()) for (const hex of list) hexes.add(hex);
    if (hexes.size === 0) return new Map();
    const carried = carriedStatuses(notices);
    if ([...hexes].every((hex) => carried.has(hex))) return carried;
    try {
      this.#index ??= NotifyIndex.open(this.env);
      return await this.#index.statuses([...hexes]);
    } catch (error) {
      this.#log.warn('hub_status_read_failed', describeError(error));
      return null;
    }
  }

  // Wakes every planned session; returns how many failed (they are queued for the alarm).
  // TODO(scale): a deployed Worker counts each wake as a subrequest of this invocation; a shard
  // with more affected sessions than the account's subrequest limit needs its fan-out split.
  async #wakeAll(
    plan: WakePlan,
    notices: Notice[],
    tip: TipNotice | null,
    missedAfter: number,
    feedReset: boolean
  ) {
    const seq = notices.at(-1)?.seq ?? missedAfter;
    const sessions = [...new Set([...plan.hashxes.keys(), ...plan.all])];
    const behind = this.#store.behindOf(sessions);
    const readStartedMs = Date.now();
    const statuses = await this.#statuses(plan, notices);
    this.#readMs = Date.now() - readStartedMs;
    const outcomes: WakeOutcome[] = [];
    await forEachLimited(sessions, WAKE_CONCURRENCY, async (session) => {
      const earlier = behind.get(session);
      const hashxes = [...(plan.hashxes.get(session) ?? [])];
      const wake: SessionWake = {
        seq,
        hashxes,
        statuses: statuses === null ? null : pick(statuses, hashxes),
        tip,
        afterSeq: earlier?.afterSeq ?? null,
        all: plan.all.has(session) || earlier?.all === true,
        feedReset: feedReset || earlier?.all === true,
        commitMs: notices.at(-1)?.commitMs ?? null,
      };
      const result = await this.#wake(session, wake);
      const afterSeq = Math.min(earlier?.afterSeq ?? missedAfter, missedAfter);
      outcomes.push({ session, result, earlier, afterSeq, all: wake.all });
    });
    // Recorded only now: a write during the fan-out would hold the wakes still to go behind the
    // output gate until it is durable.
    for (const outcome of outcomes) this.#record(outcome);
    const failed = outcomes.filter((outcome) => outcome.result === 'failed').length;
    if (failed > 0) await this.#armAlarm();
    return failed;
  }

  // What a wake came to: taken, gone (no WebSocket left), or failed (retry later).
  async #wake(session: string, wake: SessionWake): Promise<WakeOutcome['result']> {
    try {
      const stub = this.env.SESSION.get(this.env.SESSION.idFromString(session));
      const result = await stub.notify(wake);
      return 'gone' in result ? 'gone' : 'taken';
    } catch (error) {
      this.#log.warn('hub_wake_failed', { session: session.slice(0, 16), ...describeError(error) });
      return 'failed';
    }
  }

  #record(outcome: WakeOutcome): void {
    const { session, earlier } = outcome;
    if (outcome.result === 'gone') this.#store.forget(session);
    else if (outcome.result === 'failed') {
      this.#retryLater(earlier, session, outcome.afterSeq, outcome.all);
    } else if (earlier !== undefined) this.#store.clearBehind(session);
  }

  #retryLater(earlier: BehindSession | undefined, session: string, afterSeq: number, all: boolean) {
    const attempts = (earlier?.attempts ?? 0) + 1;
    if (attempts > MAX_WAKE_ATTEMPTS) {
      this.#log.error('hub_session_dropped', { session: session.slice(0, 16), attempts });
      this.#store.forget(session);
      return;
    }
    const dueMs = Date.now() + retryDelayMs(attempts);
    this.#store.saveBehind({ session, afterSeq, all, attempts, dueMs });
  }

  async #armAlarm(): Promise<void> {
    const dueMs = this.#store.nextDueMs();
    if (dueMs !== null) await this.ctx.storage.setAlarm(dueMs);
  }

  /** Retries the wakes that failed, each with the changes it missed. */
  override async alarm(): Promise<void> {
    const state = this.#store.state();
    const due = this.#store.dueBehind(Date.now(), RETRIES_PER_ALARM);
    const outcomes: WakeOutcome[] = [];
    await forEachLimited(due, WAKE_CONCURRENCY, async (entry) => {
      const wake: SessionWake = {
        seq: state.seq,
        hashxes: [],
        statuses: null,
        tip: state.tip,
        afterSeq: entry.afterSeq,
        all: entry.all,
        // A reset marks every waiting retry `all` (HubStore.resetBehind).
        feedReset: entry.all,
        commitMs: null,
      };
      const result = await this.#wake(entry.session, wake);
      const { session, afterSeq, all } = entry;
      outcomes.push({ session, result, earlier: entry, afterSeq, all });
    });
    for (const outcome of outcomes) this.#record(outcome);
    await this.#armAlarm();
  }
}
