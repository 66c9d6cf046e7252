// The cost model of DESIGN §6 as pure functions: bandwidth and error costs, decay, and how hard
// a group is throttled at a given cost (fewer requests at once, a sleep, or the cut-off).
import { RpcError } from '../../core/protocol/errors.ts';
import type { Budget } from './budget.ts';

/** Added per error reply: a client that keeps making mistakes pays for them (aiorpcx's base). */
export const ERROR_REPLY_COST = 100;
/** Added on top of ERROR_REPLY_COST when a message is not JSON at all (aiorpcx: ten times). */
export const UNPARSABLE_EXTRA_COST = 1000;
/**
 * Subscriptions slow the decay: DESIGN §6 puts it at hard / (10000 + 5 x subs) per second, i.e.
 * each 2000 subscriptions add one more full decay period.
 */
const SUBS_PER_EXTRA_PERIOD = 2000;

/** The cost of moving `bytes` in or out. */
export function bandwidthCost(bytes: number, budget: Budget): number {
  return bytes / budget.bandwidthUnitBytes;
}

/** Cost units that drain per second from a group holding `subscriptions`. */
export function decayPerSecond(budget: Budget, subscriptions: number): number {
  const periods = 1 + Math.max(0, subscriptions) / SUBS_PER_EXTRA_PERIOD;
  return budget.hardLimit / (budget.decaySeconds * periods);
}

/** `cost` after `elapsedMs` of decay at `perSecond`, never below zero. */
export function decayed(cost: number, elapsedMs: number, perSecond: number): number {
  return Math.max(0, cost - (Math.max(0, elapsedMs) / 1000) * perSecond);
}

/** How a request is treated at a given group cost. */
export interface Throttle {
  /** 0 at or below the soft limit, 1 at the hard limit. */
  readonly fraction: number;
  /** Requests of one session allowed to run at once. */
  readonly concurrency: number;
  /** The wait before each request runs. */
  readonly sleepMs: number;
  /** At or over the hard limit: refuse with -101 and close. */
  readonly cutOff: boolean;
}

/**
 * Between the limits the sleep grows linearly from 0 to REQUEST_SLEEP and the concurrency falls
 * from INITIAL_CONCURRENT towards 0 (rounded up, so it stays at least 1 below the hard limit).
 */
export function throttleAt(cost: number, budget: Budget): Throttle {
  const range = budget.hardLimit - budget.softLimit;
  const fraction = Math.min(1, Math.max(0, (cost - budget.softLimit) / range));
  return {
    fraction,
    concurrency: Math.max(0, Math.ceil((1 - fraction) * budget.initialConcurrent)),
    sleepMs: fraction * budget.requestSleepMs,
    cutOff: cost >= budget.hardLimit,
  };
}

/** Seconds until `cost` decays below `target` at `perSecond` (0 when already below). */
export function secondsUntilBelow(cost: number, target: number, perSecond: number): number {
  if (cost < target) return 0;
  return perSecond > 0 ? (cost - target) / perSecond : Number.POSITIVE_INFINITY;
}

/**
 * secondsUntilBelow as a Retry-After header: whole seconds, at least one; an hour when the cost
 * does not decay.
 */
export function retryAfterSec(cost: number, target: number, perSecond: number): number {
  const seconds = secondsUntilBelow(cost, target, perSecond);
  return Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : 3600;
}

// Every error reply is written by encodeError (core/protocol/framing.ts) as
// {"jsonrpc":"2.0","error":{"code":N,...}: this key sequence cannot occur inside a JSON string
// (its quotes would be escaped), so counting it counts the error replies in a frame exactly.
const ERROR_MARKER = '"error":{"code":';
const PARSE_ERROR_MARKER = '"error":{"code":-32700,';
// -101 answers are the cut-off itself; charging them too would turn one refused batch into
// days of lockout, so they are free. So is -102, a request that waited in the server's queue
// past REQUEST_TIMEOUT: charging it let a busy server cut off the wallets that waited on it.
// Internal errors (-32603) stay charged: a request that fails after reading a lot must not be
// a way to read for free.
const FREE_ERROR_MARKERS = ['"error":{"code":-101,', '"error":{"code":-102,'];

function occurrences(text: string, marker: string): number {
  let count = 0;
  for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + marker.length)) {
    count += 1;
  }
  return count;
}

/** The number of charged error replies in a reply frame (all but -101 and -102). */
export function errorReplyCount(reply: string): number {
  if (!reply.includes(ERROR_MARKER)) return 0;
  let free = 0;
  for (const marker of FREE_ERROR_MARKERS) free += occurrences(reply, marker);
  return occurrences(reply, ERROR_MARKER) - free;
}

/**
 * Whether a handler's failure costs an error reply: all do but the free kinds errorReplyCount
 * leaves out (the cut-off, a request timed out in the server's queue).
 */
export function chargedAsError(error: unknown): boolean {
  if (!(error instanceof RpcError)) return true;
  return error.code !== -101 && error.code !== -102;
}

/** The error part of a reply frame's cost: 100 per error reply, 1,000 more per parse error. */
export function errorRepliesCost(reply: string): number {
  if (!reply.includes(ERROR_MARKER)) return 0;
  const parseErrors = occurrences(reply, PARSE_ERROR_MARKER);
  return errorReplyCount(reply) * ERROR_REPLY_COST + parseErrors * UNPARSABLE_EXTRA_COST;
}
