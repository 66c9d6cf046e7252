// Admission of a WebSocket upgrade: denied networks get 403, a full namespace 503, a group at its
// session cap or hard limit 429; everyone else goes on to their Session object with a ticket.
import { describeError, type Logger } from '../log.ts';
import { clientAddress, decideAccess } from './access-rules.ts';
import { runtimeLists } from './access.ts';
import type { Budget } from './budget.ts';
import type { OpenVerdict } from './group-ledger.ts';
import { limitsConfig } from './limits-config.ts';
import type { LimitsEnv } from './limits-env.ts';
import { groupLabel } from './limits-log.ts';
import { TICKET_HEADER, type SessionTicket } from './session-ticket.ts';

const ZERO_SNAPSHOT = { cost: 0, decayPerSec: 0, sessions: 0, subscriptions: 0 };

function refusal(status: number, text: string, retryAfterSec?: number): Response {
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
  if (retryAfterSec !== undefined) headers['Retry-After'] = String(retryAfterSec);
  return new Response(`${text}\n`, { status, headers });
}

function refusedByGroup(verdict: Extract<OpenVerdict, { admitted: false }>): Response {
  const text =
    verdict.reason === 'cost'
      ? 'excessive resource usage from your network; try again later'
      : 'too many sessions from your network';
  return refusal(429, text, verdict.retryAfterSec);
}

function withTicket(request: Request, ticket: SessionTicket): Request {
  const headers = new Headers(request.headers);
  headers.delete(TICKET_HEADER);
  headers.set(TICKET_HEADER, JSON.stringify(ticket));
  return new Request(request, { headers });
}

/**
 * Decides an upgrade for the Session object `sessionId`. Returns the refusal to send, or the
 * request to forward (with its ticket). `budget` is the anonymous one unless a plan gives another.
 */
export async function admitUpgrade(
  request: Request,
  env: LimitsEnv,
  sessionId: string,
  log: Logger,
  budget?: Budget
): Promise<Response | Request> {
  const { settings, budget: publicBudget } = limitsConfig(env);
  const inForce = budget ?? publicBudget;
  const lists = await runtimeLists(env, settings, log);
  const access = decideAccess(clientAddress(request.headers), settings, lists);
  if (access.kind === 'denied') {
    if (log.debugEnabled) log.debug('limits_upgrade_denied', { entry: access.entry });
    return refusal(403, 'forbidden');
  }
  if (access.kind === 'exempt') {
    const ticket = {
      exempt: true,
      group: null,
      label: 'exempt',
      budget: inForce,
      snapshot: ZERO_SNAPSHOT,
    };
    return withTicket(request, ticket);
  }
  if (lists.sessionsOpen >= settings.maxSessions) {
    log.warn('limits_namespace_full', { sessions: lists.sessionsOpen, max: settings.maxSessions });
    return refusal(503, 'server is at its session limit; try again later', 30);
  }
  const label = groupLabel(access.group, settings.anonLogs);
  const limiter = env.LIMITER.get(env.LIMITER.idFromName(access.group));
  let verdict: OpenVerdict;
  try {
    verdict = await limiter.openSession({ group: access.group, sessionId, budget: inForce });
  } catch (error) {
    // Fail open: the session still meters itself and retries its settles with the Limiter.
    log.warn('limits_limiter_unreachable', { group: label, ...describeError(error) });
    verdict = { admitted: true, snapshot: ZERO_SNAPSHOT };
  }
  if (!verdict.admitted) {
    if (log.debugEnabled) {
      log.debug('limits_upgrade_refused', { group: label, reason: verdict.reason });
    }
    return refusedByGroup(verdict);
  }
  const { snapshot } = verdict;
  const { group } = access;
  return withTicket(request, { exempt: false, group, label, budget: inForce, snapshot });
}
