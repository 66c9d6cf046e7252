// Unit tests of the read-only statement policy, fed by SQLite's own sqlite3_stmt_readonly flags.
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isExplain, judgeStatement } from './sql-guard.ts';

const db = new Database(':memory:');
db.exec('CREATE TABLE t (a INTEGER)');
afterAll(() => db.close());

function verdict(sql: string): string | null {
  return judgeStatement(sql, db.prepare(sql).readonly)?.code ?? null;
}

describe('judgeStatement', () => {
  it('lets reads and transaction control through', () => {
    const reads = [
      'SELECT * FROM t',
      'WITH x AS (SELECT 1) SELECT * FROM x',
      'BEGIN',
      'BEGIN TRANSACTION READONLY',
      'COMMIT',
      'SAVEPOINT s',
      'EXPLAIN SELECT 1',
    ];
    for (const sql of reads) {
      expect(verdict(sql), sql).toBeNull();
    }
  });

  it('refuses every statement SQLite marks as writing', () => {
    const writes = [
      'INSERT INTO t VALUES (1)',
      'CREATE TEMP TABLE x (a)',
      "VACUUM INTO '/nonexistent/x.db'",
      'BEGIN IMMEDIATE',
      'BEGIN EXCLUSIVE',
      'ANALYZE',
      'DROP TABLE t',
    ];
    for (const sql of writes) {
      expect(verdict(sql), sql).toBe('SQLITE_READONLY');
    }
  });

  it('refuses ATTACH and DETACH, which SQLite counts as read-only', () => {
    for (const sql of ["ATTACH ':memory:' AS m", "  /* hidden */ attach 'x' as y", 'DETACH m']) {
      expect(judgeStatement(sql, true)?.code, sql).toBe('SQLITE_AUTH');
    }
  });

  it('lets PRAGMAs only read', () => {
    const reads = [
      'PRAGMA table_info(t)',
      'PRAGMA main.table_info(t)',
      'PRAGMA user_version',
      'PRAGMA journal_mode',
      'PRAGMA index_list(t);',
    ];
    for (const sql of reads) {
      expect(verdict(sql), sql).toBeNull();
    }
    const settings = [
      'PRAGMA user_version = 3',
      'PRAGMA user_version(3)',
      'PRAGMA cache_size',
      'PRAGMA locking_mode = EXCLUSIVE',
      'PRAGMA query_only = 0',
      'PRAGMA "user_version"',
    ];
    for (const sql of settings) {
      expect(verdict(sql), sql).toBe('SQLITE_AUTH');
    }
  });
});

describe('isExplain', () => {
  it('recognises EXPLAIN and EXPLAIN QUERY PLAN only', () => {
    expect(isExplain('explain SELECT 1')).toBe(true);
    expect(isExplain('EXPLAIN QUERY PLAN SELECT 1')).toBe(true);
    expect(isExplain("SELECT 'EXPLAIN'")).toBe(false);
  });
});
