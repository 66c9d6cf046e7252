// The indexer's log facade: line shape, run-time level changes, field values, secrets redacted.
import { afterEach, describe, expect, it } from 'vitest';
import { configureLog, log, logEnabled, logLevel, setLogLevel } from './log.ts';

function captured(secrets: string[] = []): { lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const destination = { write: (line: string) => raw.push(line) };
  configureLog({ level: 'info', format: 'json', secrets, destination });
  return { lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

afterEach(() => {
  configureLog({ level: 'info', secrets: [], destination: { write: () => true } });
});

describe('log', () => {
  it('writes one JSON object per line with time, level, name, event and the fields', () => {
    const out = captured();
    log.info('caught_up', { height: 7, hash: 'ab' });
    const [line] = out.lines();
    expect(line).toMatchObject({ level: 'info', name: 'indexer', event: 'caught_up', height: 7 });
    expect(line?.hash).toBe('ab');
    expect(Number.isNaN(Date.parse(String(line?.time)))).toBe(false);
  });

  it('drops lines below the level, which can change at run time for every importer', () => {
    const out = captured();
    setLogLevel('warning');
    log.debug('a');
    log.info('b');
    log.warn('c');
    log.error('d');
    expect(out.lines().map((line) => line.event)).toEqual(['c', 'd']);
    expect([logLevel(), logEnabled('debug')]).toEqual(['warn', false]);
    setLogLevel('DEBUG');
    log.debug('e');
    expect([logLevel(), logEnabled('debug')]).toEqual(['debug', true]);
    expect(out.lines().map((line) => line.event)).toEqual(['c', 'd', 'e']);
  });

  it('reports an unknown level with the valid names and keeps info', () => {
    const out = captured();
    setLogLevel('verbose-typo');
    log.debug('hidden');
    log.info('shown');
    const events = out.lines().map((line) => line.event);
    expect(events).toEqual(['bad_log_level', 'shown']);
    expect(String(out.lines()[0]?.problem)).toContain('debug, info, warning, error');
    expect(logLevel()).toBe('info');
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

  it('adds child bindings and keeps following the level in force', () => {
    const out = captured();
    const child = log.child({ part: 'relay' });
    child.debug('hidden');
    setLogLevel('debug');
    child.debug('shown', { n: 1 });
    expect(out.lines()).toEqual([expect.objectContaining({ part: 'relay', event: 'shown', n: 1 })]);
  });

  it('never writes a configured secret, a URL password or a token-named field', () => {
    const nodePassword = 'Node-pass-5f3e1a9c77';
    const token = 'tok-0b1c2d3e4f5a6b7c';
    const out = captured([nodePassword, token]);
    log.error('fatal', {
      error: new Error(`401 from http://radiant:${nodePassword}@10.1.2.3:7332/`),
      detail: `sent Bearer ${token}`,
      INDEX_SERVER_TOKEN: 'another-value-1234',
    });
    const text = JSON.stringify(out.lines());
    expect(text).not.toContain(nodePassword);
    expect(text).not.toContain(token);
    expect(text).not.toContain('another-value-1234');
    expect(text).toContain('http://radiant:***@10.1.2.3:7332/');
  });
});
