// The index server on the wire, checked with raw fetch against HTTP_V2_SPEC and HRANA_3_SPEC.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexServer } from '../indexer/index-server/server.ts';
import { TEST_TOKEN, type TempIndex } from '../indexer/index-server/test-index.ts';
import {
  serveWithTestToken,
  startTempIndexServer,
  type TempIndexServer,
} from './support/local-index.ts';

const MAX_BODY_BYTES = 64 * 1024;

let fixture: TempIndexServer;
let index: TempIndex;
let server: IndexServer;

beforeAll(async () => {
  fixture = await startTempIndexServer({ maxBodyBytes: MAX_BODY_BYTES });
  ({ index, server } = fixture);
});

afterAll(() => fixture.stop());

interface Reply {
  status: number;
  type: string | null;
  text: string;
  json: unknown;
}

type Json = Record<string, unknown>;

interface BatchResult {
  step_results: (Json | null)[];
  step_errors: (Json | null)[];
}

async function send(path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(`${server.url}${path}`, init);
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type'), text, json };
}

function post(path: string, body: unknown, token: string | null = TEST_TOKEN): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  return send(path, { method: 'POST', headers, body: JSON.stringify(body) });
}

function stmt(sql: string, args: unknown[] = []): Json {
  return { sql, args };
}

// The pipeline response body, asserted to be a 200 with the spec's top-level shape.
async function pipeline(requests: unknown[], baton: string | null = null, version = 2) {
  const reply = await post(`/v${version}/pipeline`, { baton, requests });
  expect(reply.status, reply.text).toBe(200);
  const body = reply.json as { baton: string | null; base_url: string | null; results: Json[] };
  expect(body.base_url).toBeNull();
  expect(body.results).toHaveLength(requests.length);
  return body;
}

function okResponse(result: Json | undefined): Json {
  expect(result?.['type'], JSON.stringify(result)).toBe('ok');
  return result?.['response'] as Json;
}

function errorOf(result: Json | undefined): Json {
  expect(result?.['type'], JSON.stringify(result)).toBe('error');
  return result?.['error'] as Json;
}

