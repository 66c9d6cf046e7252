// bench:index hands the indexer the tuning settings of its own environment and prints them.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const PROJECT_DIR = resolve(import.meta.dirname, '..');
const cacheDir = mkdtempSync(join(tmpdir(), 'bench-index-test-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

function runBench(env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  const args = ['--import', 'tsx', 'tools/bench-index.ts', '--blocks', '4', '--txs', '2'];
  args.push('--cache', cacheDir, '--timeout-s', '60');
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, {
      cwd: PROJECT_DIR,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout });
    });
  });
}

describe('bench:index', () => {
  it('passes the tuning settings of its environment to the indexer', async () => {
    // Values unlike the indexer's defaults (48, 1000, 200, 1000, 50000), so only a pass-through
    // shows them.
    const env = {
      UTXO_CACHE_MB: '7',
      DEFER_INDEX_BLOCKS: '3',
      REORG_LIMIT: '55',
      FLUSH_BLOCKS: '2',
      FLUSH_TXS: '9',
    };
    const { code, stdout } = await runBench(env);
    expect(code, stdout).toBe(0);
    expect(stdout).toContain(
      'indexer settings: flush_blocks=2 flush_txs=9 utxo_cache_mb=7 defer_index_blocks=3 ' +
        'reorg_limit=55'
    );
  }, 120_000);
});
