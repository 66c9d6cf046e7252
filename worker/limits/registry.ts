// The LimitsRegistry Durable Object: one per deployment, holding the runtime deny and allow
// lists the admin API edits, and the count of open sessions the group Limiters report. It also
// keeps what the admin API shows of sessions, the Worker's metrics and the stored banner.
import { DurableObject } from 'cloudflare:workers';
import { SessionDirectory, type SessionReport } from '../admin-sessions-directory.ts';
import {
  addBatch,
  readMetricsState,
  type MetricsBatch,
  type MetricsState,
} from '../metrics-book.ts';

/** The two lists the admin API edits at runtime (on top of DENY_CIDRS and RATE_LIMIT_EXEMPT). */
export type AccessListName = 'deny' | 'allow';

/** What each isolate caches for LIMITS_CACHE_MS. */
export interface RegistrySnapshot {
  deny: string[];
  allow: string[];
  /** Open limited sessions over the whole namespace, as the Limiters last reported them. */
  sessionsOpen: number;
}

/** The singleton's name in the LIMITS_REGISTRY namespace. */
export const REGISTRY_NAME = 'registry';
/** A group's count is dropped when its Limiter has not reported for this long (it re-reports). */
export const CENSUS_LEASE_MS = 180_000;

interface CensusEntry {
  sessions: number;
  seq: number;
  atMs: number;
}

const LIST_KEYS: Record<AccessListName, string> = { deny: 'list:deny', allow: 'list:allow' };
const METRICS_KEY = 'metrics';
const BANNER_KEY = 'banner';

/**
 * Lists persist in the object's storage. The census lives in memory: if the object is evicted
 * it starts from zero and is whole again once every busy Limiter has re-reported (one lease).
 */
export class LimitsRegistry extends DurableObject {
  readonly #census = new Map<string, CensusEntry>();
  readonly #sessions = new SessionDirectory();
  #metrics: MetricsState | null = null;

  #list(name: AccessListName): string[] {
    const stored: unknown = this.ctx.storage.kv.get(LIST_KEYS[name]);
    return Array.isArray(stored) ? stored.filter((entry) => typeof entry === 'string') : [];
  }

  #sessionsOpen(nowMs: number): number {
    let total = 0;
    for (const [group, entry] of this.#census) {
      if (nowMs - entry.atMs > CENSUS_LEASE_MS) this.#census.delete(group);
      else total += entry.sessions;
    }
    return total;
  }

  /** Both runtime lists and the session count. */
  async snapshot(): Promise<RegistrySnapshot> {
    const sessionsOpen = this.#sessionsOpen(Date.now());
    return { deny: this.#list('deny'), allow: this.#list('allow'), sessionsOpen };
  }

  /** Adds a canonical CIDR text; false when it was already there. */
  async addEntry(name: AccessListName, cidr: string): Promise<boolean> {
    const list = this.#list(name);
    if (list.includes(cidr)) return false;
    this.ctx.storage.kv.put(LIST_KEYS[name], [...list, cidr]);
    return true;
  }

  /** Removes a canonical CIDR text; false when it was not there. */
  async removeEntry(name: AccessListName, cidr: string): Promise<boolean> {
    const list = this.#list(name);
    if (!list.includes(cidr)) return false;
    this.ctx.storage.kv.put(LIST_KEYS[name], list.filter((entry) => entry !== cidr));
    return true;
  }

  /** A Limiter's session count; `seq` orders reports that arrive out of order. */
  async reportGroup(group: string, sessions: number, seq: number): Promise<void> {
    const known = this.#census.get(group);
    if (known !== undefined && known.seq > seq) return;
    // A zero is kept (until its lease ends) so an older, larger report cannot overwrite it.
    this.#census.set(group, { sessions: Math.max(0, sessions), seq, atMs: Date.now() });
  }

  /** The groups whose Limiters reported within the lease. */
  async groups(): Promise<string[]> {
    this.#sessionsOpen(Date.now());
    return [...this.#census.keys()].sort();
  }

  /** A session's state and its counters since its last report, in one call. */
  async reportSession(report: SessionReport, batch: MetricsBatch | null): Promise<void> {
    this.#sessions.report(report, Date.now());
    if (batch === null) return;
    const metrics = this.#metricsState();
    addBatch(metrics, batch);
    this.ctx.storage.kv.put(METRICS_KEY, metrics);
  }

  /** The sessions that reported within their lease, oldest first. */
  async listSessions(): Promise<SessionReport[]> {
    return this.#sessions.list(Date.now());
  }

  /** Ids of the live sessions of a group (its network or its masked label). */
  async sessionIdsInGroup(group: string): Promise<string[]> {
    return this.#sessions.idsInGroup(group, Date.now());
  }

  /** The metrics counters and the number of sessions reporting themselves open. */
  async metrics(): Promise<{ state: MetricsState; sessionsOpen: number }> {
    const sessionsOpen = this.#sessions.list(Date.now()).length;
    return { state: this.#metricsState(), sessionsOpen };
  }

  /** The banner set through the admin API; null when none is (BANNER applies). */
  async banner(): Promise<string | null> {
    const stored: unknown = this.ctx.storage.kv.get(BANNER_KEY);
    return typeof stored === 'string' ? stored : null;
  }

  /** Stores the banner; null removes it. */
  async setBanner(text: string | null): Promise<void> {
    if (text === null) this.ctx.storage.kv.delete(BANNER_KEY);
    else this.ctx.storage.kv.put(BANNER_KEY, text);
  }

  #metricsState(): MetricsState {
    this.#metrics ??= readMetricsState(this.ctx.storage.kv.get(METRICS_KEY));
    return this.#metrics;
  }
}
