// The numbers of the cost model (DESIGN §6) read from Worker vars: a Budget an API key's plan
// can later replace, and the server-wide LimitSettings around it.
import { parseCidrList, type CidrBlock } from './cidr.ts';

/**
 * What one IP group (or, later, one API key's plan) may spend. Every part of the limits code
 * takes a Budget as a value, never reads globals, so a tenant's plan can pass its own.
 */
export interface Budget {
  /** COST_SOFT_LIMIT: above it requests wait and fewer run at once. */
  readonly softLimit: number;
  /** COST_HARD_LIMIT: at it the next request gets -101 and the socket closes. */
  readonly hardLimit: number;
  /** BANDWIDTH_UNIT_COST: bytes in or out that cost one unit. */
  readonly bandwidthUnitBytes: number;
  /**
   * COST_DECAY_SECONDS: seconds a full hard-limit budget takes to drain with no subscriptions
   * (DESIGN §6: hard / 10000 per second). Only tests lower it, to see decay in seconds.
   */
  readonly decaySeconds: number;
  /** INITIAL_CONCURRENT: requests of one session that run at once below the soft limit. */
  readonly initialConcurrent: number;
  /** REQUEST_SLEEP: the wait per request at the hard limit; it scales from 0 at the soft one. */
  readonly requestSleepMs: number;
  /** REQUEST_TIMEOUT: a request waiting and running longer gets -102. */
  readonly requestTimeoutMs: number;
  /** SESSION_TIMEOUT: a session that sends nothing for this long is closed. */
  readonly sessionTimeoutMs: number;
  /** MAX_SESSIONS_PER_IP: open sessions per IP group; more are refused with HTTP 429. */
  readonly maxSessionsPerGroup: number;
  /** MAX_SUBS: script hashes one session may subscribe to. */
  readonly maxSubsPerSession: number;
}

/** Settings that hold for the whole server, whatever the budget. */
export interface LimitSettings {
  /** MAX_SESSIONS: open sessions over the whole Session namespace (counted, see LIMITS.md). */
  readonly maxSessions: number;
  /** MAX_SEND: largest reply in bytes. */
  readonly maxSendBytes: number;
  /** MAX_RECV: largest request message in bytes. */
  readonly maxRecvBytes: number;
  /** SESSION_GROUP_BY_SUBNET_IPV4 */
  readonly ipv4PrefixBits: number;
  /** SESSION_GROUP_BY_SUBNET_IPV6 */
  readonly ipv6PrefixBits: number;
  /** EXEMPT_PRIVATE: loopback and private addresses skip the budget (default on). */
  readonly exemptPrivate: boolean;
  /** RATE_LIMIT_EXEMPT: networks that skip the budget. */
  readonly exemptCidrs: readonly CidrBlock[];
  /** DENY_CIDRS: networks refused at upgrade with 403. */
  readonly denyCidrs: readonly CidrBlock[];
  /** ANON_LOGS: log lines name groups by an opaque tag instead of their network. */
  readonly anonLogs: boolean;
  /** LIMITS_CACHE_MS: how long an isolate reuses the runtime lists and session count. */
  readonly listCacheMs: number;
}

/**
 * Where the vars come from: the Worker's env (wrangler passes [vars] as strings, numbers or
 * booleans) or a plain object in tests.
 */
export type LimitVars = object;

function varOf(vars: LimitVars, name: string): unknown {
  return (vars as Record<string, unknown>)[name];
}

interface NumberRule {
  name: string;
  fallback: number;
  min: number;
  max?: number;
  integer?: boolean;
}

function readNumber(vars: LimitVars, rule: NumberRule): number {
  const raw = varOf(vars, rule.name);
  if (raw === undefined || raw === null || raw === '') return rule.fallback;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : NaN;
  const maxOk = rule.max === undefined || value <= rule.max;
  const integerOk = rule.integer !== true || Number.isInteger(value);
  if (!Number.isFinite(value) || value < rule.min || !maxOk || !integerOk) {
    const kind = rule.integer === true ? 'an integer' : 'a number';
    const range = rule.max === undefined ? `>= ${rule.min}` : `in ${rule.min}..${rule.max}`;
    const shown = String(raw).slice(0, 40);
    throw new RangeError(`${rule.name} must be ${kind} ${range}, got "${shown}"`);
  }
  return value;
}

