// The runtime deny/allow lists and the session count from the LimitsRegistry, cached briefly by
// each isolate so an upgrade rarely waits on the registry.
import type { Logger } from '../log.ts';
import { describeError } from '../log.ts';
import type { RuntimeLists } from './access-rules.ts';
import type { LimitSettings } from './budget.ts';
import { parseCidr, type CidrBlock } from './cidr.ts';
import type { LimitsEnv } from './limits-env.ts';
import { REGISTRY_NAME } from './registry.ts';

let cached: { lists: RuntimeLists; atMs: number } | null = null;
let pending: Promise<RuntimeLists> | null = null;
// Bumped by forgetAccessCache, so a fetch that started before an admin change is not cached.
let generation = 0;

/** Drops this isolate's copy, so an admin change applies at once here (other isolates: TTL). */
export function forgetAccessCache(): void {
  cached = null;
  pending = null;
  generation += 1;
}

function parseStored(entries: readonly string[]): CidrBlock[] {
  const blocks: CidrBlock[] = [];
  for (const entry of entries) {
    try {
      blocks.push(parseCidr(entry));
    } catch {
      // Stored entries were canonical when the admin API wrote them; skip one that is not.
    }
  }
  return blocks;
}

async function fetchLists(env: LimitsEnv): Promise<RuntimeLists> {
  const stub = env.LIMITS_REGISTRY.get(env.LIMITS_REGISTRY.idFromName(REGISTRY_NAME));
  const snapshot = await stub.snapshot();
  return {
    deny: parseStored(snapshot.deny),
    allow: parseStored(snapshot.allow),
    sessionsOpen: snapshot.sessionsOpen,
  };
}

/**
 * The runtime lists and session count, at most LIMITS_CACHE_MS old. When the registry cannot
 * be reached the last copy (or empty lists) is used: the vars' lists still apply.
 */
export async function runtimeLists(
  env: LimitsEnv,
  settings: LimitSettings,
  log: Logger
): Promise<RuntimeLists> {
  const nowMs = Date.now();
  if (cached !== null && nowMs - cached.atMs < settings.listCacheMs) return cached.lists;
  const startedIn = generation;
  const fetching = (pending ??= fetchLists(env));
  try {
    const lists = await fetching;
    if (startedIn === generation) cached = { lists, atMs: Date.now() };
    return lists;
  } catch (error) {
    log.warn('limits_registry_unreachable', describeError(error));
    return cached?.lists ?? { deny: [], allow: [], sessionsOpen: 0 };
  } finally {
    if (pending === fetching) pending = null;
  }
}
