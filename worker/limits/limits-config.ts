// The public budget and the limit settings of this Worker, parsed once per env object.
import { readBudget, readLimitSettings, type Budget, type LimitSettings } from './budget.ts';

/** The anonymous (per-IP) budget and the server-wide settings. */
export interface LimitsConfig {
  budget: Budget;
  settings: LimitSettings;
}

// The runtime hands the same env object to every request of an isolate; parse it once.
const parsed = new WeakMap<object, LimitsConfig>();

/** The limits config of `env`. @throws RangeError naming a bad var (a deployment mistake). */
export function limitsConfig(env: object): LimitsConfig {
  const known = parsed.get(env);
  if (known !== undefined) return known;
  const config = { budget: readBudget(env), settings: readLimitSettings(env) };
  parsed.set(env, config);
  return config;
}
