// The server.banner text the admin API stores in the LimitsRegistry (PUT /admin/banner), cached
// per isolate so sessions ask the registry at most once per BANNER_CACHE_MS.
import type { LimitsEnv } from './limits/limits-env.ts';
import { REGISTRY_NAME } from './limits/registry.ts';

/** How long an isolate trusts the banner it read (an admin change here applies at once). */
export const BANNER_CACHE_MS = 5_000;
/** Longest banner the admin API stores, in characters. */
export const MAX_BANNER_CHARS = 4_000;

let cached: { text: string | null; atMs: number } | null = null;

/** The stored banner, or null when none is set (the BANNER var then applies). */
export async function storedBanner(
  env: Pick<LimitsEnv, 'LIMITS_REGISTRY'>
): Promise<string | null> {
  const nowMs = Date.now();
  if (cached !== null && nowMs - cached.atMs < BANNER_CACHE_MS) return cached.text;
  const registry = env.LIMITS_REGISTRY.get(env.LIMITS_REGISTRY.idFromName(REGISTRY_NAME));
  const text = await registry.banner();
  cached = { text, atMs: nowMs };
  return text;
}

/** Drops this isolate's copy (after the admin API changed the banner). */
export function forgetBannerCache(): void {
  cached = null;
}
