// The bindings and vars the limits code reads; the Worker's Env extends this.
import type { Env } from '../env.ts';
import type { Limiter } from './limiter.ts';
import type { LimitsRegistry } from './registry.ts';

/**
 * Limit bindings, the admin secret, and the vars of worker/limits/budget.ts (each optional,
 * defaults as DESIGN §6; wrangler passes them as strings or numbers).
 */
export interface LimitsEnv {
  /** One Limiter per IP group (idFromName of the group's network). */
  LIMITER: DurableObjectNamespace<Limiter>;
  /** The singleton holding runtime deny/allow lists and the session count. */
  LIMITS_REGISTRY: DurableObjectNamespace<LimitsRegistry>;
  /** Secret bearer token of /admin/*; the admin API is off while it is unset or short. */
  ADMIN_TOKEN?: string;
  LOG_LEVEL?: string;
  COST_SOFT_LIMIT?: unknown;
  COST_HARD_LIMIT?: unknown;
  BANDWIDTH_UNIT_COST?: unknown;
  COST_DECAY_SECONDS?: unknown;
  INITIAL_CONCURRENT?: unknown;
  REQUEST_SLEEP?: unknown;
  REQUEST_TIMEOUT?: unknown;
  SESSION_TIMEOUT?: unknown;
  MAX_SESSIONS?: unknown;
  MAX_SESSIONS_PER_IP?: unknown;
  MAX_SUBS?: unknown;
  MAX_SEND?: unknown;
  MAX_RECV?: unknown;
  SESSION_GROUP_BY_SUBNET_IPV4?: unknown;
  SESSION_GROUP_BY_SUBNET_IPV6?: unknown;
  EXEMPT_PRIVATE?: unknown;
  RATE_LIMIT_EXEMPT?: unknown;
  DENY_CIDRS?: unknown;
  ANON_LOGS?: unknown;
  LIMITS_CACHE_MS?: unknown;
}

/**
 * The Worker's env with the limit bindings. Each feature declares its own slice of env beside
 * its code (limits here, notifications in worker/notify-env.ts) and the entry joins them.
 */
export type EnvWithLimits = Env & LimitsEnv;