function readFlag(vars: LimitVars, name: string, fallback: boolean): boolean {
  const raw = varOf(vars, name);
  if (raw === undefined || raw === null || raw === '') return fallback;
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new RangeError(`${name} must be true or false, got "${String(raw).slice(0, 40)}"`);
}

function readText(vars: LimitVars, name: string): string | undefined {
  const raw = varOf(vars, name);
  return typeof raw === 'string' ? raw : undefined;
}

/** Reads the budget vars, defaults as DESIGN §6. @throws RangeError naming a bad var. */
export function readBudget(vars: LimitVars): Budget {
  const softLimit = readNumber(vars, { name: 'COST_SOFT_LIMIT', fallback: 1000, min: 0 });
  const hardLimit = readNumber(vars, { name: 'COST_HARD_LIMIT', fallback: 10_000, min: 1 });
  if (softLimit >= hardLimit) {
    const limits = `COST_SOFT_LIMIT (${softLimit})`;
    throw new RangeError(`${limits} must be below COST_HARD_LIMIT (${hardLimit})`);
  }
  const seconds = (name: string, fallback: number) =>
    readNumber(vars, { name, fallback, min: 0.001 }) * 1000;
  return {
    softLimit,
    hardLimit,
    bandwidthUnitBytes: readNumber(vars, { name: 'BANDWIDTH_UNIT_COST', fallback: 5000, min: 1 }),
    decaySeconds: readNumber(vars, { name: 'COST_DECAY_SECONDS', fallback: 10_000, min: 0.001 }),
    initialConcurrent: readNumber(vars, {
      name: 'INITIAL_CONCURRENT',
      fallback: 10,
      min: 1,
      integer: true,
    }),
    requestSleepMs: readNumber(vars, { name: 'REQUEST_SLEEP', fallback: 2500, min: 0 }),
    requestTimeoutMs: seconds('REQUEST_TIMEOUT', 30),
    sessionTimeoutMs: seconds('SESSION_TIMEOUT', 600),
    maxSessionsPerGroup: readNumber(vars, {
      name: 'MAX_SESSIONS_PER_IP',
      fallback: 100,
      min: 1,
      integer: true,
    }),
    maxSubsPerSession: readNumber(vars, {
      name: 'MAX_SUBS',
      fallback: 50_000,
      min: 0,
      integer: true,
    }),
  };
}

/** Reads the server-wide limit vars. @throws RangeError naming a bad var or list entry. */
export function readLimitSettings(vars: LimitVars): LimitSettings {
  const integer = (name: string, fallback: number, min: number, max?: number) =>
    readNumber(vars, { name, fallback, min, max, integer: true });
  return {
    maxSessions: integer('MAX_SESSIONS', 1000, 1),
    maxSendBytes: integer('MAX_SEND', 8_100_000, 1000),
    maxRecvBytes: integer('MAX_RECV', 1_000_000, 1000),
    ipv4PrefixBits: integer('SESSION_GROUP_BY_SUBNET_IPV4', 24, 0, 32),
    ipv6PrefixBits: integer('SESSION_GROUP_BY_SUBNET_IPV6', 48, 0, 128),
    exemptPrivate: readFlag(vars, 'EXEMPT_PRIVATE', true),
    exemptCidrs: parseCidrList(readText(vars, 'RATE_LIMIT_EXEMPT'), 'RATE_LIMIT_EXEMPT'),
    denyCidrs: parseCidrList(readText(vars, 'DENY_CIDRS'), 'DENY_CIDRS'),
    anonLogs: readFlag(vars, 'ANON_LOGS', false),
    listCacheMs: integer('LIMITS_CACHE_MS', 5000, 0),
  };
}
