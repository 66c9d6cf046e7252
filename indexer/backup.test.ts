// Tests of backup and restore on real SQLite files built with the index schema of migrations/.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BACKUP_FORMAT,
  backupSettings,
  createBackup,
  dbPathFromEnv,
  isDatabaseInUse,
  pruneBackups,
  restoreBackup,
  verifyBackupChecksum,
  type BackupManifest,
} from './backup.ts';

const MIGRATIONS = resolve(import.meta.dirname, '../migrations');

// The index schema exactly as the migrations create it, applied in file-name order.
function createIndex(path: string, height: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  for (const name of readdirSync(MIGRATIONS).filter((n) => n.endsWith('.sql')).sort()) {
    const text = readFileSync(join(MIGRATIONS, name), 'utf8');
    for (const statement of text.split('--> statement-breakpoint')) {
      if (statement.trim() !== '') db.exec(statement);
    }
  }
  const insert = db.prepare(
    'INSERT INTO headers (height, hash, raw, first_tx_num, tx_count) VALUES (?, ?, ?, ?, 1)'
  );
  for (let h = 0; h <= height; h++) insert.run(h, blockHash(h), Buffer.alloc(80, h), h);
  db.prepare(
    `INSERT INTO chain_state (id, coin, net, height, tip_hash, tx_count, last_change_seq)
     VALUES (0, 'Radiant', 'mainnet', ?, ?, ?, 0)`
  ).run(height, blockHash(height), height + 1);
  db.close();
}

const blockHash = (height: number): Buffer =>
  createHash('sha256').update(`block-${height}`).digest();
const displayHex = (hash: Buffer): string => Buffer.from(hash).reverse().toString('hex');
const sha256Hex = (path: string): string =>
  createHash('sha256').update(readFileSync(path)).digest('hex');

