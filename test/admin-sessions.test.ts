// End to end under wrangler dev: the Worker's admin API of issue 6.3 and 6.5. Every endpoint
// refuses a missing or wrong bearer token without echoing it; sessions and groups list what the
// clients did; disconnect really closes sockets; the banner a PUT stores is what server.banner
// answers; /admin/metrics is Prometheus text that an independent parser here reads back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminFetch, LimitsClient, startLimitsStack, type LimitsStack } from './limits-stack.ts';

const VARS_BANNER = 'banner from the vars';
const SOFT = 100;
const HARD = 400;
const HISTORY = 2000;
const REPORT_WAIT_MS = 10_000;

let stack: LimitsStack;

beforeAll(async () => {
  stack = await startLimitsStack(
    {
      EXEMPT_PRIVATE: 'false',
      BANNER: VARS_BANNER,
      COST_SOFT_LIMIT: String(SOFT),
      COST_HARD_LIMIT: String(HARD),
      REQUEST_SLEEP: '100',
    },
    HISTORY
  );
}, 150_000);

afterAll(async () => {
  await stack?.stop();
});

async function rawAdmin(
  method: string,
  path: string,
  authorization: string | undefined,
  body?: unknown
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.Authorization = authorization;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  const response = await fetch(`${stack.httpUrl}${path}`, init);
  return { status: response.status, text: await response.text() };
}

// Polls `read` until `accept` holds (sessions report every 2 s), bounded in time.
async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + REPORT_WAIT_MS;
  let value = await read();
  for (let round = 0; !accept(value) && Date.now() < deadline && round < 100; round++) {
    await new Promise((done) => setTimeout(done, 250));
    value = await read();
  }
  return value;
}

interface Listing {
  id: string;
  group: string;
  client: { name: string; version: string };
  subscriptions: number;
  cost: number;
  openedAt: string;
}

async function sessions(): Promise<Listing[]> {
  const { status, json } = await adminFetch(stack, 'GET', '/admin/sessions');
  expect(status).toBe(200);
  return json.sessions as Listing[];
}

async function openWallet(ip: string, name: string): Promise<LimitsClient> {
  const client = await LimitsClient.open(stack.wsUrl, ip);
  const version = await client.call('server.version', [name, '1.4']);
  expect(version?.reply).toMatchObject({ result: [expect.any(String), '1.4'] });
  return client;
}

describe('the admin token', () => {
  const endpoints: [string, string, unknown?][] = [
    ['GET', '/admin/sessions'],
    ['GET', '/admin/groups'],
    ['POST', '/admin/sessions/disconnect', { group: '203.0.113.0/24' }],
    ['GET', '/admin/banner'],
    ['PUT', '/admin/banner', { banner: 'not allowed' }],
    ['GET', '/admin/metrics'],
  ];

  it('is required on every endpoint, and a wrong one is neither accepted nor echoed', async () => {
    const wrong = `wrong-${stack.adminToken.slice(0, 10)}-token-value-xyz`;
    for (const [method, path, body] of endpoints) {
      const missing = await rawAdmin(method, path, undefined, body);
      expect(missing.status, `${method} ${path} without a token`).toBe(401);
      const refused = await rawAdmin(method, path, `Bearer ${wrong}`, body);
      expect(refused.status, `${method} ${path} with a wrong token`).toBe(401);
      expect(refused.text).not.toContain(wrong);
      const right = await rawAdmin(method, path, `Bearer ${stack.adminToken}`, body);
      expect([200, 404], `${method} ${path} with the token`).toContain(right.status);
      expect(right.text).not.toContain(stack.adminToken);
    }
    // The banner PUT above was authorized: put the vars' banner back for the tests below.
    await adminFetch(stack, 'PUT', '/admin/banner', { banner: null });
    const logs = stack.output.join('');
    expect(logs).not.toContain(wrong);
    expect(logs).not.toContain(stack.adminToken);
  });
});

