// Tests of the operator logger: levels, formats, IP masking and redaction of every kind of secret.
import { describe, expect, it } from 'vitest';
import {
  createLogger,
  maskIps,
  parseLogLevel,
  redact,
  renderPattern,
  secretsFromEnv,
  type LoggerOptions,
} from './logger.ts';

function capture(options: LoggerOptions = {}) {
  const lines: string[] = [];
  const log = createLogger({ ...options, destination: { write: (line) => lines.push(line) } });
  return { log, lines };
}

const parse = (line: string | undefined): Record<string, unknown> =>
  JSON.parse(line ?? '{}') as Record<string, unknown>;

describe('redact', () => {
  it('hides configured secrets as is, JSON-escaped and URL-encoded', () => {
    const secret = 'p@ss"word/with\\odd';
    expect(redact(`x ${secret} y`, [secret])).toBe('x *** y');
    expect(redact(JSON.stringify({ note: `was ${secret}` }), [secret])).toBe('{"note":"was ***"}');
    expect(redact(`u:${encodeURIComponent(secret)}@`, [secret])).not.toContain('odd');
  });

  it('hides the password inside any URL but keeps the user and host', () => {
    expect(redact('connect http://rpcuser:hunter2hunter2@10.0.0.5:7332 failed')).toBe(
      'connect http://rpcuser:***@10.0.0.5:7332 failed'
    );
    expect(redact('libsql://u:a/b%40c@db.example:443')).toBe('libsql://u:***@db.example:443');
    expect(redact('"http://host:8080","mail":"a@b"')).toBe('"http://host:8080","mail":"a@b"');
  });

  it('hides bearer and basic credentials', () => {
    const header = 'Authorization: Bearer eyJhbGciOi.abc-def_ghi';
    expect(redact(header)).toBe('Authorization: Bearer ***');
    expect(redact('sent Basic dXNlcjpwYXNzd29yZA==')).toBe('sent Basic ***');
  });

  it('hides the values of secret-named fields and key=value pairs', () => {
    expect(redact('{"RPC_PASSWORD":"abc","INDEX_SERVER_TOKEN":"def","height":5}')).toBe(
      '{"RPC_PASSWORD":"***","INDEX_SERVER_TOKEN":"***","height":5}'
    );
    expect(redact('api_key=AKIA123 token: xyz password="a b" ok=1')).toBe(
      'api_key=*** token: *** password=*** ok=1'
    );
    expect(redact('https://db.example/?authToken=tok123&key=k999&x=1')).toBe(
      'https://db.example/?authToken=***&key=***&x=1'
    );
  });

  it('leaves text without secrets alone and ignores secrets under 4 characters', () => {
    const text = 'block 12 at 2024-01-01T10:11:12Z, 3 txs';
    expect(redact(text, ['abc', ''])).toBe(text);
  });
});

describe('secretsFromEnv', () => {
  it('collects password, token, secret and API key variables and the DAEMON_URL password', () => {
    const secrets = secretsFromEnv({
      RPC_PASSWORD: 'one-secret-value',
      INDEX_SERVER_TOKEN: 'two-secret-value',
      LIBSQL_AUTH_TOKEN: 'three',
      SOME_API_KEY: 'four',
      DAEMON_URL: 'http://u:node%2Fpass@127.0.0.1:7332',
      COIN: 'Radiant',
    });
    expect(secrets).toEqual(
      expect.arrayContaining(['one-secret-value', 'two-secret-value', 'three', 'four', 'node/pass'])
    );
    expect(secrets).not.toContain('Radiant');
  });

  it('leaves out values that are themselves well-known defaults, not their variants', () => {
    const secrets = secretsFromEnv({
      RPC_PASSWORD: 'password',
      NOTIFY_SECRET: 'Password123!',
      DAEMON_URL: 'http://rpc:password@127.0.0.1:7332',
    });
    expect(secrets).toEqual(['Password123!']);
    // So the start refusal's advice keeps its words (it used to read "a random rpc***").
    const advice = 'give the node a random rpcpassword of 16+ characters';
    expect(redact(advice, secrets)).toBe(advice);
  });
});

describe('maskIps', () => {
  const key = new Uint8Array(32).fill(7);

  it('replaces client IPv4 and IPv6 addresses with a stable tag', () => {
    const out = maskIps('peer 203.0.113.9:50001 and 2001:db8::1 and 203.0.113.9', key);
    expect(out).not.toMatch(/203\.0\.113|2001:db8/);
    const tags = out.match(/\[ip:[0-9a-f]{8}\]/g) ?? [];
    expect(tags).toHaveLength(3);
    expect(tags[0]).toBe(tags[2]);
    expect(tags[0]).not.toBe(tags[1]);
  });

  it('keeps loopback, clock times and version numbers', () => {
    const text = 'listening on 127.0.0.1:8000 and ::1 at 12:34:56, version 1.4.2';
    expect(maskIps(text, key)).toBe(text);
  });
});

