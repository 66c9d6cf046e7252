// End to end: `electrum-edge backup` while another process keeps committing blocks, then
// `electrum-edge restore`; the restored index must hold exactly the blocks up to the backup's tip.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MAX_BLOCKS = 50_000;
const WRITER_DEADLINE_MS = 60_000;

// Each block is one transaction, as the indexer commits them: a header, (height % 4) + 1 txs of
// 1 KB, and chain_state moved to the new tip. Content is a pure function of the height.
const WRITER = `
const Database = require('better-sqlite3');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const [dbPath, migrations, maxBlocks, deadlineMs] = process.argv.slice(1);
const h = (text) => createHash('sha256').update(text).digest();
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
for (const name of fs.readdirSync(migrations).filter((n) => n.endsWith('.sql')).sort()) {
  const text = fs.readFileSync(path.join(migrations, name), 'utf8');
  for (const sql of text.split('--> statement-breakpoint')) {
    if (sql.trim() !== '') db.exec(sql);
  }
}
db.prepare(
  'INSERT INTO chain_state (id, coin, net, height, tip_hash, tx_count, last_change_seq) ' +
    "VALUES (0, 'Radiant', 'regtest', -1, NULL, 0, 0)"
).run();
const header = db.prepare(
  'INSERT INTO headers (height, hash, raw, first_tx_num, tx_count) VALUES (?, ?, ?, ?, ?)'
);
const tx = db.prepare(
  'INSERT INTO txs (tx_num, txid, height, position, raw) VALUES (?, ?, ?, ?, ?)'
);
const tip = db.prepare(
  'UPDATE chain_state SET height = ?, tip_hash = ?, tx_count = ? WHERE id = 0'
);
let txNum = 0;
const block = db.transaction((height) => {
  const count = (height % 4) + 1;
  const filler = Buffer.alloc(16, height % 256);
  const raw = Buffer.concat([h('raw-' + height), h('raw2-' + height), filler]);
  header.run(height, h('block-' + height), raw, txNum, count);
  for (let p = 0; p < count; p++) {
    const body = Buffer.alloc(1024, (height + p) % 256);
    tx.run(txNum + p, h('tx-' + height + '-' + p), height, p, body);
  }
  txNum += count;
  tip.run(height, h('block-' + height), txNum);
});
let height = 0;
let stopped = false;
const end = Date.now() + Number(deadlineMs);
process.stdin.on('end', () => { stopped = true; });
process.stdin.resume();
function step() {
  for (let i = 0; i < 10 && height < Number(maxBlocks); i++) block(height++);
  process.stdout.write(String(height - 1) + '\\n');
  if (!stopped && height < Number(maxBlocks) && Date.now() < end) setImmediate(step);
  else { db.close(); process.exit(0); }
}
step();
`;

const sha = (text: string): Buffer => createHash('sha256').update(text).digest();

// The expected digest of headers and txs for heights 0..tip, computed from the rule above.
function expectedDigest(tip: number): string {
  const digest = createHash('sha256');
  let txNum = 0;
  for (let height = 0; height <= tip; height++) {
    const count = (height % 4) + 1;
    const filler = Buffer.alloc(16, height % 256);
    const raw = Buffer.concat([sha(`raw-${height}`), sha(`raw2-${height}`), filler]);
    digest.update(`h${height}:${txNum}:${count}:`).update(sha(`block-${height}`)).update(raw);
    for (let p = 0; p < count; p++) {
      digest.update(`t${txNum + p}:${height}:${p}:`).update(sha(`tx-${height}-${p}`));
      digest.update(Buffer.alloc(1024, (height + p) % 256));
    }
    txNum += count;
  }
  return digest.digest('hex');
}

interface HeaderRow {
  height: number;
  hash: Buffer;
  raw: Buffer;
  first_tx_num: number;
  tx_count: number;
}

interface TxRow {
  tx_num: number;
  txid: Buffer;
  height: number;
  position: number;
  raw: Buffer;
}

