// The index file: migrations applied once and recorded as drizzle does, the schema equal to the
// table in docs/ARCHITECTURE.md, WITHOUT ROWID layout, pragmas, and the coin guard.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { tempDir } from '../test/indexer-support.ts';
import { acquireIndexLock, lockPathOf, openIndexDb } from './db.ts';

const ROOT = join(import.meta.dirname, '..');
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function newPath(): string {
  const dir = tempDir();
  dirs.push(dir);
  return join(dir, 'sub', 'index.db');
}

/** table -> every column named in the key and columns cells of ARCHITECTURE.md's schema table. */
function documentedSchema(): Map<string, string[]> {
  const doc = readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
  const tables = new Map<string, string[]>();
  for (const line of doc.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const table = /^`([a-z_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (table === undefined || cells.length < 5) continue;
    // Column names are the first backticked word of each comma-separated item.
    const names = [cells[2] ?? '', cells[3] ?? '']
      .join(',')
      .split(',')
      .map((item) => /`([a-z_]+)`/.exec(item)?.[1])
      .filter((name): name is string => name !== undefined);
    tables.set(table, names);
  }
  return tables;
}

describe('openIndexDb', () => {
  const coin = getCoin('Radiant', 'mainnet');

  it('creates the directory, applies each migration once and records it like drizzle', () => {
    const path = newPath();
    openIndexDb(path, coin).close();
    openIndexDb(path, coin).close();
    const journalText = readFileSync(join(ROOT, 'migrations/meta/_journal.json'), 'utf8');
    const journal = JSON.parse(journalText) as { entries: { tag: string; when: number }[] };
    const sqlite = new Database(path, { readonly: true });
    const applied = sqlite
      .prepare('SELECT hash, created_at FROM __drizzle_migrations ORDER BY id')
      .all();
    sqlite.close();
    const fileHash = (tag: string): string => {
      const text = readFileSync(join(ROOT, `migrations/${tag}.sql`), 'utf8');
      return createHash('sha256').update(text).digest('hex');
    };
    expect(applied).toEqual(
      journal.entries.map((entry) => ({ hash: fileHash(entry.tag), created_at: entry.when }))
    );
  });

  it('holds exactly the tables and columns of docs/ARCHITECTURE.md', () => {
    const path = newPath();
    openIndexDb(path, coin).close();
    const sqlite = new Database(path, { readonly: true });
    const tables = sqlite
      .prepare(
        `SELECT name FROM sqlite_master
         WHERE type = 'table' AND name NOT LIKE '\\_\\_%' ESCAPE '\\' ORDER BY name`
      )
      .all() as { name: string }[];
    const columnsOf = (table: string): string[] => {
      const info = sqlite.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
      return info.map((column) => column.name).sort();
    };
    const actual = new Map(tables.map(({ name }) => [name, columnsOf(name)]));
    sqlite.close();
    const documented = documentedSchema();
    const undocumented = [...actual.keys()].filter((table) => !documented.has(table));
    expect(undocumented, 'tables missing from docs/ARCHITECTURE.md').toEqual([]);
    expect([...actual.keys()].sort()).toEqual([...documented.keys()].sort());
    for (const [table, columns] of documented) {
      expect(actual.get(table), table).toEqual([...new Set(columns)].sort());
    }
  });

  it('lays composite- and hash-keyed tables out WITHOUT ROWID, with the documented indexes', () => {
    const path = newPath();
    openIndexDb(path, coin).close();
    const sqlite = new Database(path, { readonly: true });
    const tables = sqlite
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name != ?")
      .all('__drizzle_migrations') as { name: string; sql: string }[];
    // The rule of core/schema.ts: a composite key or a BLOB key means WITHOUT ROWID.
    const layout = tables.map((table) => {
      const info = sqlite.prepare(`PRAGMA table_info(${table.name})`).all() as {
        type: string;
        pk: number;
      }[];
      const key = info.filter((column) => column.pk > 0);
      const wanted = key.length > 1 || key[0]?.type.toLowerCase() === 'blob';
      return { table: table.name, wanted, actual: /WITHOUT ROWID\s*$/i.test(table.sql) };
    });
    const withoutRowid = layout.filter((row) => row.actual).map((row) => row.table).sort();
    const indexRows = sqlite
      .prepare("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
      .all() as { name: string; tbl_name: string }[];
    const indexes = indexRows.map((row) => `${row.tbl_name}.${row.name}`).sort();
    const mode = sqlite.pragma('journal_mode', { simple: true });
    sqlite.close();
    expect(layout.filter((row) => row.wanted !== row.actual)).toEqual([]);
    const documentedWithoutRowid = [
      'history',
      'mempool_history',
      'mempool_outputs',
      'mempool_spends',
      'mempool_txs',
      'refs',
      'status',
      'utxos',
    ];
    expect(withoutRowid).toEqual(expect.arrayContaining(documentedWithoutRowid));
    expect(indexes).toEqual([
      'mempool_outputs.mempool_outputs_by_hashx',
      'mempool_spends.mempool_spends_by_hashx',
      'txs.txs_by_txid',
      'utxos.utxos_by_hashx',
    ]);
    expect(mode).toBe('wal');
  });

  it('starts an empty index at height -1 and refuses an index of another coin', () => {
    const path = newPath();
    const db = openIndexDb(path, coin);
    expect(db.readChainState()).toEqual({
      coin: 'Radiant',
      net: 'mainnet',
      height: -1,
      tipHash: null,
      txCount: 0,
      lastChangeSeq: 0,
    });
    // Any block at all makes it Radiant's for good (the bytes need not be a real header here).
    db.prepare(
      'INSERT INTO headers (height, hash, raw, first_tx_num, tx_count) VALUES (0, ?, ?, 0, 0)'
    ).run(createHash('sha256').update('block 0').digest(), Buffer.alloc(80));
    db.prepare('UPDATE chain_state SET height = 0 WHERE id = 0').run();
    db.close();
    expect(() => openIndexDb(path, getCoin('BitcoinCash', 'regtest'))).toThrow(
      /the index holds Radiant mainnet, not BitcoinCash regtest/
    );
  });

  it('gives an index without a block to the coin it is opened for', () => {
    const path = newPath();
    openIndexDb(path, getCoin('Bitcoin', 'mainnet')).close();
    const db = openIndexDb(path, coin);
    expect(db.readChainState()).toMatchObject({ coin: 'Radiant', net: 'mainnet', height: -1 });
    db.close();
  });

  it('caches prepared statements by SQL text', () => {
    const db = openIndexDb(newPath(), coin);
    expect(db.prepare('SELECT 1')).toBe(db.prepare('SELECT 1'));
    db.close();
  });
});

describe('acquireIndexLock', () => {
  it('takes over a lock that names its own PID (a container restarts it with the same PID)', () => {
    const dir = tempDir('db-lock-');
    try {
      const dbPath = join(dir, 'index.db');
      const first = acquireIndexLock(dbPath);
      first.release();
      writeFileSync(lockPathOf(dbPath), `${process.pid}\n`);
      const lock = acquireIndexLock(dbPath);
      expect(lock.stalePid).toBe(process.pid);
      expect(readFileSync(lockPathOf(dbPath), 'utf8').trim()).toBe(String(process.pid));
      lock.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
