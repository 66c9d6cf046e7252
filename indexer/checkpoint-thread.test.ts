// BackgroundCheckpointer: committed pages reach the index file from its thread, not the writer's.
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { tempDir } from '../test/indexer-support.ts';
import { BackgroundCheckpointer, WRITER_AUTOCHECKPOINT_PAGES } from './checkpoint-thread.ts';
import { openIndexDb } from './db.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
  return check();
}

describe('BackgroundCheckpointer', () => {
  it('copies committed pages into the file; the writer skips its own checkpoints', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'index.db');
    const db = openIndexDb(path, getCoin('BitcoinCash', 'regtest'));
    const checkpointer = BackgroundCheckpointer.start(db);
    expect(checkpointer).not.toBeNull();
    const autocheckpoint = (): unknown => db.sqlite.pragma('wal_autocheckpoint', { simple: true });
    expect(autocheckpoint()).toBe(WRITER_AUTOCHECKPOINT_PAGES);
    const before = statSync(path).size;
    // ~4 MB of rows: past SQLite's default 1000-page autocheckpoint, which is off here.
    const insert = db.prepare('INSERT INTO undo (height, data) VALUES (?, ?)');
    db.transaction(() => {
      for (let height = 0; height < 1000; height++) insert.run(height, Buffer.alloc(4000, height));
    });
    expect(statSync(path).size).toBe(before);
    checkpointer?.request();
    expect(await until(() => statSync(path).size > before + 3_000_000, 10_000)).toBe(true);
    await checkpointer?.close();
    expect(autocheckpoint()).toBe(1000);
    db.close();
  });
});
