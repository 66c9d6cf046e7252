// A session's registrations with the hubs: what it still owes them (kept in its own storage so a
// failed call is retried on the next message or wake), sent as one call per hub.
import { describeError, type Logger } from './log.ts';
import type { HubRpc, NotifyEnv } from './notify-env.ts';
import { hubName, shardOf, type Registration } from './notify-wire.ts';

// Registration attempts per round before the change waits for the next message or wake.
const REGISTER_ATTEMPTS = 3;
const REGISTER_RETRY_MS = 100;
/**
 * How far a hub's clock may run behind a session's. Hubs and sessions may live in different
 * places; a re-check too many costs one read, a re-check too few loses a notification.
 */
const CLOCK_SKEW_MS = 5_000;
/** The notify_owed key of the headers registration (never a script hash: those are 64 digits). */
export const HEADERS_KEY = 'headers';

const OWED_TABLE =
  'CREATE TABLE IF NOT EXISTS notify_owed ' +
  '(script_hash TEXT PRIMARY KEY, op TEXT NOT NULL, since_ms INTEGER NOT NULL)';

interface Owed {
  key: string;
  op: 'add' | 'remove';
  sinceMs: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Registers one session's subscriptions with the hub of each script hash. */
export class HubRegistrar {
  readonly #sql: SqlStorage;
  readonly #env: NotifyEnv;
  readonly #log: Logger;
  readonly #sessionId: string;
  readonly #shards: number;
  /** Set on close: the storage is about to go, so nothing is written any more. */
  closed = false;
  // Known to owe nothing: every wake asks, and most of them need not read storage to know it.
  #owesNothing = false;

  constructor(ctx: DurableObjectState, env: NotifyEnv, log: Logger, shards: number) {
    this.#sql = ctx.storage.sql;
    this.#env = env;
    this.#log = log;
    this.#sessionId = ctx.id.toString();
    this.#shards = shards;
    // A no-op CREATE still counts as a write, and writes hold outgoing frames (output gate).
    const found = this.#sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'notify_owed'");
    if (found.toArray().length === 0) this.#sql.exec(OWED_TABLE);
  }

  /** Notes a change for the hubs, made by a message that began at `sinceMs`. */
  owe(key: string, op: 'add' | 'remove', sinceMs: number): void {
    this.#owesNothing = false;
    this.#sql.exec(
      'INSERT OR REPLACE INTO notify_owed (script_hash, op, since_ms) VALUES (?, ?, ?)',
      key,
      op,
      sinceMs
    );
  }

  /**
   * Sends what is owed, one call per hub; what a hub did not take stays owed. Returns the added
   * keys whose hub planned a fan-out after they were owed: a notice may have passed them by, so
   * the caller re-reads them.
   */
  async pay(): Promise<Set<string>> {
    const passed = new Set<string>();
    if (this.#owesNothing) return passed;
    const rows = this.#sql.exec('SELECT script_hash, op, since_ms FROM notify_owed').toArray();
    if (rows.length === 0) {
      this.#owesNothing = true;
      return passed;
    }
    const byShard = new Map<number, Owed[]>();
    for (const row of rows) {
      const key = String(row.script_hash);
      const op = row.op === 'remove' ? 'remove' : 'add';
      const owed: Owed = { key, op, sinceMs: Number(row.since_ms) };
      const shard = shardOf(key === HEADERS_KEY ? this.#sessionId : key, this.#shards);
      byShard.set(shard, [...(byShard.get(shard) ?? []), owed]);
    }
    await Promise.all(
      [...byShard].map(async ([shard, owed]) => {
        for (const key of await this.#register(shard, owed)) passed.add(key);
      })
    );
    return passed;
  }

  // One hub's share; returns the keys it planned past (none when the call failed).
  async #register(shard: number, owed: Owed[]): Promise<string[]> {
    const change = this.#change(false);
    for (const { key, op } of owed) {
      if (key === HEADERS_KEY) change.headers = op;
      else change[op].push(key);
    }
    for (let attempt = 1; attempt <= REGISTER_ATTEMPTS; attempt++) {
      try {
        const position = await this.#hub(shard).register(change);
        if (this.closed) return [];
        this.#sql.exec(
          'DELETE FROM notify_owed WHERE script_hash IN (SELECT value FROM json_each(?))',
          JSON.stringify(owed.map((item) => item.key))
        );
        const passed = (item: Owed): boolean => {
          return item.op === 'add' && position.plannedAtMs >= item.sinceMs - CLOCK_SKEW_MS;
        };
        return owed.filter(passed).map((item) => item.key);
      } catch (error) {
        const fields = { shard, attempt, ...describeError(error) };
        // TODO(soon): an alarm could retry sooner; now the next message or wake retries.
        if (attempt === REGISTER_ATTEMPTS) this.#log.error('hub_register_failed', fields);
        else await sleep(REGISTER_RETRY_MS * 4 ** (attempt - 1));
      }
    }
    return [];
  }

  /** On close: every hub that may hold this session forgets it. Failures only log. */
  async unregisterAll(subscribed: Iterable<string>): Promise<void> {
    const shards = new Set([...subscribed].map((hex) => shardOf(hex, this.#shards)));
    shards.add(shardOf(this.#sessionId, this.#shards));
    const change = this.#change(true);
    await Promise.all(
      [...shards].map(async (shard) => {
        try {
          await this.#hub(shard).register(change);
        } catch (error) {
          // The hub finds the session gone at its next wake and forgets it then.
          this.#log.warn('hub_forget_failed', { shard, ...describeError(error) });
        }
      })
    );
  }

  #change(removeAll: boolean): Registration {
    return { session: this.#sessionId, add: [], remove: [], headers: null, removeAll };
  }

  #hub(shard: number): DurableObjectStub<HubRpc> {
    return this.#env.HUB.get(this.#env.HUB.idFromName(hubName(shard)));
  }
}