describe('backup and restore', () => {
  let dir: string;
  let dbPath: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ops-backup-'));
    dbPath = join(dir, 'live', 'index.db');
    mkdirSync(join(dir, 'live'));
    createIndex(dbPath, 20);
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the copy, a sha256sum file and a manifest with the tip', async () => {
    const file = join(dir, 'backups', 'one.db');
    const now = new Date('2026-03-04T05:06:07.000Z');
    const result = await createBackup({ dbPath, file, now: () => now });
    const digest = sha256Hex(file);
    expect(readFileSync(`${file}.sha256`, 'utf8')).toBe(`${digest}  one.db\n`);
    const manifest = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as BackupManifest;
    expect(manifest).toEqual({
      format: BACKUP_FORMAT,
      file: 'one.db',
      created_at: '2026-03-04T05:06:07.000Z',
      sha256: digest,
      size_bytes: statSync(file).size,
      coin: 'Radiant',
      net: 'mainnet',
      tip_height: 20,
      tip_hash: displayHex(blockHash(20)),
    });
    expect(result.manifest).toEqual(manifest);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.json`).mode & 0o777).toBe(0o600);
    const names = readdirSync(join(dir, 'backups')).sort();
    expect(names).toEqual(['one.db', 'one.db.json', 'one.db.sha256']);
  });

  it("removes what a killed backup left, and never another running backup's copy", async () => {
    const backups = join(dir, 'backups');
    mkdirSync(backups);
    // A process that has exited: its pid names the leftovers of a backup killed mid-copy.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(gone.stdout.toString());
    const leftovers = [`old.db.partial-${deadPid}`, `old.db.partial-${deadPid}-journal`];
    // A live process (this one's parent): its copy is still being written.
    const running = `other.db.partial-${process.ppid}`;
    for (const name of [...leftovers, running]) writeFileSync(join(backups, name), 'x');
    await createBackup({ dbPath, file: join(backups, 'new.db') });
    const names = readdirSync(backups).sort();
    expect(names).toEqual(['new.db', 'new.db.json', 'new.db.sha256', running]);
  });

  it('refuses to overwrite an existing backup', async () => {
    const file = join(dir, 'b.db');
    await createBackup({ dbPath, file });
    await expect(createBackup({ dbPath, file })).rejects.toThrow(/already exists/);
  });

  it('restores over an old index, removing its WAL, and the data is the backup', async () => {
    const file = join(dir, 'b.db');
    await createBackup({ dbPath, file });
    const target = join(dir, 'other', 'index.db');
    mkdirSync(join(dir, 'other'));
    createIndex(target, 5);
    writeFileSync(`${target}-wal`, Buffer.alloc(100, 1));
    const result = await restoreBackup({ file, dbPath: target });
    const tipHash = displayHex(blockHash(20));
    expect(result).toMatchObject({ dbPath: target, tipHeight: 20, tipHash });
    expect(existsSync(`${target}-wal`)).toBe(false);
    const db = new Database(target, { readonly: true });
    const heights = db.prepare('SELECT height, hash FROM headers ORDER BY height').all() as {
      height: number;
      hash: Buffer;
    }[];
    db.close();
    expect(heights.map((row) => row.height)).toEqual(Array.from({ length: 21 }, (_, h) => h));
    expect(heights.every((row) => row.hash.equals(blockHash(row.height)))).toBe(true);
    expect(readdirSync(join(dir, 'other')).filter((n) => n.includes('restore-'))).toEqual([]);
  });

  it('refuses a backup that differs from its checksum and leaves the target alone', async () => {
    const file = join(dir, 'b.db');
    await createBackup({ dbPath, file });
    const bytes = readFileSync(file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(file, bytes);
    const target = join(dir, 'target.db');
    createIndex(target, 3);
    const before = sha256Hex(target);
    await expect(restoreBackup({ file, dbPath: target })).rejects.toThrow(/does not match/);
    expect(sha256Hex(target)).toBe(before);
  });

  it('refuses a backup without its .sha256 file', async () => {
    const file = join(dir, 'b.db');
    await createBackup({ dbPath, file });
    rmSync(`${file}.sha256`);
    await expect(verifyBackupChecksum(file)).rejects.toThrow(/\.sha256 is missing/);
  });

  it('refuses a manifest that does not describe the file', async () => {
    const file = join(dir, 'b.db');
    await createBackup({ dbPath, file });
    const manifest = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as BackupManifest;
    writeFileSync(`${file}.json`, JSON.stringify({ ...manifest, tip_height: 19 }));
    const restored = restoreBackup({ file, dbPath: join(dir, 'new.db') });
    await expect(restored).rejects.toThrow(/manifest says 19/);
  });

  it('sees an index held open by another connection in this process', () => {
    const holder = new Database(dbPath);
    // SQLite opens the WAL on first use: an indexer connection has always read chain_state.
    holder.prepare('SELECT height FROM chain_state').get();
    try {
      expect(isDatabaseInUse(dbPath)).toBe(true);
    } finally {
      holder.close();
    }
    expect(isDatabaseInUse(dbPath)).toBe(false);
    // A read-only reader, as the index server opens it, counts too.
    const reader = new Database(dbPath, { readonly: true });
    reader.prepare('SELECT height FROM chain_state').get();
    try {
      expect(isDatabaseInUse(dbPath)).toBe(true);
    } finally {
      reader.close();
    }
    expect(isDatabaseInUse(join(dir, 'missing.db'))).toBe(false);
    const db = new Database(dbPath, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('refuses to restore over an index another process has open, even when idle', async () => {
    const file = join(dir, 'b.db');
    await createBackup({ dbPath, file });
    const script = [
      "const D = require('better-sqlite3');",
      'const db = new D(process.argv[1]);',
      "db.pragma('journal_mode = WAL');",
      "console.log('open');",
      'setTimeout(() => db.close(), 20000);',
    ].join('\n');
    const cwd = resolve(MIGRATIONS, '..');
    const child = spawn(process.execPath, ['-e', script, dbPath], { cwd });
    try {
      await new Promise<void>((done, failed) => {
        child.stdout.once('data', () => done());
        child.once('exit', (code) => failed(new Error(`holder exited ${code}`)));
      });
      const before = sha256Hex(dbPath);
      await expect(restoreBackup({ file, dbPath })).rejects.toThrow(/in use/);
      expect(sha256Hex(dbPath)).toBe(before);
    } finally {
      child.kill();
    }
  });
});

describe('pruneBackups', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ops-prune-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function fakeBackup(name: string, createdAt: string): void {
    writeFileSync(join(dir, name), 'x');
    writeFileSync(join(dir, `${name}.sha256`), 'x');
    const manifest = { format: BACKUP_FORMAT, file: name, created_at: createdAt };
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(manifest));
  }

  it('keeps the newest BACKUP_KEEP and drops those past the retention days', async () => {
    const now = () => new Date('2026-01-31T00:00:00Z');
    fakeBackup('d30.db', '2026-01-30T00:00:00Z');
    fakeBackup('d29.db', '2026-01-29T00:00:00Z');
    fakeBackup('d28.db', '2026-01-28T00:00:00Z');
    fakeBackup('d10.db', '2026-01-10T00:00:00Z');
    writeFileSync(join(dir, 'notes.json'), '{"file":"notes"}');
    writeFileSync(join(dir, 'unrelated.db'), 'keep me');

    const byAge = await pruneBackups(dir, { retentionDays: 7, keep: 0, now });
    expect(byAge).toEqual([join(dir, 'd10.db')]);
    const byCount = await pruneBackups(dir, { retentionDays: 0, keep: 2, now });
    expect(byCount).toEqual([join(dir, 'd28.db')]);
    expect(readdirSync(dir).sort()).toEqual([
      'd29.db',
      'd29.db.json',
      'd29.db.sha256',
      'd30.db',
      'd30.db.json',
      'd30.db.sha256',
      'notes.json',
      'unrelated.db',
    ]);
  });

  it('never removes the protected (just taken) backup', async () => {
    fakeBackup('old.db', '2020-01-01T00:00:00Z');
    expect(await pruneBackups(dir, { retentionDays: 1, keep: 1, protect: 'old.db' })).toEqual([]);
  });
});

describe('settings', () => {
  it('reads BACKUP_* with defaults and refuses nonsense', () => {
    expect(backupSettings({})).toEqual({ directory: undefined, retentionDays: 7, keep: 7 });
    const env = { BACKUP_DIRECTORY: '/b', BACKUP_RETENTION_DAYS: '30', BACKUP_KEEP: '0' };
    expect(backupSettings(env)).toEqual({
      directory: '/b',
      retentionDays: 30,
      keep: 0,
    });
    expect(() => backupSettings({ BACKUP_KEEP: '-1' })).toThrow(/BACKUP_KEEP/);
  });

  it('finds the index from DB_DIRECTORY or a file: DB_URL', () => {
    expect(dbPathFromEnv({ DB_DIRECTORY: '/var/lib/ee' })).toBe('/var/lib/ee/index.db');
    expect(dbPathFromEnv({ DB_URL: 'file:/data/x.db' })).toBe('/data/x.db');
    expect(dbPathFromEnv({ DB_URL: 'file:///data/y.db' })).toBe('/data/y.db');
    expect(dbPathFromEnv({})).toBeUndefined();
    expect(() => dbPathFromEnv({ DB_URL: 'libsql://db.example' })).toThrow(/file:/);
  });
});

