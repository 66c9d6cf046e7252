// The JSON line logger: shape of a line, level filtering, LOG_LEVEL handling, safe field values.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { log, logEnabled, setLogLevel } from './log.ts';

function captured(): { lines: () => Record<string, unknown>[] } {
  const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
  const parse = (args: unknown[]): Record<string, unknown> =>
    JSON.parse(String(args[0])) as Record<string, unknown>;
  return { lines: () => spy.mock.calls.map(parse) };
}

afterEach(() => {
  vi.restoreAllMocks();
  setLogLevel('info');
});

describe('log', () => {
  it('writes one JSON object per line with time, level, event and the fields', () => {
    const out = captured();
    log.info('caught_up', { height: 7, hash: 'ab' });
    const [line] = out.lines();
    expect(line).toMatchObject({ level: 'info', event: 'caught_up', height: 7, hash: 'ab' });
    expect(Number.isNaN(Date.parse(String(line?.time)))).toBe(false);
  });

  it('drops lines below LOG_LEVEL', () => {
    const out = captured();
    setLogLevel('warn');
    log.debug('a');
    log.info('b');
    log.warn('c');
    log.error('d');
    expect(out.lines().map((line) => line.event)).toEqual(['c', 'd']);
    expect(logEnabled('debug')).toBe(false);
    setLogLevel('DEBUG');
    expect(logEnabled('debug')).toBe(true);
  });

  it('reports an unknown LOG_LEVEL once, with the valid names, and keeps info', () => {
    const out = captured();
    setLogLevel('verbose');
    log.debug('hidden');
    log.info('shown');
    const summary = out.lines().map((line) => [line.event, line.value ?? null, line.valid ?? null]);
    expect(summary).toEqual([
      ['bad_log_level', 'verbose', 'debug, info, warn, error'],
      ['shown', null, null],
    ]);
  });

  it('turns bigint, Error and bytes into plain JSON instead of throwing', () => {
    const out = captured();
    log.warn('x', { value: 2n ** 64n, error: new Error('boom'), raw: new Uint8Array(5) });
    expect(out.lines()[0]).toMatchObject({
      value: '18446744073709551616',
      error: 'boom',
      raw: '<5 bytes>',
    });
  });
});
