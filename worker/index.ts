// Worker entry: routes WebSocket upgrades to a Session object each, JSON-RPC over HTTP, health.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { SERVER_SOFTWARE } from '../core/protocol/version.ts';
import { loadConfig, openIndex } from './config.ts';
import { handleHttpRpc } from './http-rpc.ts';
import { indexFailureKind } from './index-check.ts';
import { createLogger, describeError } from './log.ts';
import { notifyRoutes } from './notify-route.ts';
import { adminApp } from './admin.ts';
import type { EnvWithLimits } from './limits/limits-env.ts';
import { limitHttpRpc } from './limits/http-guard.ts';
import { admitUpgrade } from './limits/upgrade.ts';
import { walletPage } from './page/wallet-page.ts';
import { settingWarnings } from './setting-names.ts';
import { fatalSettingProblem, settingProblems } from './settings-check.ts';

export { Hub } from './hub.ts';
export { Limiter } from './limits/limiter.ts';
export { LimitsRegistry } from './limits/registry.ts';
export { Session } from './session.ts';

const app = new Hono<{ Bindings: EnvWithLimits }>();

function unavailable(text: string): Response {
  return new Response(`${text}\n`, {
    status: 503,
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
  });
}

// A bad setting is logged once per isolate and problem: every request meets it.
let loggedSettingProblem: string | null = null;

function settingProblemOf(env: EnvWithLimits): string | null {
  const problem = fatalSettingProblem(env);
  if (problem !== null && problem !== loggedSettingProblem) {
    loggedSettingProblem = problem;
    createLogger(env.LOG_LEVEL).error('bad_config', { problem });
  }
  return problem;
}

app.get('/', async (c) => {
  // A misconfigured Worker says what is wrong instead of failing inside the session (or with a
  // bare 500 on the plain page, which names the coin).
  const problem = settingProblemOf(c.env);
  if (problem !== null) return unavailable(`server misconfigured: ${problem}`);
  if (c.req.header('Upgrade')?.toLowerCase() === 'websocket') {
    // The isolate's cached verdict on the index's chain (worker/index-check.ts); null: unknown.
    const verdict = await openIndex(c.env).chainVerdict();
    if (verdict !== null && !verdict.ok) {
      return unavailable(`server cannot serve: ${verdict.reason}`);
    }
    // A fresh object per connection: its state is that one session's, and it hibernates alone.
    const id = c.env.SESSION.newUniqueId();
    // Then deny lists, session caps and the group budget (worker/limits/upgrade.ts).
    const log = createLogger(c.env.LOG_LEVEL);
    const admitted = await admitUpgrade(c.req.raw, c.env, id.toString(), log);
    if (admitted instanceof Response) return admitted;
    return c.env.SESSION.get(id).fetch(admitted);
  }
  const { coin } = loadConfig(c.env);
  return c.text(
    `${SERVER_SOFTWARE}: Electrum server for ${coin.name} ${coin.net}. ` +
      'Connect a WebSocket to this URL, or POST JSON-RPC to /rpc.\n'
  );
});

// Misspelled vars are logged once per isolate (and listed by every /health).
let typosLogged = false;

// 503 unless the settings parse as the sessions parse them and the index is of our chain.
app.get('/health', async (c) => {
  const warnings = settingWarnings(c.env);
  if (warnings.length > 0 && !typosLogged) {
    typosLogged = true;
    createLogger(c.env.LOG_LEVEL).warn('unknown_setting', { warnings: warnings.join('; ') });
  }
  const noted = warnings.length > 0 ? { warnings } : {};
  settingProblemOf(c.env);
  const problems = settingProblems(c.env);
  if (problems.length > 0) {
    const reason = problems.join('; ');
    return c.json({ ok: false, reason, server: SERVER_SOFTWARE, ...noted }, 503);
  }
  const { coin } = loadConfig(c.env);
  const base = { server: SERVER_SOFTWARE, coin: coin.name, net: coin.net, ...noted };
  try {
    const index = openIndex(c.env);
    const verdict = await index.chainVerdict();
    if (verdict !== null && !verdict.ok) {
      return c.json({ ok: false, reason: verdict.reason, ...base }, 503);
    }
    const tip = await index.tip();
    return c.json({ ok: true, ...base, height: tip === null ? -1 : tip.height });
  } catch (error) {
    createLogger(c.env.LOG_LEVEL).error('health_index_unreachable', describeError(error));
    const refused = indexFailureKind(error) === 'refused';
    const reason = refused ? 'index refused LIBSQL_AUTH_TOKEN' : 'index unreachable';
    return c.json({ ok: false, ...base, error: reason }, 503);
  }
});

// Any web wallet may call the public endpoint; tenants' allowed origins are a later task.
const RPC_CORS = cors({
  origin: '*',
  allowMethods: ['POST', 'OPTIONS'],
  allowHeaders: ['Content-Type'],
  maxAge: 86400,
});
app.use('/rpc', RPC_CORS);
// A bad setting is named here rather than failing as a 500 in the limits guard below.
app.use('/rpc', async (c, next) => {
  const problem = settingProblemOf(c.env);
  if (problem === null) return next();
  return unavailable(`server misconfigured: ${problem}`);
});
// The same per-IP budget as WebSocket sessions (worker/limits/http-guard.ts).
app.use('/rpc', limitHttpRpc);
app.post('/rpc', handleHttpRpc);
// Any other method (a browser opening the URL) is told to POST: a 404 would say there is no
// such endpoint. After the guard above, so these requests count against the budget too.
app.all('/rpc', (c) => c.text('POST JSON-RPC to /rpc\n', 405, { Allow: 'POST' }));

// The indexer's change notices (bearer secret); hubs fan them out to subscribed sessions.
app.route('/internal', notifyRoutes);

// Operators' API behind the ADMIN_TOKEN secret (deny/allow lists, IP group budgets).
app.route('/admin', adminApp);

// A watch-only wallet page over this Worker's own WebSocket (worker/page/).
app.route('/', walletPage);

app.onError((error, c) => {
  const fields = { path: c.req.path, ...describeError(error) };
  createLogger(c.env.LOG_LEVEL).error('request_failed', fields);
  return c.text('internal server error\n', 500);
});

export default app;
