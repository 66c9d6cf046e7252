// Tests of the admin RPC over real HTTP on 127.0.0.1: auth, JSON-RPC replies, errors, redaction.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcError } from '../core/protocol/errors.ts';
import { adminRpcSettings, startAdminRpc, type AdminRpcServer } from './admin-rpc.ts';
import { createLogger } from './logger.ts';

const USER = 'ops-test-user';
const PASSWORD = 'V3ry-l0ng-test-passw0rd-4f1c';
const NODE_PASSWORD = 'node-rpc-secret-9a8b7c';

interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function post(
  port: number,
  body: string,
  headers: Record<string, string> = {}
): Promise<HttpReply> {
  return new Promise((done, fail) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          done({ status: res.statusCode ?? 0, headers: res.headers, body: text });
        });
      }
    );
    req.on('error', fail);
    req.end(body);
  });
}

const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

describe('admin RPC', () => {
  let server: AdminRpcServer;
  const logLines: string[] = [];
  const stopCalls: unknown[] = [];

  beforeAll(async () => {
    server = await startAdminRpc({
      host: '127.0.0.1',
      port: 0,
      user: USER,
      password: PASSWORD,
      secrets: [NODE_PASSWORD],
      authFailureDelayMs: 20,
      logger: createLogger({ destination: { write: (line) => logLines.push(line) } }),
      handlers: {
        getinfo: () => ({
          height: 42,
          daemon: `http://rpc:${NODE_PASSWORD}@127.0.0.1:7332`,
          big: 2n ** 60n,
        }),
        echo: (params) => params,
        stop: (params) => {
          stopCalls.push(params);
          return 'stopping';
        },
        refuse: () => {
          throw new RpcError(1, `bad session id, admin password is ${PASSWORD}`);
        },
        crash: () => {
          throw new Error(`database at /data failed with token ${NODE_PASSWORD}`);
        },
        slow: async () => {
          await new Promise((done) => setTimeout(done, 5));
          return 'done';
        },
      },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  const call = (body: unknown, headers = basic(USER, PASSWORD)) =>
    post(server.port, JSON.stringify(body), { 'content-type': 'application/json', ...headers });

  it('refuses a request without credentials with 401 and a JSON-RPC error', async () => {
    const reply = await call({ jsonrpc: '2.0', id: 1, method: 'getinfo' }, {});
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect(JSON.parse(reply.body)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32001, message: 'unauthorized' },
    });
  });

  it.each([
    ['a wrong password', basic(USER, 'wrong-password-xxxxxxxx')],
    ['a wrong user', basic('someone-else', PASSWORD)],
    ['the password as user', basic(PASSWORD, USER)],
    ['no colon', { authorization: `Basic ${Buffer.from(USER + PASSWORD).toString('base64')}` }],
    ['a bearer token', { authorization: `Bearer ${PASSWORD}` }],
  ])('refuses %s', async (_case, headers) => {
    const reply = await call({ jsonrpc: '2.0', id: 1, method: 'getinfo' }, headers);
    expect(reply.status).toBe(401);
    expect(reply.body).not.toContain(PASSWORD);
  });

  it('answers with the right credentials, bigint exact, secrets redacted', async () => {
    const reply = await call({ jsonrpc: '2.0', id: 7, method: 'getinfo' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.body).toContain('"big":1152921504606846976');
    expect(reply.body).not.toContain(NODE_PASSWORD);
    const parsed = JSON.parse(reply.body) as {
      id: number;
      result: { height: number; daemon: string };
    };
    expect(parsed.id).toBe(7);
    expect(parsed.result.height).toBe(42);
    expect(parsed.result.daemon).toBe('http://rpc:***@127.0.0.1:7332');
  });

  it('passes positional params and echoes string ids', async () => {
    const reply = await call({ jsonrpc: '2.0', id: 'a', method: 'echo', params: [1, 'two', [3]] });
    expect(JSON.parse(reply.body)).toEqual({ jsonrpc: '2.0', id: 'a', result: [1, 'two', [3]] });
  });

  it('answers a batch in order and skips notifications', async () => {
    const reply = await call([
      { jsonrpc: '2.0', id: 1, method: 'slow' },
      { jsonrpc: '2.0', method: 'stop', params: ['now'] },
      { jsonrpc: '2.0', id: 2, method: 'echo', params: [] },
    ]);
    expect(JSON.parse(reply.body)).toEqual([
      { jsonrpc: '2.0', id: 1, result: 'done' },
      { jsonrpc: '2.0', id: 2, result: [] },
    ]);
    expect(stopCalls).toEqual([['now']]);
  });

  const req = (method: unknown, params?: unknown) => ({ jsonrpc: '2.0', id: 1, method, params });
  // The handlers this file gives the server, in order.
  const COMMANDS = 'the commands: crash, echo, getinfo, refuse, slow, stop';

  it.each([
    ['an unknown method', req('nope'), -32601, `unknown method "nope"; ${COMMANDS}`],
    ['a prototype name', req('constructor'), -32601, `unknown method "constructor"; ${COMMANDS}`],
    ['__proto__', req('__proto__'), -32601, `unknown method "__proto__"; ${COMMANDS}`],
    ['params that are an object', req('echo', { a: 1 }), -32602, 'params must be a list'],
    ['a non-object request', 5, -32600, 'request object must be a dictionary'],
    ['an empty batch', [], -32600, 'batch is empty'],
    ['a method that is not a string', req(3), -32600, 'method must be a string'],
  ])('replies to %s with a JSON-RPC error', async (_case, body, code, message) => {
    const reply = await call(body);
    const parsed = JSON.parse(reply.body) as { error: { code: number; message: string } };
    expect(parsed.error).toEqual({ code, message });
  });

  it('replies to invalid JSON with -32700', async () => {
    const reply = await post(server.port, '{"id":', basic(USER, PASSWORD));
    expect(JSON.parse(reply.body)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'invalid JSON' },
    });
  });

  it('passes an RpcError through with the password redacted', async () => {
    const reply = await call({ jsonrpc: '2.0', id: 3, method: 'refuse' });
    expect(reply.body).not.toContain(PASSWORD);
    expect(JSON.parse(reply.body)).toEqual({
      jsonrpc: '2.0',
      id: 3,
      error: { code: 1, message: 'bad session id, admin password is ***' },
    });
  });

  it('turns an unexpected failure into -32603 and logs the detail, redacted', async () => {
    const reply = await call({ jsonrpc: '2.0', id: 4, method: 'crash' });
    expect(JSON.parse(reply.body)).toEqual({
      jsonrpc: '2.0',
      id: 4,
      error: { code: -32603, message: 'internal server error' },
    });
    const logged = logLines.join('');
    expect(logged).toContain('database at /data failed');
    expect(logged).not.toContain(NODE_PASSWORD);
  });

  it('refuses requests from web pages (Origin header) even with credentials', async () => {
    const reply = await call({ jsonrpc: '2.0', id: 1, method: 'getinfo' }, {
      ...basic(USER, PASSWORD),
      origin: 'https://evil.example',
    });
    expect(reply.status).toBe(403);
    expect(reply.body).not.toContain('42');
  });

  it('refuses a body over the size limit', async () => {
    const reply = await post(server.port, 'x'.repeat(1_100_000), basic(USER, PASSWORD));
    expect(reply.status).toBe(413);
  });
});

describe('startAdminRpc', () => {
  it('refuses to start without a password', async () => {
    const started = startAdminRpc({ user: 'ops', password: '', port: 0, handlers: {} });
    await expect(started).rejects.toThrow(/RPC_PASSWORD/);
  });

  it('reads RPC_HOST, RPC_PORT, RPC_USER and RPC_PASSWORD with loopback defaults', () => {
    expect(adminRpcSettings({})).toEqual({ host: '127.0.0.1', port: 8000, user: '', password: '' });
    const env = { RPC_HOST: '::1', RPC_PORT: '9000', RPC_USER: 'u', RPC_PASSWORD: 'p' };
    expect(adminRpcSettings(env)).toEqual({
      host: '::1',
      port: 9000,
      user: 'u',
      password: 'p',
    });
    expect(() => adminRpcSettings({ RPC_PORT: 'http' })).toThrow(/RPC_PORT/);
  });
});