describe('GET /admin/sessions and /admin/groups', () => {
  it('list each open session with its group, client, subscriptions and cost', async () => {
    const startedMs = Date.now() - 1000;
    const wallet = await openWallet('203.0.113.10', 'photonic');
    const other = await openWallet('198.51.100.7', 'electrum');
    try {
      const subscribed = await wallet.call('blockchain.scripthash.subscribe', [
        stack.index.smallScriptHash,
      ]);
      expect(subscribed?.reply).toHaveProperty('result');
      const listed = await eventually(sessions, (rows) =>
        rows.some((row) => row.client.name === 'photonic' && row.subscriptions === 1)
      );
      const mine = listed.find((row) => row.client.name === 'photonic');
      expect(mine).toMatchObject({
        group: '203.0.113.0/24',
        client: { name: 'photonic', version: '1.4' },
        subscriptions: 1,
      });
      expect(mine?.id).toMatch(/^[0-9a-f]{64}$/);
      expect(mine?.cost).toBeGreaterThan(0);
      const openedMs = Date.parse(mine?.openedAt ?? '');
      expect(openedMs).toBeGreaterThanOrEqual(startedMs);
      expect(openedMs).toBeLessThanOrEqual(Date.now());
      expect(listed.find((row) => row.client.name === 'electrum')?.group).toBe('198.51.100.0/24');

      const { status, json } = await adminFetch(stack, 'GET', '/admin/groups');
      expect(status).toBe(200);
      const groups = json.groups as { group: string; sessions: number; cost: number }[];
      const group = groups.find((row) => row.group === '203.0.113.0/24');
      expect(group?.sessions).toBe(1);
      expect(group?.cost).toBeGreaterThan(0);
      expect(groups.some((row) => row.group === '198.51.100.0/24')).toBe(true);
    } finally {
      wallet.terminate();
      other.terminate();
    }
  });
});

describe('POST /admin/sessions/disconnect', () => {
  it('closes the named session, then every session of a group', async () => {
    const first = await openWallet('192.0.2.20', 'victim-one');
    const second = await openWallet('192.0.2.21', 'victim-two');
    const bystander = await openWallet('198.51.100.30', 'bystander');
    try {
      const listed = await eventually(sessions, (rows) =>
        rows.some((row) => row.client.name === 'victim-one')
      );
      const id = listed.find((row) => row.client.name === 'victim-one')?.id ?? '';
      const byId = await adminFetch(stack, 'POST', '/admin/sessions/disconnect', { id });
      expect(byId).toEqual({ status: 200, json: { disconnected: [id] } });
      expect((await first.closed).code).toBe(4000);
      expect(second.isClosed).toBe(false);
      const after = await sessions();
      expect(after.some((row) => row.id === id)).toBe(false);

      await eventually(sessions, (rows) => rows.some((row) => row.client.name === 'victim-two'));
      const byGroup = await adminFetch(stack, 'POST', '/admin/sessions/disconnect', {
        group: '192.0.2.0/24',
      });
      expect(byGroup.status).toBe(200);
      expect((await second.closed).code).toBe(4000);
      // The other group's session still answers.
      expect((await bystander.call('server.ping'))?.reply).toMatchObject({ result: null });

      // The indexer's `disconnect <ip>` sends {"target"}: the address's group is closed.
      const byAddress = await adminFetch(stack, 'POST', '/admin/sessions/disconnect', {
        target: '198.51.100.30',
      });
      expect(byAddress.status).toBe(200);
      expect((await bystander.closed).code).toBe(4000);

      const unknown = await adminFetch(stack, 'POST', '/admin/sessions/disconnect', { id });
      expect(unknown.status).toBe(404);
      const malformed = { id: 'not-a-session-id' };
      const bad = await adminFetch(stack, 'POST', '/admin/sessions/disconnect', malformed);
      expect(bad.status).toBe(400);
      expect(String(bad.json.error)).toContain('not-a-session-id');
    } finally {
      for (const client of [first, second, bystander]) client.terminate();
    }
  });
});

describe('GET and PUT /admin/banner', () => {
  it('stores a banner that server.banner answers, and null restores the BANNER var', async () => {
    const initial = await adminFetch(stack, 'GET', '/admin/banner');
    expect(initial.json).toEqual({ banner: VARS_BANNER, source: 'vars' });
    const text = `Maintenance at ${new Date().toISOString()}`;
    const put = await adminFetch(stack, 'PUT', '/admin/banner', { banner: text });
    expect(put).toEqual({ status: 200, json: { banner: text } });
    expect((await adminFetch(stack, 'GET', '/admin/banner')).json).toEqual({
      banner: text,
      source: 'admin',
    });
    const wallet = await openWallet('203.0.113.40', 'banner-reader');
    try {
      expect((await wallet.call('server.banner'))?.reply).toMatchObject({ result: text });
      await adminFetch(stack, 'PUT', '/admin/banner', { banner: null });
      expect((await wallet.call('server.banner'))?.reply).toMatchObject({ result: VARS_BANNER });
    } finally {
      wallet.terminate();
    }
    const wrongShape = await adminFetch(stack, 'PUT', '/admin/banner', { banner: 42 });
    expect(wrongShape.status).toBe(400);
  });
});