// The same digest read back from a database file.
function databaseDigest(path: string): { digest: string; height: number; tipHash: Buffer } {
  const db = new Database(path, { readonly: true });
  try {
    const digest = createHash('sha256');
    const headers = db.prepare(
      'SELECT height, hash, raw, first_tx_num, tx_count FROM headers ORDER BY height'
    );
    const txs = db.prepare(
      'SELECT tx_num, txid, height, position, raw FROM txs WHERE tx_num >= ? AND tx_num < ? ' +
        'ORDER BY tx_num'
    );
    for (const row of headers.iterate() as Iterable<HeaderRow>) {
      digest.update(`h${row.height}:${row.first_tx_num}:${row.tx_count}:`);
      digest.update(row.hash).update(row.raw);
      const end = row.first_tx_num + row.tx_count;
      for (const t of txs.all(row.first_tx_num, end) as TxRow[]) {
        digest.update(`t${t.tx_num}:${t.height}:${t.position}:`).update(t.txid).update(t.raw);
      }
    }
    const state = db.prepare('SELECT height, tip_hash FROM chain_state WHERE id = 0').get() as {
      height: number;
      tip_hash: Buffer;
    };
    return { digest: digest.digest('hex'), height: state.height, tipHash: state.tip_hash };
  } finally {
    db.close();
  }
}

class Writer {
  readonly process: ChildProcess;
  height = -1;
  private exited = false;

  constructor(dbPath: string) {
    this.process = spawn(
      process.execPath,
      ['-e', WRITER, dbPath, join(ROOT, 'migrations'), `${MAX_BLOCKS}`, `${WRITER_DEADLINE_MS}`],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] }
    );
    let buffered = '';
    this.process.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      const last = lines.at(-1);
      if (last !== undefined) this.height = Number(last);
    });
    this.process.on('exit', () => (this.exited = true));
  }

  async waitFor(height: number, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.height < height) {
      if (this.exited || Date.now() > end) {
        throw new Error(`writer stopped at ${this.height}, wanted ${height}`);
      }
      await new Promise((done) => setTimeout(done, 20));
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((done) => this.process.once('exit', done));
    this.process.stdin?.end();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

describe('electrum-edge backup and restore under load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-backup-e2e-'));
  const dbPath = join(dir, 'data', 'index.db');
  const writers: Writer[] = [];

  afterAll(async () => {
    await Promise.all(writers.map((w) => w.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('backs up a consistent tip while blocks are committed, then restores it exactly', async () => {
    mkdirSync(join(dir, 'data'), { mode: 0o700 });
    const writer = new Writer(dbPath);
    writers.push(writer);
    await writer.waitFor(300);

    const backupFile = join(dir, 'backups', 'during-writes.db');
    const heightBefore = writer.height;
    const backup = await runCli(['backup', backupFile], { DB_DIRECTORY: join(dir, 'data') });
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    const manifest = JSON.parse(backup.stdout) as {
      tip_height: number;
      tip_hash: string;
      sha256: string;
    };
    // The writer kept committing during the backup.
    await writer.waitFor(manifest.tip_height + 50);
    expect(manifest.tip_height).toBeGreaterThanOrEqual(heightBefore);

    const restored = join(dir, 'restored', 'index.db');
    const refused = await runCli(['restore', backupFile, '--db', dbPath], {});
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/in use/);

    expect(refused.stderr).toMatch(/stop it/);

    // DB_DIRECTORY names the index, as for backup; the output uses the manifest's keys.
    const restore = await runCli(['restore', backupFile], { DB_DIRECTORY: dirname(restored) });
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(JSON.parse(restore.stdout)).toEqual({
      path: restored,
      sha256: manifest.sha256,
      tip_height: manifest.tip_height,
      tip_hash: manifest.tip_hash,
    });
    await writer.stop();

    const got = databaseDigest(restored);
    expect(got.height).toBe(manifest.tip_height);
    expect(Buffer.from(got.tipHash).reverse().toString('hex')).toBe(manifest.tip_hash);
    expect(got.tipHash.equals(sha(`block-${manifest.tip_height}`))).toBe(true);
    expect(got.digest).toBe(expectedDigest(manifest.tip_height));
    const fileDigest = createHash('sha256').update(readFileSync(backupFile)).digest('hex');
    expect(fileDigest).toBe(manifest.sha256);
  });
});
