// Admin routes of sessions, groups, the banner and the metrics (mounted at /admin):
//   GET  /admin/sessions                 open sessions (id, group, client, subscriptions, cost)
//   POST /admin/sessions/disconnect      {"id": "<session id>"} or {"group": "<network or tag>"}
//   GET  /admin/groups                   every IP group a Limiter reported, with cost and sessions
//   GET  /admin/banner, PUT /admin/banner {"banner": "text"} (null or "" restores BANNER)
//   GET  /admin/metrics                  Prometheus text format
import { Hono, type Context } from 'hono';
import { forgetBannerCache, MAX_BANNER_CHARS } from './admin-sessions-banner.ts';
import { isSessionId, toListing } from './admin-sessions-directory.ts';
import { loadConfig } from './config.ts';
import { decideAccess } from './limits/access-rules.ts';
import { parseIp } from './limits/ip-address.ts';
import { limitsConfig } from './limits/limits-config.ts';
import type { EnvWithLimits } from './limits/limits-env.ts';
import { groupLabel } from './limits/limits-log.ts';
import { readLimitSettings } from './limits/budget.ts';
import { REGISTRY_NAME } from './limits/registry.ts';
import { createLogger, describeError } from './log.ts';
import { renderPrometheus } from './metrics-book.ts';

type AdminContext = Context<{ Bindings: EnvWithLimits }>;

/** The Session object's admin method (worker/session.ts). */
interface SessionAdminRpc extends Rpc.DurableObjectBranded {
  disconnect(reason: string): Promise<boolean>;
}

/** Most groups GET /admin/groups asks Limiters about in one answer. */
export const MAX_GROUPS_LISTED = 500;

/** The routes, mounted at /admin next to /admin/limits. */
export const adminSessionRoutes = new Hono<{ Bindings: EnvWithLimits }>();

function registry(env: EnvWithLimits) {
  return env.LIMITS_REGISTRY.get(env.LIMITS_REGISTRY.idFromName(REGISTRY_NAME));
}

async function jsonBody(c: AdminContext): Promise<Record<string, unknown> | null> {
  const body: unknown = await c.req.json().catch(() => null);
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : null;
}

adminSessionRoutes.get('/sessions', async (c) => {
  const reports = await registry(c.env).listSessions();
  return c.json({ sessions: reports.map(toListing) });
});

// Closes one Session object; false when it has no open socket (already gone).
async function disconnectSession(env: EnvWithLimits, id: string): Promise<boolean> {
  // Env declares SESSION untyped (worker/env.ts); its objects are Sessions, which have this method.
  const sessions = env.SESSION as unknown as DurableObjectNamespace<SessionAdminRpc>;
  return sessions.get(sessions.idFromString(id)).disconnect('disconnected by the operator');
}

// The group a client address belongs to (the indexer's `disconnect <ip>`); null when exempt.
function groupOfAddress(env: EnvWithLimits, text: string): string | null {
  const address = parseIp(text);
  if (address === null) return null;
  const lists = { deny: [], allow: [], sessionsOpen: 0 };
  const access = decideAccess(address, limitsConfig(env).settings, lists);
  return access.kind === 'limited' ? access.group : null;
}

// {"id"} names one session, {"group"} every session of a group; the indexer's `disconnect`
// command sends {"target"}: a session id, a client address, or a group.
async function targetIds(env: EnvWithLimits, body: Record<string, unknown>): Promise<string[]> {
  const { id, group, target } = body;
  if (typeof id === 'string') return [id.toLowerCase()];
  if (typeof target === 'string' && isSessionId(target.toLowerCase())) {
    return [target.toLowerCase()];
  }
  const named = typeof group === 'string' ? group : typeof target === 'string' ? target : null;
  if (named === null) return [];
  const addressGroup = groupOfAddress(env, named);
  if (addressGroup !== null) return registry(env).sessionIdsInGroup(addressGroup);
  return registry(env).sessionIdsInGroup(named.slice(0, 100));
}

adminSessionRoutes.post('/sessions/disconnect', async (c) => {
  const body = await jsonBody(c);
  if (body === null) {
    return c.json({ error: 'send a JSON body {"id": ...} or {"group": ...}' }, 400);
  }
  const ids = await targetIds(c.env, body);
  const bad = ids.find((id) => !isSessionId(id));
  if (bad !== undefined) {
    return c.json({ error: `${bad.slice(0, 80)} is not a session id (64 hex digits)` }, 400);
  }
  if (ids.length === 0) return c.json({ error: 'no open session matches' }, 404);
  const closed = await Promise.all(ids.map((id) => disconnectSession(c.env, id)));
  const disconnected = ids.filter((_, index) => closed[index] === true);
  if (disconnected.length === 0) return c.json({ error: 'no open session matches' }, 404);
  createLogger(c.env.LOG_LEVEL).info('admin_disconnect', { sessions: disconnected.length });
  return c.json({ disconnected });
});

adminSessionRoutes.get('/groups', async (c) => {
  const names = (await registry(c.env).groups()).slice(0, MAX_GROUPS_LISTED);
  const { anonLogs } = readLimitSettings({ ANON_LOGS: c.env.ANON_LOGS });
  const views = await Promise.all(
    names.map(async (name) => {
      try {
        const view = await c.env.LIMITER.get(c.env.LIMITER.idFromName(name)).inspect();
        return view === null ? null : { ...view, group: groupLabel(view.group, anonLogs) };
      } catch (error) {
        createLogger(c.env.LOG_LEVEL).warn('admin_group_inspect_failed', describeError(error));
        return null;
      }
    })
  );
  return c.json({ groups: views.filter((view) => view !== null) });
});

adminSessionRoutes.get('/banner', async (c) => {
  const stored = await registry(c.env).banner();
  const banner = stored ?? loadConfig(c.env).server.banner;
  return c.json({ banner, source: stored === null ? 'vars' : 'admin' });
});

adminSessionRoutes.put('/banner', async (c) => {
  const body = await jsonBody(c);
  const text = body?.banner;
  if (body === null || (typeof text !== 'string' && text !== null)) {
    return c.json({ error: 'send a JSON body {"banner": "text"} (null restores BANNER)' }, 400);
  }
  if (typeof text === 'string' && text.length > MAX_BANNER_CHARS) {
    const error = `the banner has ${text.length} characters, over ${MAX_BANNER_CHARS}`;
    return c.json({ error }, 400);
  }
  const stored = text === null || text === '' ? null : text;
  await registry(c.env).setBanner(stored);
  forgetBannerCache();
  return c.json({ banner: stored ?? loadConfig(c.env).server.banner });
});

adminSessionRoutes.get('/metrics', async (c) => {
  const { state, sessionsOpen } = await registry(c.env).metrics();
  c.header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
  return c.body(renderPrometheus(state, sessionsOpen));
});