describe('parseLogLevel', () => {
  it('accepts the ElectrumX names in any case and reports an unknown one', () => {
    expect(parseLogLevel('WARNING')).toEqual({ level: 'warn' });
    expect(parseLogLevel('debug')).toEqual({ level: 'debug' });
    expect(parseLogLevel(undefined)).toEqual({ level: 'info' });
    const bad = parseLogLevel('verbose');
    expect(bad.level).toBe('info');
    expect(bad.problem).toContain('debug, info, warning, error');
  });
});

describe('createLogger', () => {
  it('writes one JSON object per line with time, level, name and event', () => {
    const { log, lines } = capture({ name: 'indexer' });
    log.info('caught_up', { height: 12, value: 5n, raw: new Uint8Array(3) });
    log.debug('not_written');
    expect(lines).toHaveLength(1);
    const line = parse(lines[0]);
    expect(line).toMatchObject({ level: 'info', name: 'indexer', event: 'caught_up', height: 12 });
    expect(line['value']).toBe('5');
    expect(line['raw']).toBe('<3 bytes>');
    expect(Number.isNaN(Date.parse(String(line['time'])))).toBe(false);
  });

  it('reports an unknown LOG_LEVEL once, naming the valid values, then logs at info', () => {
    const first = capture({ level: 'chatty-once' });
    const second = capture({ level: 'chatty-once' });
    expect(first.lines).toHaveLength(1);
    expect(parse(first.lines[0])['problem']).toContain('debug, info, warning, error');
    expect(second.lines).toHaveLength(0);
    first.log.info('shown');
    first.log.debug('hidden');
    expect(first.lines).toHaveLength(2);
  });

  it('honours warning as a level', () => {
    const { log, lines } = capture({ level: 'warning' });
    log.info('hidden');
    log.warn('shown');
    expect(lines.map((l) => parse(l)['event'])).toEqual(['shown']);
  });

  it('redacts secrets in fields, messages and error messages and stacks', () => {
    const secret = 'Zq8-secret-token-value';
    const { log, lines } = capture({ secrets: [secret] });
    const failure = new Error(`node said 401 for http://rpc:${secret}@127.0.0.1:7332`);
    log.error('node_failed', { err: failure, note: `token ${secret}`, password: 'pw-in-field' });
    const text = lines.join('');
    expect(text).not.toContain(secret);
    expect(text).not.toContain('pw-in-field');
    const line = parse(lines[0]);
    const err = line['err'] as { message: string; stack: string };
    expect(err.message).toBe('node said 401 for http://rpc:***@127.0.0.1:7332');
    expect(err.stack).toContain('node said 401');
  });

  it('keeps every line valid JSON when a quoted secret sits inside a field', () => {
    const { log, lines } = capture();
    log.warn('retry', { detail: 'login password="two words" refused', path: 'C:\\x token=\\y' });
    const line = parse(lines[0]);
    expect(line['detail']).toBe('login password=*** refused');
    expect(line['path']).toBe('C:\\x token=***');
    const text = capture({ format: '%(message)s' });
    text.log.warn('retry', { detail: 'login password="two words" refused' });
    expect(text.lines).toEqual(['retry detail="login password=*** refused"\n']);
  });

  it('masks client IPs only with anonLogs', () => {
    const plain = capture();
    plain.log.info('session_open', { remote: '198.51.100.23' });
    expect(plain.lines[0]).toContain('198.51.100.23');
    const anon = capture({ anonLogs: true });
    anon.log.info('session_open', { remote: '198.51.100.23', detail: 'from 198.51.100.23:4000' });
    expect(anon.lines[0]).not.toContain('198.51.100');
    expect(anon.lines[0]).toMatch(/\[ip:[0-9a-f]{8}\]/);
  });

  it('renders a Python logging pattern, redacted', () => {
    const { log, lines } = capture({
      name: 'indexer',
      format: '%(asctime)s %(levelname)s:%(name)s: %(message)s',
      secrets: ['abcdefgh12345678'],
    });
    log.warn('retrying', { attempt: 2, reason: 'auth abcdefgh12345678 refused' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING:indexer: /);
    expect(lines[0]).toMatch(/ WARNING:indexer: retrying attempt=2 reason="auth \*\*\* refused"\n/);
  });

  it('reports a LOG_FORMAT that is neither json nor a pattern', () => {
    const { lines } = capture({ format: 'fancy-unknown-format' });
    expect(parse(lines[0])['event']).toBe('bad_log_format');
  });

  it('adds child bindings to every line', () => {
    const { log, lines } = capture();
    log.child({ session: 7 }).info('request', { method: 'server.ping' });
    expect(parse(lines[0])).toMatchObject({ session: 7, method: 'server.ping', event: 'request' });
  });
});

describe('renderPattern', () => {
  it('pads, picks fields by name and writes %%', () => {
    const time = '2024-05-06T07:08:09.010Z';
    const fields = { time, level: 'info', name: 'x', event: 'e', height: 3 };
    expect(renderPattern('[%(levelname)-7s] %(height)d %(missing)s 100%%', fields)).toBe(
      '[INFO   ] 3 - 100%'
    );
    expect(renderPattern('%(asctime)s', fields)).toBe('2024-05-06 07:08:09,010');
  });
});
