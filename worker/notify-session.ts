// The session half of push notifications: registers subscriptions with the hubs, and on a hub's
// wake re-reads the cached statuses and sends only what changed since the client last heard.
import { encodeNotification } from '../core/protocol/framing.ts';
import { chargeNotification } from './limits/session-limits.ts';
import { describeError, type Logger } from './log.ts';
import type { SessionEnv } from './notify-env.ts';
import { NotifyIndex } from './notify-index.ts';
import { HEADERS_KEY, HubRegistrar } from './notify-registrar.ts';
import type { TipTold, TrackedSession } from './notify-tracker.ts';
import {
  parseHubShards,
  type SessionWake,
  type TipNotice,
  type WakeResult,
} from './notify-wire.ts';
import { readAttachment } from './session-state.ts';

const SCRIPTHASH_METHOD = 'blockchain.scripthash.subscribe';
const HEADERS_METHOD = 'blockchain.headers.subscribe';

// The subscriptions table is session-state.ts's (script_hash = display hex, sent_as, status);
// the last tip announced is kept beside it.
const TIP_TABLE =
  'CREATE TABLE IF NOT EXISTS notify_tip (id INTEGER PRIMARY KEY CHECK (id = 0), ' +
  'seq INTEGER NOT NULL, header_hex TEXT NOT NULL)';

let reportedShardProblem = false;

function toMap(statuses: Record<string, string | null>): Map<string, string | null> {
  return new Map(Object.entries(statuses));
}

/** The last tip announced to the client: the seq that brought it, and its header. */
type Announced = Pick<TipNotice, 'seq' | 'headerHex'>;

interface SubscriptionRow {
  sentAs: string;
  status: string | null;
}

/**
 * Frames for the client and the storage writes recording them. The frames go out now, the writes
 * in a later turn: frames (and the reply to the hub) leaving while a write of the same event is
 * unconfirmed wait for it to be durable (the output gate), which put the disk's latency into
 * every notification (measured here: ~0.4-0.9 s of 1.4 s under load). Should the object be
 * evicted in between, the next wake repeats the notification: at least once, never lost.
 */
class Outbox {
  readonly #frames: string[] = [];
  readonly #writes: (() => void)[] = [];
  /** A tip recorded here but not yet written: it counts as the last announced one. */
  tip: Announced | null = null;

  add(frame: string | null, write: () => void): void {
    if (frame !== null) this.#frames.push(frame);
    this.#writes.push(write);
  }

  /** Sends every frame; `written` settles once the writes ran in a later turn. */
  flush(send: (frame: string) => void): { sent: number; written: Promise<void> } {
    for (const frame of this.#frames) send(frame);
    const writes = this.#writes;
    if (writes.length === 0) return { sent: this.#frames.length, written: Promise.resolve() };
    const written = new Promise<void>((done) => {
      setTimeout(() => {
        for (const write of writes) write();
        done();
      }, 0);
    });
    return { sent: this.#frames.length, written };
  }
}

/** Creates a table unless it exists; a no-op CREATE would still count as a write. */
function ensureTable(sql: SqlStorage, name: string, ddl: string): void {
  const found = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name);
  if (found.toArray().length === 0) sql.exec(ddl);
}

/** Notification work of one Session object; lives as long as the object stays in memory. */
export class SessionNotifier {
  readonly #ctx: DurableObjectState;
  readonly #env: SessionEnv;
  readonly #log: Logger;
  readonly #registrar: HubRegistrar;
  #index: NotifyIndex | null = null;
  // The last tip announced by this instance: wakes from several hubs can run before the
  // deferred write of the previous announcement lands, and must not announce it again.
  #announced: Announced | null = null;
  // Status checks run one at a time, so a slow read can never overwrite a newer one's result.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: SessionEnv, log: Logger) {
    this.#ctx = ctx;
    this.#env = env;
    this.#log = log;
    const { shards, problem } = parseHubShards(env.HUB_SHARDS);
    if (problem !== null && !reportedShardProblem) {
      reportedShardProblem = true;
      log.warn('bad_hub_shards', { problem, using: shards });
    }
    this.#registrar = new HubRegistrar(ctx, env, log, shards);
    ensureTable(ctx.storage.sql, 'notify_tip', TIP_TABLE);
  }

  get #closed(): boolean {
    return this.#registrar.closed;
  }

