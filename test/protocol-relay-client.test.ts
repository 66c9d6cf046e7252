// The Worker's relay client against a stand-in relay: how each relay answer reaches the wallet.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcError } from '../core/protocol/errors.ts';
import { parseRef } from '../worker/methods/refs.ts';
import { HttpTxRelay, rejectionMessage } from '../worker/relay-client.ts';

const SECRET = 'relay-client-secret-0123456789';
let server: Server;
let url = '';
let reply: { status: number; body: string } = { status: 200, body: '{}' };
const seen: { authorization?: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += String(chunk)));
    req.on('end', () => {
      seen.push({ authorization: req.headers.authorization, body });
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/broadcast`;
});

afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
});

async function outcome(status: number, body: string): Promise<unknown> {
  reply = { status, body };
  try {
    return await new HttpTxRelay({ url, secret: SECRET }).broadcast('0100abcd');
  } catch (error) {
    return error;
  }
}

describe('HttpTxRelay', () => {
  it('sends the raw tx with the bearer secret and returns the txid', async () => {
    const txid = 'ab'.repeat(32);
    expect(await outcome(200, JSON.stringify({ txid }))).toBe(txid);
    expect(seen.at(-1)).toEqual({
      authorization: `Bearer ${SECRET}`,
      body: JSON.stringify({ rawtx: '0100abcd' }),
    });
  });

  it("turns the node's rejection into ElectrumX's code 1 text, verbatim", async () => {
    const rejected = JSON.stringify({ rejected: { code: -26, message: 'min relay fee not met' } });
    const error = await outcome(422, rejected);
    expect(error).toBeInstanceOf(RpcError);
    // DESIGN §5 / ElectrumX: "the transaction was rejected by network rules.\n\n<msg>\n[<raw>]".
    expect((error as RpcError).code).toBe(1);
    expect((error as RpcError).message).toBe(
      'the transaction was rejected by network rules.\n\nmin relay fee not met\n[0100abcd]'
    );
    const expected = 'the transaction was rejected by network rules.\n\nx\n[y]';
    expect(rejectionMessage('x', 'y')).toBe(expected);
  });

  it('tells the wallet, as a daemon error, that the node is down or silent', async () => {
    const down = await outcome(502, '{"error":"the node is unavailable"}');
    expect(down).toBeInstanceOf(RpcError);
    expect((down as RpcError).code).toBe(2);
    expect((down as RpcError).message).toBe(
      'daemon error: the node is unavailable, the transaction was not sent; try again later'
    );
    const silent = await outcome(504, '{"error":"the node did not answer in time"}');
    expect((silent as RpcError).code).toBe(2);
    expect((silent as RpcError).message).toMatch(/may have been sent, and broadcasting it again/);
  });

  it('treats every other answer as our own failure, not a client mistake', async () => {
    for (const [status, body] of [
      [400, '{"error":"rawtx is not a transaction"}'],
      [401, '{"error":"unauthorized"}'],
      [200, '{"nothing":1}'],
      [500, 'not json'],
    ] as const) {
      const error = await outcome(status, body);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(RpcError);
    }
  });
});

describe('parseRef', () => {
  it('reads a display txid and a big-endian vout into the index key', () => {
    const txidDisplay = `${'00'.repeat(31)}ff`;
    const ref = parseRef(`${txidDisplay}00000102`);
    // Internal order: the txid reversed, then the vout 0x0102 little-endian.
    expect(Buffer.from(ref).toString('hex')).toBe(`ff${'00'.repeat(31)}02010000`);
    for (const bad of ['12ab', 'zz'.repeat(36), 5, null, `${'ab'.repeat(36)}00`]) {
      expect(() => parseRef(bad)).toThrow(RpcError);
    }
  });
});
