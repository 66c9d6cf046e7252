// Worker entry: routes WebSocket upgrades to a Session object each, JSON-RPC over HTTP, health.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { SERVER_SOFTWARE } from '../core/protocol/version.ts';
import { loadConfig, openIndex } from './config.ts';
import type { Env } from './env.ts';
import { handleHttpRpc } from './http-rpc.ts';
import { createLogger, describeError } from './log.ts';

export { Session } from './session.ts';

const app = new Hono<{ Bindings: Env }>();

app.get('/', async (c) => {
  if (c.req.header('Upgrade')?.toLowerCase() === 'websocket') {
    // A fresh object per connection: its state is that one session's, and it hibernates alone.
    const stub = c.env.SESSION.get(c.env.SESSION.newUniqueId());
    return stub.fetch(c.req.raw);
  }
  const { coin } = loadConfig(c.env);
  return c.text(
    `${SERVER_SOFTWARE}: Electrum server for ${coin.name} ${coin.net}. ` +
      'Connect a WebSocket to this URL, or POST JSON-RPC to /rpc.\n'
  );
});

app.get('/health', async (c) => {
  const { coin } = loadConfig(c.env);
  const base = { server: SERVER_SOFTWARE, coin: coin.name, net: coin.net };
  try {
    const tip = await openIndex(c.env).tip();
    return c.json({ ok: true, ...base, height: tip === null ? -1 : tip.height });
  } catch (error) {
    createLogger(c.env.LOG_LEVEL).error('health_index_unreachable', describeError(error));
    return c.json({ ok: false, ...base, error: 'index unreachable' }, 503);
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
app.post('/rpc', handleHttpRpc);

app.onError((error, c) => {
  const fields = { path: c.req.path, ...describeError(error) };
  createLogger(c.env.LOG_LEVEL).error('request_failed', fields);
  return c.text('internal server error\n', 500);
});

export default app;
