// The budget on POST /rpc: the same IP groups and Limiters as the WebSocket sessions, so the
// stateless endpoint is no way around them. Its requests run through the group's gate and are
// charged the method table's costs (worker/limits/http-meter.ts), after the answer (off the
// response path); the next one from the group sees the figures that charge returned. A group
// this isolate has not seen yet is looked up at its Limiter first: otherwise a group over its
// hard limit would get one answer in every isolate it reaches.
import type { MiddlewareHandler } from 'hono';
import { encodeError } from '../../core/protocol/framing.ts';
import { createLogger, describeError } from '../log.ts';
import { clientAddress, decideAccess } from './access-rules.ts';
import { runtimeLists } from './access.ts';
import type { Budget } from './budget.ts';
import {
  bandwidthCost,
  decayed,
  ERROR_REPLY_COST,
  errorRepliesCost,
  retryAfterSec,
  throttleAt,
} from './cost-model.ts';
import type { GroupSnapshot } from './group-ledger.ts';
import { HttpRequestMeter } from './http-meter.ts';
import { limitsConfig } from './limits-config.ts';
import type { EnvWithLimits } from './limits-env.ts';
import { excessiveUsage } from './session-meter.ts';

/** Groups whose last figures an isolate remembers (oldest forgotten first). */
const MAX_REMEMBERED_GROUPS = 4096;

const remembered = new Map<string, { snapshot: GroupSnapshot; atMs: number }>();
// Method costs this isolate's POSTs spent and have not yet charged to the group's Limiter.
const unsettled = new Map<string, number>();

function remember(group: string, snapshot: GroupSnapshot): void {
  remembered.delete(group);
  remembered.set(group, { snapshot, atMs: Date.now() });
  if (remembered.size > MAX_REMEMBERED_GROUPS) {
    const oldest = remembered.keys().next();
    if (oldest.done !== true) remembered.delete(oldest.value);
  }
}

/** The group's cost now and its decay, from this isolate's memory; null for a group not seen. */
function estimate(group: string): { cost: number; decayPerSec: number } | null {
  const known = remembered.get(group);
  if (known === undefined) return null;
  const { snapshot, atMs } = known;
  const cost = decayed(snapshot.cost, Date.now() - atMs, snapshot.decayPerSec);
  return { cost, decayPerSec: snapshot.decayPerSec };
}

function limiterOf(env: EnvWithLimits, group: string) {
  return env.LIMITER.get(env.LIMITER.idFromName(group));
}

function overLimit(retryAfterSeconds: number): Response {
  return new Response(encodeError(null, excessiveUsage()), {
    status: 429,
    headers: { 'Content-Type': 'application/json', 'Retry-After': String(retryAfterSeconds) },
  });
}

// The method costs the meter counted (with the errors handlers threw), plus bytes in and out and
// the other error replies (malformed items, replies over MAX_SEND).
async function responseCost(
  response: Response,
  requestBytes: number,
  meter: HttpRequestMeter,
  budget: Budget
): Promise<number> {
  const body = await response.clone().text();
  const bytes = requestBytes + new TextEncoder().encode(body).length;
  const errors = Math.max(0, errorRepliesCost(body) - meter.errorsCharged * ERROR_REPLY_COST);
  return meter.methodsCost + bandwidthCost(bytes, budget) + errors;
}

/**
 * Middleware for POST /rpc: 403 for denied networks, 429 at the hard limit; each request inside
 * is throttled by the group's cost as it starts (worker/limits/http-meter.ts).
 */
export const limitHttpRpc: MiddlewareHandler<{ Bindings: EnvWithLimits }> = async (c, next) => {
  if (c.req.method !== 'POST') return next();
  const env = c.env;
  const log = createLogger(env.LOG_LEVEL, { transport: 'http' });
  const { settings, budget } = limitsConfig(env);
  const lists = await runtimeLists(env, settings, log);
  const access = decideAccess(clientAddress(c.req.raw.headers), settings, lists);
  if (access.kind === 'denied') return c.text('forbidden\n', 403);
  if (access.kind === 'exempt') return next();
  const { group } = access;
  let known = estimate(group);
  if (known === null) {
    try {
      // Charging nothing returns the group's figures.
      remember(group, await limiterOf(env, group).charge({ group, budget, charge: 0 }));
    } catch (error) {
      // The Limiter is unreachable: answer as before it existed; the charge below retries it.
      log.warn('limits_http_lookup_failed', describeError(error));
    }
    known = estimate(group) ?? { cost: 0, decayPerSec: 0 };
  }
  const costNow = known.cost + (unsettled.get(group) ?? 0);
  if (throttleAt(costNow, budget).cutOff) {
    return overLimit(retryAfterSec(costNow, budget.hardLimit, known.decayPerSec));
  }
  // Each request of the POST is throttled by the group's cost when it starts (http-meter.ts).
  const meter = new HttpRequestMeter(group, {
    budget,
    cost: () => (estimate(group)?.cost ?? 0) + (unsettled.get(group) ?? 0),
    spend: (units) => unsettled.set(group, (unsettled.get(group) ?? 0) + units),
  });
  meter.attach(c.req.raw);
  await next();
  const requestBytes = meter.requestBytes || Number(c.req.header('Content-Length') ?? '0') || 0;
  // Once charged (or the charge failed), the meter's spending is no longer this isolate's to add.
  const settled = (): void => {
    const left = (unsettled.get(group) ?? 0) - meter.methodsCost;
    if (left > 1e-9) unsettled.set(group, left);
    else unsettled.delete(group);
  };
  const charging = responseCost(c.res, requestBytes, meter, budget)
    .then((charge) => limiterOf(env, group).charge({ group, budget, charge }))
    .then((snapshot) => remember(group, snapshot))
    .catch((error: unknown) => log.warn('limits_http_charge_failed', describeError(error)))
    .finally(settled);
  c.executionCtx.waitUntil(charging);
  return undefined;
};