describe('version checks and health', () => {
  it('answers GET /v2 and /v3 with 2xx and no token, /v3-protobuf with 404', async () => {
    expect((await send('/v2')).status).toBe(200);
    expect((await send('/v3')).status).toBe(200);
    expect((await send('/v3-protobuf')).status).toBe(404);
    expect((await send('/v3-protobuf/pipeline', { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('answers /health', async () => {
    const reply = await send('/health');
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: 'ok' });
  });

  it('gives 404 for unknown paths and 405 for wrong methods, as JSON errors', async () => {
    const missing = await send('/v1/execute', { method: 'POST', body: '{}' });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: 'NOT_FOUND' });
    const wrongMethod = await send('/v2/pipeline');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.json).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
  });
});

describe('values on the wire', () => {
  it('encodes integers as decimal strings, and floats, text, blobs and nulls', async () => {
    const columns = 'SELECT amount, ratio, label, payload FROM items';
    const reordered = 'SELECT label, payload, amount, ratio FROM items';
    const body = await pipeline([
      { type: 'execute', stmt: stmt(`${columns} WHERE id = 2`) },
      { type: 'execute', stmt: stmt(`${reordered} WHERE id IN (4, 5) ORDER BY id`) },
      { type: 'close' },
    ]);
    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const row2 = (okResponse(body.results[0])['result'] as Json)['rows'] as unknown[][];
    expect(row2[0]).toEqual([
      { type: 'integer', value: '9223372036854775807' },
      { type: 'float', value: 1e308 },
      { type: 'text', value: 'beta' },
      { type: 'blob', base64: allBytes.toString('base64') },
    ]);
    const rows45 = (okResponse(body.results[1])['result'] as Json)['rows'] as unknown[][];
    expect(rows45[0]).toEqual([
      { type: 'null' },
      { type: 'null' },
      { type: 'integer', value: '9007199254740993' },
      { type: 'float', value: 5e-324 },
    ]);
    expect(rows45[1]?.slice(2)).toEqual([{ type: 'null' }, { type: 'null' }]);
  });

  it('binds every value type from its JSON form', async () => {
    const args = [
      { type: 'integer', value: '-9223372036854775808' },
      { type: 'float', value: 2.5 },
      { type: 'text', value: 'tëxt' },
      { type: 'blob', base64: 'Zm9vYmFy' },
      { type: 'blob', base64: 'Zm9vYg' },
      { type: 'null' },
    ];
    const body = await pipeline([
      { type: 'execute', stmt: { sql: 'SELECT ?, typeof(?2), ?3, ?4, ?5, ?6', args } },
    ]);
    const rows = (okResponse(body.results[0])['result'] as Json)['rows'] as unknown[][];
    // RFC 4648 §10: "foobar" is Zm9vYmFy; "foob" is Zm9vYg== (padding optional on input).
    expect(rows[0]).toEqual([
      { type: 'integer', value: '-9223372036854775808' },
      { type: 'text', value: 'real' },
      { type: 'text', value: 'tëxt' },
      { type: 'blob', base64: 'Zm9vYmFy' },
      { type: 'blob', base64: 'Zm9vYg==' },
      { type: 'null' },
    ]);
  });

  it('refuses malformed values as a request error, the pipeline going on', async () => {
    const echo = (value: Json) => ({ type: 'execute', stmt: { sql: 'SELECT ?', args: [value] } });
    const body = await pipeline([
      echo({ type: 'integer', value: 12 }),
      echo({ type: 'integer', value: '9223372036854775808' }),
      echo({ type: 'blob', base64: 'not base64!' }),
      { type: 'execute', stmt: stmt('SELECT 7') },
      { type: 'close' },
    ]);
    for (const result of body.results.slice(0, 3)) {
      expect(errorOf(result)).toMatchObject({ code: 'PROTO_ERROR' });
    }
    const rows = (okResponse(body.results[3])['result'] as Json)['rows'];
    expect(rows).toEqual([[{ type: 'integer', value: '7' }]]);
  });

  it('reports columns, counts and the v3-only statistics', async () => {
    const sql = 'SELECT id AS ident, label FROM items WHERE id < 3';
    const v2 = await pipeline([{ type: 'execute', stmt: stmt(sql) }, { type: 'close' }], null, 2);
    const v3 = await pipeline([{ type: 'execute', stmt: stmt(sql) }, { type: 'close' }], null, 3);
    const r2 = okResponse(v2.results[0])['result'] as Json;
    const r3 = okResponse(v3.results[0])['result'] as Json;
    expect(r2['cols']).toEqual([
      { name: 'ident', decltype: 'INTEGER' },
      { name: 'label', decltype: 'TEXT' },
    ]);
    expect(r2['affected_row_count']).toBe(0);
    expect(r2).not.toHaveProperty('rows_read');
    expect(r3['rows_read']).toBe(2);
    expect(r3['rows_written']).toBe(0);
    expect(typeof r3['query_duration_ms']).toBe('number');
  });

  it('omits rows when want_rows is false', async () => {
    const body = await pipeline([
      { type: 'execute', stmt: { sql: 'SELECT * FROM items', want_rows: false } },
    ]);
    expect((okResponse(body.results[0])['result'] as Json)['rows']).toEqual([]);
  });
});

describe('batons and streams', () => {
  it('rotates the baton on every response and refuses a spent or forged one', async () => {
    const first = await pipeline([{ type: 'execute', stmt: stmt('SELECT 1') }]);
    expect(typeof first.baton).toBe('string');
    const second = await pipeline([{ type: 'execute', stmt: stmt('SELECT 2') }], first.baton);
    expect(typeof second.baton).toBe('string');
    expect(second.baton).not.toBe(first.baton);

    const reused = await post('/v2/pipeline', { baton: first.baton, requests: [] });
    expect(reused.status).toBe(400);
    expect(reused.type).toBe('application/json');
    expect(reused.json).toMatchObject({ code: 'BATON_INVALID' });
    const forged = await post('/v2/pipeline', { baton: 'A'.repeat(32), requests: [] });
    expect(forged.json).toMatchObject({ code: 'BATON_INVALID' });

    const closed = await pipeline([{ type: 'close' }], second.baton);
    expect(closed.baton).toBeNull();
    expect(okResponse(closed.results[0])).toEqual({ type: 'close' });
    const afterClose = await post('/v2/pipeline', { baton: second.baton, requests: [] });
    expect(afterClose.json).toMatchObject({ code: 'BATON_INVALID' });
  });

  it('keeps a transaction open across requests of one stream', async () => {
    const begun = await pipeline([
      { type: 'execute', stmt: stmt('BEGIN') },
      { type: 'get_autocommit' },
    ], null, 3);
    expect(okResponse(begun.results[1])).toEqual({ type: 'get_autocommit', is_autocommit: false });
    const commit = { type: 'execute', stmt: stmt('COMMIT') };
    const autocommit = { type: 'get_autocommit' };
    const later = await pipeline([autocommit, commit, autocommit], begun.baton, 3);
    expect(okResponse(later.results[0])).toMatchObject({ is_autocommit: false });
    expect(okResponse(later.results[2])).toMatchObject({ is_autocommit: true });
  });

  it('fails requests after close in the same pipeline and ends the stream', async () => {
    const body = await pipeline([
      { type: 'close' },
      { type: 'execute', stmt: stmt('SELECT 1') },
    ]);
    expect(body.baton).toBeNull();
    expect(errorOf(body.results[1])).toMatchObject({ code: 'STREAM_CLOSED' });
  });

  it('stores SQL texts per stream and refuses unknown ids', async () => {
    const body = await pipeline([
      { type: 'store_sql', sql_id: 7, sql: 'SELECT label FROM items WHERE id = ?' },
      { type: 'execute', stmt: { sql_id: 7, args: [{ type: 'integer', value: '1' }] } },
      { type: 'store_sql', sql_id: 7, sql: 'SELECT 2' },
      { type: 'close_sql', sql_id: 7 },
      { type: 'execute', stmt: { sql_id: 7 } },
      { type: 'execute', stmt: { sql: 'SELECT 1', sql_id: 1 } },
      { type: 'close_sql', sql_id: 12345 },
    ]);
    const rows = (okResponse(body.results[1])['result'] as Json)['rows'];
    expect(rows).toEqual([[{ type: 'text', value: 'alpha' }]]);
    expect(errorOf(body.results[2])).toMatchObject({ code: 'SQL_ID_IN_USE' });
    expect(errorOf(body.results[4])).toMatchObject({ code: 'SQL_ID_UNKNOWN' });
    expect(errorOf(body.results[5])).toMatchObject({ code: 'PROTO_ERROR' });
    expect(okResponse(body.results[6])).toEqual({ type: 'close_sql' });
    // Stored texts belong to their stream: a new stream does not see id 7.
    const other = await pipeline([{ type: 'execute', stmt: { sql_id: 7 } }, { type: 'close' }]);
    expect(errorOf(other.results[0])).toMatchObject({ code: 'SQL_ID_UNKNOWN' });
  });

  it('runs sequences and stops at the first failing statement', async () => {
    const body = await pipeline([
      { type: 'sequence', sql: 'BEGIN; SELECT 1; -- comment\n SELECT \';\'; COMMIT;' },
      { type: 'sequence', sql: "SELECT 1; INSERT INTO items (id) VALUES (77); SELECT 2" },
      { type: 'close' },
    ]);
    expect(okResponse(body.results[0])).toEqual({ type: 'sequence' });
    expect(errorOf(body.results[1])).toMatchObject({ code: 'SQLITE_READONLY' });
  });

  it('describes statements without running them', async () => {
    const described = 'SELECT id, label AS name FROM items';
    const body = await pipeline([
      { type: 'describe', sql: `${described} WHERE id = :id AND amount > ?5` },
      { type: 'describe', sql: 'EXPLAIN SELECT 1' },
      { type: 'describe', sql: 'DELETE FROM items WHERE id = ?' },
      { type: 'close' },
    ]);
    // sqlite3_bind_parameter_name: `:id` is parameter 1, `?5` is parameter 5, 2 to 4 are unnamed.
    expect((okResponse(body.results[0])['result'] as Json)).toEqual({
      params: [{ name: ':id' }, { name: null }, { name: null }, { name: null }, { name: '?5' }],
      cols: [
        { name: 'id', decltype: 'INTEGER' },
        { name: 'name', decltype: 'TEXT' },
      ],
      is_explain: false,
      is_readonly: true,
    });
    expect(okResponse(body.results[1])['result']).toMatchObject({ is_explain: true });
    expect(okResponse(body.results[2])['result']).toMatchObject({
      params: [{ name: null }],
      cols: [],
      is_readonly: false,
    });
    expect(index.writer.prepare('SELECT count(*) AS n FROM items').get()).toEqual({ n: 5 });
  });

  it('refuses new streams beyond maxStreams with 503 until one closes', async () => {
    const small = await serveWithTestToken(index.dbPath, { maxStreams: 2 });
    const open = (baton: string | null, requests: unknown[]) =>
      fetch(`${small.url}/v2/pipeline`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}` },
        body: JSON.stringify({ baton, requests }),
      });
    try {
      const a = (await (await open(null, [])).json()) as { baton: string };
      await open(null, []);
      const third = await open(null, []);
      expect(third.status).toBe(503);
      expect(await third.json()).toMatchObject({ code: 'STREAMS_EXHAUSTED' });
      await open(a.baton, [{ type: 'close' }]);
      expect((await open(null, [{ type: 'close' }])).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});

describe('batch conditions', () => {
  it('evaluates ok, error, not, and, or on earlier steps', async () => {
    const ok = (step: number) => ({ type: 'ok', step });
    const error = (step: number) => ({ type: 'error', step });
    const steps = [
      { stmt: stmt('SELECT 1') },
      { stmt: stmt('SELECT nosuch') },
      { condition: { type: 'ok', step: 0 }, stmt: stmt('SELECT 2') },
      { condition: { type: 'ok', step: 1 }, stmt: stmt('SELECT 3') },
      { condition: { type: 'error', step: 1 }, stmt: stmt('SELECT 4') },
      { condition: { type: 'not', cond: { type: 'ok', step: 1 } }, stmt: stmt('SELECT 5') },
      { condition: { type: 'and', conds: [ok(0), error(1)] }, stmt: stmt('SELECT 6') },
      { condition: { type: 'or', conds: [ok(1), error(0)] }, stmt: stmt('SELECT 7') },
      { condition: { type: 'ok', step: 3 }, stmt: stmt('SELECT 8') },
      { condition: { type: 'error', step: 3 }, stmt: stmt('SELECT 9') },
      { condition: { type: 'and', conds: [] }, stmt: stmt('SELECT 10') },
      { condition: { type: 'or', conds: [] }, stmt: stmt('SELECT 11') },
    ];
    const body = await pipeline([{ type: 'batch', batch: { steps } }, { type: 'close' }]);
    const result = okResponse(body.results[0])['result'] as BatchResult;
    const firstValue = (r: Json | null) =>
      (r?.['rows'] as Json[][] | undefined)?.[0]?.[0]?.['value'] ?? null;
    const ran = result.step_results.map(firstValue);
    // Steps 3, 7, 8, 9 and 11 are skipped: a skipped step is neither ok nor error (HRANA_3_SPEC).
    expect(ran).toEqual(['1', null, '2', null, '4', '5', '6', null, null, null, '10', null]);
    expect(result.step_errors.map((e) => e?.['code'] ?? null)).toEqual([
      null, 'SQLITE_ERROR', null, null, null, null, null, null, null, null, null, null,
    ]);
  });

  it('evaluates is_autocommit on v3 and refuses it on v2', async () => {
    const steps = [
      { condition: { type: 'is_autocommit' }, stmt: stmt('SELECT 1') },
      { stmt: stmt('BEGIN') },
      { condition: { type: 'is_autocommit' }, stmt: stmt('SELECT 2') },
      { condition: { type: 'not', cond: { type: 'is_autocommit' } }, stmt: stmt('ROLLBACK') },
    ];
    const v3 = await pipeline([{ type: 'batch', batch: { steps } }, { type: 'close' }], null, 3);
    const result = okResponse(v3.results[0])['result'] as { step_results: (Json | null)[] };
    expect(result.step_results.map((r) => r !== null)).toEqual([true, true, false, true]);
    const v2 = await pipeline([{ type: 'batch', batch: { steps } }, { type: 'close' }], null, 2);
    expect(errorOf(v2.results[0])).toMatchObject({ code: 'NOT_SUPPORTED' });
  });

  it('refuses a condition on a later step as a request error', async () => {
    const steps = [
      { condition: { type: 'ok', step: 1 }, stmt: stmt('SELECT 1') },
      { stmt: stmt('SELECT 2') },
    ];
    const body = await pipeline([{ type: 'batch', batch: { steps } }, { type: 'close' }]);
    expect(errorOf(body.results[0])).toMatchObject({ code: 'PROTO_ERROR' });
  });
});

describe('cursor (v3)', () => {
  it('streams step entries as JSON lines after the baton line', async () => {
    const batch = {
      steps: [
        { stmt: stmt('SELECT id FROM items WHERE id <= 2 ORDER BY id') },
        { stmt: stmt('SELECT nosuch') },
        { condition: { type: 'ok', step: 1 }, stmt: stmt('SELECT 3') },
      ],
    };
    const reply = await post('/v3/cursor', { baton: null, batch });
    expect(reply.status).toBe(200);
    const lines = reply.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Json);
    expect(typeof lines[0]?.['baton']).toBe('string');
    const types = lines.slice(1).map((l) => l['type']);
    expect(types).toEqual(['step_begin', 'row', 'row', 'step_end', 'step_error']);
    expect(lines[2]).toEqual({ type: 'row', row: [{ type: 'integer', value: '1' }] });
    expect(lines[5]).toMatchObject({ step: 1, error: { code: 'SQLITE_ERROR' } });
    await pipeline([{ type: 'close' }], lines[0]?.['baton'] as string, 3);
  });
});

describe('HTTP errors', () => {
  it('answers a missing, malformed or wrong token with 401', async () => {
    const same = 'x'.repeat(TEST_TOKEN.length);
    for (const token of [null, same, `${TEST_TOKEN}x`, '']) {
      const reply = await post('/v2/pipeline', { baton: null, requests: [] }, token);
      expect(reply.status, String(token)).toBe(401);
      expect(reply.json).toMatchObject({ code: 'UNAUTHORIZED' });
    }
    const basic = await send('/v2/pipeline', {
      method: 'POST',
      headers: { authorization: `Basic ${TEST_TOKEN}` },
      body: '{"requests":[]}',
    });
    expect(basic.status).toBe(401);
  });

  it('answers malformed JSON and a malformed body with 400 and a JSON error', async () => {
    const bad = await send('/v2/pipeline', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
      body: '{"baton": null, "requests": [',
    });
    expect(bad.status).toBe(400);
    expect(bad.type).toBe('application/json');
    expect(bad.json).toMatchObject({ code: 'JSON_INVALID' });
    const shape = await post('/v2/pipeline', { baton: 5, requests: 'no' });
    expect(shape.status).toBe(400);
    expect(shape.json).toMatchObject({ code: 'PROTO_ERROR' });
  });

  it('refuses a body over the limit with 413, declared or streamed', async () => {
    const big = stmt(`SELECT '${'a'.repeat(MAX_BODY_BYTES)}'`);
    const huge = JSON.stringify({ baton: null, requests: [{ type: 'execute', stmt: big }] });
    const declared = await send('/v2/pipeline', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
      body: huge,
    });
    expect(declared.status).toBe(413);
    expect(declared.json).toMatchObject({ code: 'BODY_TOO_LARGE' });
    expect(await chunkedPostStatus(huge)).toBe(413);
  });
});

// A POST without Content-Length (chunked), so the limit must hold while reading.
function chunkedPostStatus(body: string): Promise<number> {
  const url = new URL('/v2/pipeline', server.url);
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${TEST_TOKEN}` };
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let at = 0; at < body.length; at += 8_192) req.write(body.slice(at, at + 8_192));
    req.end();
  });
}
