// Sync progress: the periodic sync_progress line (rates, ETA) and the terminal-only progress bar.
import { afterEach, describe, expect, it } from 'vitest';
import { configureLog } from './log.ts';
import { formatDuration, SyncProgress } from './progress.ts';

function capturedLog(): () => Record<string, unknown>[] {
  const raw: string[] = [];
  const destination = { write: (line: string) => raw.push(line) };
  configureLog({ level: 'info', format: 'json', destination });
  return () => raw.map((line) => JSON.parse(line) as Record<string, unknown>);
}

interface FakeTerminal {
  isTTY: boolean;
  columns: number;
  text: string[];
  write(t: string): boolean;
}

function fakeTerminal(isTTY: boolean): FakeTerminal {
  const text: string[] = [];
  return { isTTY, columns: 120, text, write: (t) => text.push(t) > 0 };
}

afterEach(() => {
  configureLog({ level: 'info', destination: { write: () => true } });
});

describe('formatDuration', () => {
  it('reads as hours and minutes, minutes and seconds, or seconds', () => {
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(200)).toBe('3m20s');
    expect(formatDuration(45.4)).toBe('45s');
    expect(formatDuration(Number.NaN)).toBe('?');
  });
});

describe('SyncProgress', () => {
  it('logs height, tip, tx/s, blocks/s and ETA once per interval', () => {
    const lines = capturedLog();
    let nowMs = 1_000_000;
    const progress = new SyncProgress({ logIntervalMs: 5_000, now: () => nowMs });
    // 10 blocks of 500 txs per second, from height 1 towards 1001.
    for (let height = 1; height <= 120; height++) {
      nowMs += 100;
      progress.blockApplied(height, 1001, 500);
    }
    const logged = lines().filter((line) => line.event === 'sync_progress');
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ height: 51, node_height: 1001, tx_per_s: 5000 });
    expect(logged[0]).toMatchObject({ blocks_per_s: 10, eta_s: 95 });
    expect(logged[1]).toMatchObject({ height: 101, tx_per_s: 5000, eta_s: 90 });
    expect(typeof logged[0]?.rss_mb).toBe('number');
  });

  it('draws a bar only on a terminal and clears it when done', () => {
    capturedLog();
    let nowMs = 0;
    const terminal = fakeTerminal(true);
    const progress = new SyncProgress({ bar: terminal, now: () => nowMs });
    for (let height = 1; height <= 40; height++) {
      nowMs += 100;
      progress.blockApplied(height, 40, 10);
    }
    progress.finish();
    expect(terminal.text.length).toBeGreaterThan(5);
    expect(terminal.text.at(-2)).toMatch(/^\r\[#{30}\] 100\.0% 40\/40 /);
    expect(terminal.text.at(-1)).toBe('\r\x1b[K');

    const pipe = fakeTerminal(false);
    const quiet = new SyncProgress({ bar: pipe, now: () => nowMs });
    quiet.blockApplied(1, 2, 10);
    quiet.finish();
    expect(pipe.text).toEqual([]);
  });
});
