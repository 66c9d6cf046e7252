// A read of the index server that never ends (a recursive CTE without a bound, sent with the
// token): it is abandoned after INDEX_SERVER_READ_TIMEOUT_MS, and SIGTERM still stops the indexer
// though the abandoned thread runs on inside SQLite, where no thread can be stopped.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import { caughtUpAt, PROJECT_DIR, TEST_TOKEN, TestProcesses } from './indexer-support.ts';

const coin = getCoin('BitcoinCash', 'regtest');
const CHAIN = loadChainFile(join(PROJECT_DIR, 'data/bitcoincash_regtest_0-103.json'));
const ENDLESS =
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
const processes = new TestProcesses();

afterAll(() => processes.cleanup());

describe('an index server read that never ends', () => {
  it('is abandoned, and SIGTERM still ends the indexer', async () => {
    const node = await processes.node(coin, CHAIN);
    const { run } = processes.indexer(node, coin, { INDEX_SERVER_READ_TIMEOUT_MS: '500' });
    await run.waitFor(caughtUpAt(CHAIN.length - 1), 60_000);
    const listening = await run.waitFor((e) => e.event === 'index_server_listening');
    const response = await fetch(`${String(listening.url)}/v2/pipeline`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ requests: [{ type: 'execute', stmt: { sql: ENDLESS } }] }),
    });
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('READ_TIMEOUT');
    await run.waitFor((e) => e.event === 'index_reader_replaced');

    const stoppingAt = Date.now();
    run.kill('SIGTERM');
    const { signal } = await run.exited;
    // Ended by the default action of the SIGTERM it sends itself once all else is closed.
    expect(signal).toBe('SIGTERM');
    expect(Date.now() - stoppingAt).toBeLessThan(15_000);
    const events = run.events.map((e) => e.event);
    expect(events).toContain('index_server_thread_stuck');
    expect(events.indexOf('stopped')).toBeLessThan(events.indexOf('exit_forced'));
    expect(events.indexOf('stopped')).toBeGreaterThan(-1);
  }, 90_000);
});
