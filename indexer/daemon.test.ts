// The node client against a scripted JSON-RPC server on 127.0.0.1: auth, batches, errors, retries.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Daemon,
  DaemonRpcError,
  DaemonStoppedError,
  NodeReachability,
  type DaemonOptions,
} from './daemon.ts';

type Handler = (body: unknown, req: IncomingMessage, res: ServerResponse) => void;

interface Mock {
  port: number;
  requests: { body: unknown; authorization: string | undefined }[];
  close(): Promise<void>;
}

const servers: Server[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

async function mockNode(handler: Handler, port = 0): Promise<Mock> {
  const requests: Mock['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      requests.push({ body, authorization: req.headers.authorization });
      handler(body, req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

type Answer = (method: string, params: unknown[]) => { result?: unknown; error?: unknown };

/** Answers each call of a batch with `answer(method, params)`: {result} or {error}. */
function replying(answer: Answer): Handler {
  return (body, _req, res) => {
    const calls = body as { id: number; method: string; params: unknown[] }[];
    const replies = calls.map((c) => ({
      result: null,
      error: null,
      ...answer(c.method, c.params),
      id: c.id,
    }));
    json(res, 200, replies);
  };
}

/** A loopback port where a node just stopped listening (a node that is down). */
async function portOfStoppedNode(): Promise<number> {
  const probe = await mockNode(() => {});
  await probe.close();
  servers.length = 0;
  return probe.port;
}

function daemonFor(port: number, extra: Partial<DaemonOptions> = {}): Daemon {
  return new Daemon({
    url: `http://127.0.0.1:${port}`,
    user: 'alice',
    password: 'pw:1',
    firstRetryMs: 10,
    maxRetryMs: 40,
    ...extra,
  });
}

function logLines(spy: { mock: { calls: unknown[][] } }): Record<string, unknown>[] {
  return spy.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>);
}

describe('Daemon', () => {
  it('sends basic auth and a JSON-RPC batch, and returns results and errors per slot', async () => {
    const node = await mockNode(
      replying((method, params) =>
        method === 'getblockhash' && params[0] === 0
          ? { result: 'ab'.repeat(32) }
          : { error: { code: -8, message: 'Block height out of range' } }
      )
    );
    const daemon = daemonFor(node.port);
    const replies = await daemon.batch([
      { method: 'getblockhash', params: [0] },
      { method: 'getblockhash', params: [9] },
    ]);
    expect(replies[0]).toBe('ab'.repeat(32));
    expect(replies[1]).toBeInstanceOf(DaemonRpcError);
    expect((replies[1] as DaemonRpcError).code).toBe(-8);
    const basic = Buffer.from('alice:pw:1').toString('base64');
    expect(node.requests[0]?.authorization).toBe(`Basic ${basic}`);
    expect(node.requests[0]?.body).toEqual([
      { jsonrpc: '1.0', id: 1, method: 'getblockhash', params: [0] },
      { jsonrpc: '1.0', id: 2, method: 'getblockhash', params: [9] },
    ]);
  });

  it('throws a node error from call() without retrying', async () => {
    const notFound = { error: { code: -5, message: 'Block not found' } };
    const node = await mockNode(replying(() => notFound));
    const error = await daemonFor(node.port).call('getblock', ['00', 0]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonRpcError);
    expect(String(error)).toMatch(/getblock: node error -5: Block not found/);
    expect(node.requests).toHaveLength(1);
  });

  it('retries garbage, warm-up and HTTP 500 text; one log line per state change', async () => {
    const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
    let calls = 0;
    const WARMUP = { code: -28, message: 'Loading block index...' };
    const node = await mockNode((body, _req, res) => {
      calls += 1;
      const id = (body as { id: number }[])[0]?.id;
      if (calls <= 2) res.writeHead(200).end('<html>not json');
      else if (calls <= 4) json(res, 200, [{ result: null, error: WARMUP, id }]);
      else if (calls === 5) res.writeHead(500).end('Internal Server Error');
      else json(res, 200, [{ result: 42, error: null, id }]);
    });
    await expect(daemonFor(node.port).call('getblockcount')).resolves.toBe(42);
    expect(calls).toBe(6);
    const events = logLines(spy).map((line) => [line.event, line.reason ?? line.was]);
    expect(events).toEqual([
      ['daemon_unavailable', 'garbage'],
      ['daemon_unavailable', 'warming_up'],
      ['daemon_unavailable', 'garbage'],
      ['daemon_available', 'garbage'],
    ]);
  });

  it('waits for a node that is down, logging once, and never logs the password', async () => {
    const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
    const port = await portOfStoppedNode();
    const pending = daemonFor(port).call('getblockcount');
    // The node comes back only once the daemon has found it down, however long that takes.
    for (let round = 0; round < 500 && logLines(spy).length === 0; round++) {
      await new Promise((done) => setTimeout(done, 10));
    }
    await mockNode(replying(() => ({ result: 7 })), port);
    await expect(pending).resolves.toBe(7);
    const lines = logLines(spy);
    expect(lines.map((line) => line.event)).toEqual(['daemon_unavailable', 'daemon_available']);
    expect(lines[0]?.reason).toBe('down');
    expect(JSON.stringify(lines)).not.toContain('pw:1');
  });

  it('logs one outage once when two clients of the node share its reachability', async () => {
    const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
    const port = await portOfStoppedNode();
    // As the indexer's sync and broadcast relay: two Daemons of one node.
    const reachability = new NodeReachability(`http://127.0.0.1:${port}`);
    const sync = daemonFor(port, { reachability });
    const relay = daemonFor(port, { reachability, giveUpAfterMs: 100 });
    const pending = sync.call('getblockcount');
    for (let round = 0; round < 500 && logLines(spy).length === 0; round++) {
      await new Promise((done) => setTimeout(done, 10));
    }
    await expect(relay.call('sendrawtransaction', ['00'])).rejects.toThrow(DaemonStoppedError);
    expect([sync.reachability, relay.reachability]).toEqual(['down', 'down']);
    await mockNode(replying(() => ({ result: 7 })), port);
    await expect(pending).resolves.toBe(7);
    const events = logLines(spy).map((line) => line.event);
    expect(events).toEqual(['daemon_unavailable', 'daemon_available']);
    expect(relay.reachability).toBe('ok');
  });

  it('treats 401 as unavailable and gives up after its budget', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const node = await mockNode((_body, _req, res) => res.writeHead(401).end());
    const started = Date.now();
    const daemon = daemonFor(node.port, { giveUpAfterMs: 150 });
    const error = await daemon.call('getblockcount').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonStoppedError);
    expect(String(error)).toMatch(/unauthorized/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('stops retrying at once when its signal aborts', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const node = await mockNode((_body, _req, res) => res.writeHead(200).end('garbage'));
    const controller = new AbortController();
    // A first retry far longer than any stall of a loaded machine: ending well before it shows
    // the abort cut the sleep short.
    const firstRetryMs = 10_000;
    const daemon = daemonFor(node.port, { firstRetryMs, signal: controller.signal });
    const pending = daemon.call('x');
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await expect(pending).rejects.toBeInstanceOf(DaemonStoppedError);
    expect(Date.now() - started).toBeLessThan(firstRetryMs / 2);
  });

  it('retries a block hash of the wrong shape as garbage', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    let calls = 0;
    const node = await mockNode(
      replying(() => {
        calls += 1;
        return { result: calls === 1 ? 'xyz' : 'CD'.repeat(32) };
      })
    );
    await expect(daemonFor(node.port).blockHashes(5, 1)).resolves.toEqual(['cd'.repeat(32)]);
    expect(calls).toBe(2);
  });

  it('decodes blocks into plain Uint8Arrays and refuses non-hex block data', async () => {
    const node = await mockNode(
      replying((_method, params) => ({ result: params[0] === 'good' ? '00FFab' : '00zz' }))
    );
    const daemon = daemonFor(node.port);
    const [block] = await daemon.blocks(['good']);
    expect(block).toEqual(Uint8Array.of(0x00, 0xff, 0xab));
    expect(Buffer.isBuffer(block)).toBe(false);
    await expect(daemon.blocks(['bad'])).rejects.toThrow(
      /getblock: node error 0: bad: non-hex character at 2/
    );
  });

  it('reads the tip height and retries an answer that is not one', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    let calls = 0;
    const node = await mockNode(replying(() => ({ result: ++calls === 1 ? '12' : 12 })));
    await expect(daemonFor(node.port).blockCount()).resolves.toBe(12);
    expect(calls).toBe(2);
  });
});
