// /admin/*: the operators' API behind the ADMIN_TOKEN bearer secret. Routes of each concern
// live in their own file (admin-limits.ts: deny/allow lists and IP groups; admin-sessions.ts:
// sessions, groups, the banner and the metrics).
import { Hono } from 'hono';
import { checkAdminAuth } from './admin-auth.ts';
import { adminLimitRoutes } from './admin-limits.ts';
import { adminSessionRoutes } from './admin-sessions.ts';
import type { EnvWithLimits } from './limits/limits-env.ts';
import { createLogger } from './log.ts';

/** The admin API, mounted at /admin by worker/index.ts. */
export const adminApp = new Hono<{ Bindings: EnvWithLimits }>();

adminApp.use('*', async (c, next) => {
  const verdict = await checkAdminAuth(c.env.ADMIN_TOKEN, c.req.header('Authorization'));
  if (verdict === 'ok') return next();
  if (verdict === 'disabled') {
    const error = 'admin API disabled: set the ADMIN_TOKEN secret (24+ characters)';
    return c.json({ error }, 503);
  }
  // The presented token is neither logged nor echoed.
  createLogger(c.env.LOG_LEVEL).info('admin_unauthorized', { path: c.req.path });
  c.header('WWW-Authenticate', 'Bearer realm="admin"');
  return c.json({ error: 'unauthorized' }, 401);
});

adminApp.route('/limits', adminLimitRoutes);
adminApp.route('/', adminSessionRoutes);