  // Runs `work` after every earlier job and its deferred writes (Outbox); resolves with its value
  // as soon as it returns, while the next job waits for its writes too.
  #serial<T>(work: () => Promise<{ value: T; written: Promise<void> }>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.then((done) => done.written).catch(() => undefined);
    return run.then((done) => done.value);
  }

  #openIndex(): NotifyIndex {
    this.#index ??= NotifyIndex.open(this.#env);
    return this.#index;
  }

  /**
   * After a message is answered: tells the hubs what it subscribed or dropped, then re-reads
   * what the reply said if a notice may have passed the subscription by meanwhile.
   */
  async afterMessage(ws: WebSocket, tracked: TrackedSession): Promise<void> {
    if (!tracked.hasWork()) return;
    await this.#serial(async () => {
      if (this.#closed) return { value: undefined, written: Promise.resolve() };
      for (const [hex, op] of tracked.changes) this.#registrar.owe(hex, op, tracked.startedMs);
      const told = tracked.headersTold;
      if (told !== undefined) {
        this.#registrar.owe(HEADERS_KEY, 'add', tracked.startedMs);
        if (told !== null) this.#noteTold(told);
      }
      const out = new Outbox();
      await this.#settleOwed(told ?? null, out);
      const { written } = out.flush((frame) => this.#send(ws, frame));
      return { value: undefined, written };
    });
  }

  // Pays owed registrations and re-reads what a notice may have passed by.
  async #settleOwed(told: TipTold | null, out: Outbox): Promise<void> {
    const passed = await this.#registrar.pay();
    if (passed.size === 0) return;
    await this.#recheck([...passed].filter((key) => key !== HEADERS_KEY), null, out);
    if (passed.has(HEADERS_KEY)) await this.#recheckTip(told, out);
  }

  /** A hub's wake: re-check the named script hashes (and missed ones), announce a new tip. */
  async wake(wake: SessionWake, restored: boolean): Promise<WakeResult> {
    const ws = this.#ctx.getWebSockets()[0];
    if (ws === undefined || this.#closed) {
      this.#log.debug('notify_gone', { seq: wake.seq });
      await this.#ctx.storage.deleteAll();
      return { gone: true };
    }
    const startedMs = Date.now();
    return this.#serial(async () => {
      const ranMs = Date.now();
      if (wake.feedReset) this.#forgetTipSeq();
      const out = new Outbox();
      await this.#settleOwed(null, out);
      const hexes = await this.#missedHashes(wake);
      // The hub's statuses cover exactly the hashes it named; anything wider is read here.
      const known = hexes === wake.hashxes ? wake.statuses : null;
      await this.#recheck(hexes, known, out);
      if (wake.tip !== null && !this.#closed && readAttachment(ws).headersSubscribed) {
        this.#announceTip(wake.tip, out);
      }
      const { sent, written } = out.flush((frame) => this.#send(ws, frame));
      if (this.#log.debugEnabled) {
        const fields = { seq: wake.seq, checked: hexes.length, sent, restored };
        const { commitMs } = wake;
        const lags = {
          lag_ms: commitMs === null ? null : startedMs - commitMs,
          done_lag_ms: commitMs === null ? null : Date.now() - commitMs,
          queued_ms: ranMs - startedMs,
        };
        this.#log.debug('notify_wake', { ...fields, ...lags, ms: Date.now() - startedMs });
      }
      const value: WakeResult = { ok: true, sent };
      return { value, written };
    });
  }

  /** On close: every hub that holds this session forgets it, after any registration in flight. */
  async forget(): Promise<void> {
    this.#registrar.closed = true;
    await this.#serial(async () => {
      await this.#registrar.unregisterAll(this.#subscribedHexes());
      return { value: undefined, written: Promise.resolve() };
    });
  }

  #subscribedHexes(): string[] {
    const rows = this.#ctx.storage.sql.exec('SELECT script_hash FROM subscriptions').toArray();
    return rows.map((row) => String(row.script_hash));
  }

  // The subscribed script hashes a wake asks about, widened by the change feed after a missed seq.
  async #missedHashes(wake: SessionWake): Promise<string[]> {
    if (!wake.all && wake.afterSeq === null) return wake.hashxes;
    const subscribed = new Set(this.#subscribedHexes());
    if (wake.all || wake.afterSeq === null) return [...subscribed];
    const keep = (hex: string): boolean => subscribed.has(hex);
    const changed = await this.#openIndex().changedSince(wake.afterSeq, wake.seq, keep);
    if (!changed.complete) return [...subscribed];
    for (const hex of wake.hashxes) changed.hashxes.add(hex);
    return [...changed.hashxes];
  }

  // Reads the statuses of `hexes` and notifies each subscription whose status differs from the
  // one the client last heard (the subscribe reply or an earlier notification).
  async #recheck(hexes: string[], known: Record<string, string | null> | null, out: Outbox) {
    if (hexes.length === 0) return;
    const fresh = known === null ? await this.#openIndex().statuses(hexes) : toMap(known);
    if (this.#closed) return;
    // Read the stored statuses after the await: a subscribe reply may have replaced one meanwhile.
    const sql = 'UPDATE subscriptions SET status = ? WHERE script_hash = ?';
    for (const [hex, row] of this.#subscriptions(hexes)) {
      const status = fresh.get(hex) ?? null;
      if (status === row.status) continue;
      const frame = encodeNotification(SCRIPTHASH_METHOD, [row.sentAs, status]);
      out.add(frame, () => this.#ctx.storage.sql.exec(sql, status, hex));
    }
  }

  #subscriptions(hexes: string[]): Map<string, SubscriptionRow> {
    const cursor = this.#ctx.storage.sql.exec(
      'SELECT script_hash, sent_as, status FROM subscriptions ' +
        'WHERE script_hash IN (SELECT value FROM json_each(?))',
      JSON.stringify(hexes)
    );
    const rows = new Map<string, SubscriptionRow>();
    for (const row of cursor.toArray()) {
      const status = row.status === null ? null : String(row.status);
      rows.set(String(row.script_hash), { sentAs: String(row.sent_as), status });
    }
    return rows;
  }

  // After a headers subscription is registered: if the tip moved since the reply, say so now.
  async #recheckTip(told: TipTold | null, out: Outbox): Promise<void> {
    const tip = await this.#openIndex().tip();
    if (tip === null || this.#closed) return;
    if (told !== null && told.headerHex === tip.headerHex) {
      out.tip = tip;
      out.add(null, () => this.#saveTip(tip));
      return;
    }
    this.#announceTip(tip, out);
  }

  // Announces a new tip once: never one older than, or the same as, the last announced.
  #announceTip(tip: TipNotice, out: Outbox): void {
    const last = out.tip ?? this.#lastTip();
    if (last !== null && (tip.seq <= last.seq || tip.headerHex === last.headerHex)) {
      if (tip.seq > last.seq) out.add(null, () => this.#saveTip(tip));
      return;
    }
    out.tip = tip;
    this.#announced = tip;
    const frame = encodeNotification(HEADERS_METHOD, [{ hex: tip.headerHex, height: tip.height }]);
    out.add(frame, () => this.#saveTip(tip));
  }

  #lastTip(): Announced | null {
    if (this.#announced !== null) return this.#announced;
    const sql = 'SELECT seq, header_hex FROM notify_tip';
    const row = this.#ctx.storage.sql.exec(sql).toArray()[0];
    return row === undefined ? null : { seq: Number(row.seq), headerHex: String(row.header_hex) };
  }

  // The tip a subscribe reply carried counts as announced; its seq is unknown, so the last
  // announced seq stays (the reply is at least as new as that one).
  #noteTold(told: TipTold): void {
    const last = this.#lastTip();
    if (last?.headerHex === told.headerHex) return;
    this.#saveTip({ seq: last?.seq ?? 0, headerHex: told.headerHex });
  }

  // The feed started over: the last announced tip keeps its header (no repeat of the same tip)
  // but loses its seq, which the new feed's seqs may be far below.
  #forgetTipSeq(): void {
    const last = this.#lastTip();
    if (last === null) return;
    this.#announced = { seq: 0, headerHex: last.headerHex };
    this.#ctx.storage.sql.exec('UPDATE notify_tip SET seq = 0');
  }

  #saveTip(tip: Announced): void {
    if (this.#announced === null || tip.seq >= this.#announced.seq) this.#announced = tip;
    this.#ctx.storage.sql.exec(
      'INSERT OR REPLACE INTO notify_tip (id, seq, header_hex) VALUES (0, ?, ?)',
      tip.seq,
      tip.headerHex
    );
  }

  #send(ws: WebSocket, frame: string): void {
    try {
      ws.send(frame);
      // Bytes out cost the client as a reply's do (worker/limits/session-limits.ts).
      chargeNotification(this.#ctx, this.#env, this.#log, frame);
    } catch (error) {
      // The client left while we were reading; the close handler unregisters.
      this.#log.debug('notify_send_failed', describeError(error));
    }
  }
}
