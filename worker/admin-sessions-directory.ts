// The open WebSocket sessions as they last reported themselves (GET /admin/sessions), kept in
// the LimitsRegistry's memory. Pure code.

/** What a Session object tells the registry on open, on close and every few seconds between. */
export interface SessionReport {
  /** The Session object's id (hex), which POST /admin/sessions/disconnect takes. */
  id: string;
  /** The IP group (Limiter name); null when the client is exempt from the budget. */
  group: string | null;
  /** The group as the admin API shows it: masked under ANON_LOGS, "exempt" when null. */
  label: string;
  clientName: string;
  protocolVersion: string;
  subscriptions: number;
  /** The session's estimate of its group's cost (0 when exempt). */
  cost: number;
  openedAtMs: number;
  /** True in the last report, sent when the session closed. */
  closed: boolean;
}

/** One row of GET /admin/sessions. */
export interface SessionListing {
  id: string;
  group: string;
  client: { name: string; version: string };
  subscriptions: number;
  cost: number;
  openedAt: string;
}

/**
 * A session that has not reported for this long is dropped (its close was lost, or the registry
 * missed it); a live session reports at least once per SESSION_REPORT_LEASE_MS / 3.
 */
export const SESSION_REPORT_LEASE_MS = 15 * 60_000;
/** Most sessions listed; beyond it the oldest reports are dropped first. */
export const MAX_LISTED_SESSIONS = 20_000;

interface Entry {
  report: SessionReport;
  atMs: number;
}

/** Sessions by id, with a lease per report. */
export class SessionDirectory {
  readonly #entries = new Map<string, Entry>();

  /** Records a report; a closing report removes the session. */
  report(report: SessionReport, nowMs: number): void {
    this.#entries.delete(report.id);
    if (report.closed) return;
    this.#entries.set(report.id, { report, atMs: nowMs });
    // Map order is insertion order and a report re-inserts: the first entry is the stalest.
    if (this.#entries.size > MAX_LISTED_SESSIONS) {
      const stalest = this.#entries.keys().next();
      if (stalest.done !== true) this.#entries.delete(stalest.value);
    }
  }

  /** The live reports, oldest session first. */
  list(nowMs: number): SessionReport[] {
    const live: SessionReport[] = [];
    for (const [id, entry] of this.#entries) {
      if (nowMs - entry.atMs > SESSION_REPORT_LEASE_MS) this.#entries.delete(id);
      else live.push(entry.report);
    }
    return live.sort((a, b) => a.openedAtMs - b.openedAtMs);
  }

  /** Ids of the live sessions in `group`, matched by its network or by its shown label. */
  idsInGroup(group: string, nowMs: number): string[] {
    const matches = (report: SessionReport) => report.group === group || report.label === group;
    return this.list(nowMs)
      .filter(matches)
      .map((report) => report.id);
  }
}

/** A report as the admin API shows it (the raw group only when not masked). */
export function toListing(report: SessionReport): SessionListing {
  return {
    id: report.id,
    group: report.label,
    client: { name: report.clientName, version: report.protocolVersion },
    subscriptions: report.subscriptions,
    cost: Math.round(report.cost * 100) / 100,
    openedAt: new Date(report.openedAtMs).toISOString(),
  };
}

/** True for text shaped like a Durable Object id (64 hex digits). */
export function isSessionId(text: string): boolean {
  return /^[0-9a-f]{64}$/.test(text);
}
