// The Worker's list of settings against the README's tables and wrangler.toml, and the warnings
// /health gives for misspelled vars (the wrangler-level check is in worker-index-check.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../worker/log.ts';
import { settingWarnings, WORKER_BINDINGS, WORKER_SETTINGS } from '../worker/setting-names.ts';

const ROOT = join(import.meta.dirname, '..');

// Every backticked name in the first column of the table after `heading`.
function tableNames(markdown: string, heading: string): string[] {
  const start = markdown.indexOf('| name', markdown.indexOf(heading));
  const table = markdown.slice(start, markdown.indexOf('\n\n', start));
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)])
    .map((match) => match[1] ?? '');
}

describe('Worker settings', () => {
  it('lists exactly the vars of the README and every var and binding of wrangler.toml', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const documented = [
      ...tableNames(readme, 'Worker (`wrangler.toml` vars'),
      ...tableNames(readme, 'Per-IP limits (Worker vars'),
    ];
    expect(new Set(documented)).toEqual(new Set(WORKER_SETTINGS));
    const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
    const vars = toml.slice(toml.indexOf('[vars]'), toml.indexOf('\n[', toml.indexOf('[vars]')));
    const varNames = [...vars.matchAll(/^([A-Z0-9_]+) = /gm)].map((match) => match[1] ?? '');
    expect(varNames.length).toBeGreaterThan(10);
    const settings: readonly string[] = WORKER_SETTINGS;
    expect(varNames.filter((name) => !settings.includes(name))).toEqual([]);
    const bindings = [...toml.matchAll(/^name = "([A-Z_]+)"$/gm)].map((match) => match[1]);
    expect(new Set(bindings)).toEqual(new Set(WORKER_BINDINGS));
  });

  it('warns of a var one typo away from a setting, and of nothing else', () => {
    const env = {
      COIN: 'Radiant',
      SESSION: {},
      MAX_SUB: '5',
      COST_SOFT_LIMT: '100',
      HUB: {},
      CF_PAGES: '1',
      LIBSQL_AUTH_TOKEN: 'index-token-0123456789',
      NOTIFY_SECRET: 'notify-secret-0123456789',
      RELAY_URL: 'http://127.0.0.1:8082/broadcast',
    };
    expect(settingWarnings(env)).toEqual([
      'MAX_SUB is not a setting (did you mean MAX_SUBS?)',
      'COST_SOFT_LIMT is not a setting (did you mean COST_SOFT_LIMIT?)',
    ]);
  });

  it('warns of an index token, a notify secret and a relay that are not set', () => {
    for (const value of [undefined, '']) {
      const names = ['LIBSQL_AUTH_TOKEN', 'NOTIFY_SECRET', 'RELAY_URL'];
      const env = Object.fromEntries(names.map((name) => [name, value]));
      expect(settingWarnings({ COIN: 'Radiant', ...env })).toEqual([
        expect.stringMatching(/^LIBSQL_AUTH_TOKEN is not set: .*wrangler secret put/),
        'NOTIFY_SECRET is not set: sessions get no notifications',
        'RELAY_URL is not set: every broadcast is refused',
      ]);
    }
  });
});

describe('the Worker logger', () => {
  it('takes LOG_LEVEL=warning as the indexer spells it', () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => lines.push(line));
    try {
      const log = createLogger('warning');
      log.info('quiet_event');
      log.warn('loud_event');
    } finally {
      spy.mockRestore();
    }
    expect(lines.map((line) => (JSON.parse(line) as { event: string }).event)).toEqual([
      'loud_event',
    ]);
  });
});
