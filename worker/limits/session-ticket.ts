// The ticket the Worker hands a new Session object with the upgrade: its group (null when
// exempt), the budget it runs under and the group's figures at admission. Pure code.
import type { Budget } from './budget.ts';
import type { GroupSnapshot } from './group-ledger.ts';

/**
 * The internal header carrying the ticket. The Worker always deletes a client-sent copy before
 * setting its own, and Session objects are reachable only through the Worker.
 */
export const TICKET_HEADER = 'X-Electrum-Edge-Limits';

/** What a Session needs to meter itself. */
export interface SessionTicket {
  /** Exempt clients (private, allowlisted) are not metered at all. */
  exempt: boolean;
  /** The IP group (the Limiter's name); null when exempt or metered alone. */
  group: string | null;
  /** The group as log lines show it (anonymised under ANON_LOGS). */
  label: string;
  budget: Budget;
  snapshot: GroupSnapshot;
}

const BUDGET_FIELDS: readonly (keyof Budget)[] = [
  'softLimit',
  'hardLimit',
  'bandwidthUnitBytes',
  'decaySeconds',
  'initialConcurrent',
  'requestSleepMs',
  'requestTimeoutMs',
  'sessionTimeoutMs',
  'maxSessionsPerGroup',
  'maxSubsPerSession',
];
const SNAPSHOT_FIELDS: readonly (keyof GroupSnapshot)[] = [
  'cost',
  'decayPerSec',
  'sessions',
  'subscriptions',
];

function numbersIn(value: unknown, fields: readonly string[]): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return fields.every((name) => typeof record[name] === 'number' && Number.isFinite(record[name]));
}

/** True when `value` has a ticket's shape (read back from a header or from storage). */
export function isSessionTicket(value: unknown): value is SessionTicket {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.exempt === 'boolean' &&
    (record.group === null || typeof record.group === 'string') &&
    typeof record.label === 'string' &&
    numbersIn(record.budget, BUDGET_FIELDS) &&
    numbersIn(record.snapshot, SNAPSHOT_FIELDS)
  );
}

/** The ticket in a request's headers, or null when absent or malformed. */
export function readTicket(headers: Headers): SessionTicket | null {
  const text = headers.get(TICKET_HEADER);
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return isSessionTicket(value) ? value : null;
  } catch {
    return null;
  }
}