/** One sample of the exposition format: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// A parser of the Prometheus text format (0.0.4) written for this test from the format's
// description, not the server's renderer: HELP/TYPE comments, `name{a="b",...} value` samples.
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
  const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      types.set(type[1] ?? '', type[2] ?? '');
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const match = sampleLine.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(labelPair)) labels[pair[1] ?? ''] = pair[2] ?? '';
    const value = match[3] === '+Inf' ? Infinity : Number(match[3]);
    if (Number.isNaN(value)) throw new Error(`bad value in: ${line}`);
    samples.push({ name: match[1] ?? '', labels, value });
  }
  return { types, samples };
}

async function scrape(): Promise<{ types: Map<string, string>; samples: Sample[] }> {
  const response = await fetch(`${stack.httpUrl}/admin/metrics`, {
    headers: { Authorization: `Bearer ${stack.adminToken}` },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return parseExposition(await response.text());
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
  );
  return found?.value ?? 0;
}

describe('GET /admin/metrics', () => {
  it('counts requests by method, errors by code, throttled and cut-off sessions', async () => {
    const before = (await scrape()).samples;
    const requestsName = 'electrum_edge_requests_total';
    const historyLabels = { method: 'blockchain.scripthash.get_history' };
    const wallet = await openWallet('203.0.113.50', 'metrics-wallet');
    try {
      for (let index = 0; index < 3; index++) {
        await wallet.call('blockchain.scripthash.get_history', [stack.index.smallScriptHash]);
      }
      await wallet.call('no.such.method');
      await wallet.call('blockchain.scripthash.get_balance', ['zz']);
      const deltaOf = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
        valueOf(samples, name, labels) - valueOf(before, name, labels);
      // A session reports its counts in batches (one timer per burst): on a slow machine the
      // five requests may span two reports, so wait for all three counts, not the first.
      const after = await eventually(
        async () => (await scrape()).samples,
        (samples) =>
          deltaOf(samples, requestsName, historyLabels) >= 3 &&
          deltaOf(samples, 'electrum_edge_errors_total', { code: '-32601' }) >= 1 &&
          deltaOf(samples, 'electrum_edge_errors_total', { code: '1' }) >= 1
      );
      const delta = (name: string, labels: Record<string, string> = {}) =>
        deltaOf(after, name, labels);
      expect(delta(requestsName, historyLabels)).toBe(3);
      expect(delta('electrum_edge_errors_total', { code: '-32601' })).toBe(1);
      expect(delta('electrum_edge_errors_total', { code: '1' })).toBe(1);
      expect(valueOf(after, 'electrum_edge_sessions_open')).toBeGreaterThanOrEqual(1);
    } finally {
      wallet.terminate();
    }

    // A client spamming the long history passes the soft limit, then the hard one.
    const spammer = await LimitsClient.open(stack.wsUrl, '192.0.2.77');
    for (let round = 0; round < 60 && !spammer.isClosed; round++) {
      await spammer.call('blockchain.scripthash.get_history', [stack.index.bigScriptHash]);
    }
    expect(spammer.isClosed).toBe(true);
    const final = await eventually(scrape, ({ samples }) =>
      valueOf(samples, 'electrum_edge_sessions_cut_off_total') >
      valueOf(before, 'electrum_edge_sessions_cut_off_total')
    );
    const samples = final.samples;
    expect(valueOf(samples, 'electrum_edge_sessions_cut_off_total')).toBe(
      valueOf(before, 'electrum_edge_sessions_cut_off_total') + 1
    );
    expect(valueOf(samples, 'electrum_edge_sessions_throttled_total')).toBeGreaterThan(
      valueOf(before, 'electrum_edge_sessions_throttled_total')
    );
    expect(final.types.get('electrum_edge_requests_total')).toBe('counter');
    expect(final.types.get('electrum_edge_sessions_open')).toBe('gauge');
    expect(final.types.get('electrum_edge_notify_latency_seconds')).toBe('histogram');
  });

  it('renders the latency histogram with cumulative buckets ending at +Inf = count', async () => {
    const { samples } = await scrape();
    const name = 'electrum_edge_notify_latency_seconds';
    const buckets = samples.filter((sample) => sample.name === `${name}_bucket`);
    expect(buckets.length).toBeGreaterThan(1);
    expect(buckets.at(-1)?.labels.le).toBe('+Inf');
    for (let index = 1; index < buckets.length; index++) {
      expect(buckets[index]?.value).toBeGreaterThanOrEqual(buckets[index - 1]?.value ?? 0);
      const bound = Number(buckets[index]?.labels.le);
      if (buckets[index]?.labels.le !== '+Inf') {
        expect(bound).toBeGreaterThan(Number(buckets[index - 1]?.labels.le));
      }
    }
    expect(buckets.at(-1)?.value).toBe(valueOf(samples, `${name}_count`));
  });
});
