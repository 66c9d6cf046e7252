// The names of the Worker's vars and bindings, and warnings for vars that look misspelled.
import { likelyTypos } from '../core/typos.ts';

/** Every var the Worker reads: the README's two Worker tables (wrangler.toml's [vars] too). */
export const WORKER_SETTINGS = [
  'LIBSQL_URL',
  'LIBSQL_AUTH_TOKEN',
  'COIN',
  'NET',
  'BANNER',
  'DONATION_ADDRESS',
  'RELAY_URL',
  'RELAY_SECRET',
  'ADMIN_TOKEN',
  'NOTIFY_SECRET',
  'HUB_SHARDS',
  'REORG_LIMIT',
  'LOG_LEVEL',
  'COST_SOFT_LIMIT',
  'COST_HARD_LIMIT',
  'BANDWIDTH_UNIT_COST',
  'COST_DECAY_SECONDS',
  'INITIAL_CONCURRENT',
  'REQUEST_SLEEP',
  'REQUEST_TIMEOUT',
  'SESSION_TIMEOUT',
  'MAX_SESSIONS',
  'MAX_SESSIONS_PER_IP',
  'MAX_SUBS',
  'MAX_RECV',
  'MAX_SEND',
  'SESSION_GROUP_BY_SUBNET_IPV4',
  'SESSION_GROUP_BY_SUBNET_IPV6',
  'EXEMPT_PRIVATE',
  'RATE_LIMIT_EXEMPT',
  'DENY_CIDRS',
  'ANON_LOGS',
  'LIMITS_CACHE_MS',
] as const;

/** The Durable Object bindings of wrangler.toml. */
export const WORKER_BINDINGS = ['SESSION', 'HUB', 'LIMITER', 'LIMITS_REGISTRY'] as const;

/**
 * Vars that are no setting but lie within a typo of one (`MAX_SUB` for `MAX_SUBS`), which the
 * Worker would otherwise ignore without a word; for /health's `warnings`.
 */
export function settingWarnings(env: object): string[] {
  const known: readonly string[] = [...WORKER_SETTINGS, ...WORKER_BINDINGS];
  const warnings = likelyTypos(Object.keys(env), known).map(
    ({ name, suggestion }) => `${name} is not a setting (did you mean ${suggestion}?)`
  );
  // Legal (an sqld without auth), but the indexer's index server and Turso refuse every read.
  const { LIBSQL_AUTH_TOKEN: token, NOTIFY_SECRET: notify, RELAY_URL: relay } = env as Record<
    string,
    unknown
  >;
  const unset = (value: unknown): boolean => typeof value !== 'string' || value === '';
  if (unset(token)) {
    warnings.push(
      'LIBSQL_AUTH_TOKEN is not set: the index server and Turso refuse reads without it ' +
        '(.dev.vars locally, `wrangler secret put LIBSQL_AUTH_TOKEN` deployed)'
    );
  }
  // Both legal (a read-only deployment), but worth seeing where a wallet would notice.
  if (unset(notify)) warnings.push('NOTIFY_SECRET is not set: sessions get no notifications');
  if (unset(relay)) warnings.push('RELAY_URL is not set: every broadcast is refused');
  return warnings;
}
