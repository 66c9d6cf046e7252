// The Worker's vars parsed as the sessions parse them, so /health and upgrades can name a bad one.
import { loadConfig, readIndexUrl } from './config.ts';
import type { EnvWithLimits } from './limits/limits-env.ts';
import { limitsConfig } from './limits/limits-config.ts';
import { parseHubShards } from './notify-wire.ts';

function problemOf(read: () => unknown): string | null {
  try {
    read();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The first setting a session would fail on (COIN, NET, REORG_LIMIT, relay, LIBSQL_URL, the
 * limit vars of worker/limits/budget.ts), or null. Its message names the var and the bad value.
 */
export function fatalSettingProblem(env: EnvWithLimits): string | null {
  return (
    problemOf(() => loadConfig(env)) ??
    problemOf(() => readIndexUrl(env)) ??
    problemOf(() => limitsConfig(env))
  );
}

/**
 * Every bad setting: the fatal one, then those the Worker tolerates by falling back to a default
 * (HUB_SHARDS), which /health still reports so an operator sees them.
 */
export function settingProblems(env: EnvWithLimits & { HUB_SHARDS?: string }): string[] {
  const fatal = fatalSettingProblem(env);
  const { problem: shards } = parseHubShards(env.HUB_SHARDS);
  return [fatal, shards].filter((problem): problem is string => problem !== null);
}
