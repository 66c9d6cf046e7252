// The index server against the Worker's clients: @libsql/client/web and drizzle's web driver.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type Client } from '@libsql/client/web';
import { asc, eq, gt } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/libsql/web';
import { blob, integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexServer } from '../indexer/index-server/server.ts';
import { ITEM_ROWS, TEST_TOKEN, type TempIndex } from '../indexer/index-server/test-index.ts';
import {
  serveWithTestToken,
  startTempIndexServer,
  type TempIndexServer,
} from './support/local-index.ts';

const items = sqliteTable('items', {
  id: integer('id').primaryKey(),
  label: text('label'),
  payload: blob('payload', { mode: 'buffer' }),
  ratio: real('ratio'),
});

let fixture: TempIndexServer;
let index: TempIndex;
let server: IndexServer;
let client: Client;

beforeAll(async () => {
  fixture = await startTempIndexServer();
  ({ index, server } = fixture);
  client = createClient({ url: server.url, authToken: TEST_TOKEN, intMode: 'bigint' });
});

afterAll(async () => {
  client.close();
  await fixture.stop();
});

const ECHO_WITH_TYPE = 'SELECT ? AS v, typeof(?) AS t';

function bytesOf(value: unknown): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value instanceof Uint8Array) return value;
  throw new TypeError(`expected bytes, got ${typeof value}`);
}

describe('reads through @libsql/client/web', () => {
  it('returns every column of every row with its declared type', async () => {
    const sql = 'SELECT id, label, payload, amount, ratio FROM items ORDER BY id';
    const rs = await client.execute(sql);
    expect(rs.columns).toEqual(['id', 'label', 'payload', 'amount', 'ratio']);
    expect(rs.columnTypes).toEqual(['INTEGER', 'TEXT', 'BLOB', 'INTEGER', 'REAL']);
    expect(rs.rows).toHaveLength(ITEM_ROWS.length);
    ITEM_ROWS.forEach((expected, i) => {
      const row = rs.rows[i];
      expect(row?.['id']).toBe(BigInt(expected.id));
      expect(row?.['label']).toBe(expected.label);
      expect(row?.['amount']).toBe(expected.amount);
      expect(row?.['ratio']).toBe(expected.ratio);
      const payload = row?.['payload'];
      expect(payload === null ? null : bytesOf(payload)).toEqual(expected.payload);
    });
  });

  it('carries 64-bit integers beyond 2^53 both ways without loss', async () => {
    const values = [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 53n) - 3n];
    for (const value of values) {
      const rs = await client.execute({ sql: ECHO_WITH_TYPE, args: [value, value] });
      expect(rs.rows[0]?.['v']).toBe(value);
      expect(rs.rows[0]?.['t']).toBe('integer');
    }
    const sql = 'SELECT id FROM items WHERE amount = ?';
    const rs = await client.execute({ sql, args: [2n ** 63n - 1n] });
    expect(rs.rows.map((r) => r['id'])).toEqual([2n]);
  });

  it('round-trips blobs given as Uint8Array, all 256 byte values included', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    const rs = await client.execute({ sql: 'SELECT ? AS b, length(?) AS n', args: [bytes, bytes] });
    expect(bytesOf(rs.rows[0]?.['b'])).toEqual(bytes);
    expect(rs.rows[0]?.['n']).toBe(256n);
    const empty = await client.execute({ sql: 'SELECT ? AS b', args: [new Uint8Array(0)] });
    expect(bytesOf(empty.rows[0]?.['b'])).toEqual(new Uint8Array(0));
  });

  it('round-trips floats, including extremes and numbers that look whole', async () => {
    for (const value of [0.1, -2.5e-300, 1e308, 5e-324, 3.0, -0.5]) {
      const rs = await client.execute({ sql: ECHO_WITH_TYPE, args: [value, value] });
      expect(rs.rows[0]?.['v']).toBe(value);
      expect(rs.rows[0]?.['t']).toBe('real');
    }
    const inf = await client.execute('SELECT 1e999 AS p, -1e999 AS n');
    expect(inf.rows[0]?.['p']).toBe(Infinity);
    expect(inf.rows[0]?.['n']).toBe(-Infinity);
  });

  it('returns NULLs and binds them', async () => {
    const sql = 'SELECT label, payload, ? AS x FROM items WHERE id = 4';
    const rs = await client.execute({ sql, args: [null] });
    expect(rs.rows[0]?.['label']).toBeNull();
    expect(rs.rows[0]?.['payload']).toBeNull();
    expect(rs.rows[0]?.['x']).toBeNull();
  });

  it('binds named arguments', async () => {
    const sql = 'SELECT label FROM items WHERE id = :id';
    const rs = await client.execute({ sql, args: { id: 1n } });
    expect(rs.rows[0]?.['label']).toBe('alpha');
  });

  it('runs client.batch as one transaction and returns results in order', async () => {
    const results = await client.batch(
      [
        { sql: 'SELECT label FROM items WHERE id = ?', args: [1n] },
        'SELECT count(*) AS n FROM items',
        { sql: 'SELECT ? AS echo', args: ['batched'] },
      ],
      'read'
    );
    expect(results.map((r) => r.rows[0] && Object.values(r.rows[0])[0])).toEqual([
      'alpha',
      BigInt(ITEM_ROWS.length),
      'batched',
    ]);
  });

  it('reports SQL errors with the SQLite code', async () => {
    await expect(client.execute('SELECT nosuch FROM items')).rejects.toMatchObject({
      code: 'SQLITE_ERROR',
      message: expect.stringContaining('no such column: nosuch'),
    });
  });
});

describe('read-only', () => {
  const countRows = (): unknown => index.writer.prepare('SELECT count(*) AS n FROM items').get();

  it('refuses writes, DDL, temp tables and VACUUM INTO with SQLITE_READONLY', async () => {
    const before = countRows();
    const copy = join(index.dir, 'copy.db');
    for (const sql of [
      "INSERT INTO items (id, label) VALUES (99, 'x')",
      'UPDATE items SET label = NULL',
      'DELETE FROM items',
      'CREATE TABLE other (a)',
      'CREATE TEMP TABLE scratch (a)',
      'DROP TABLE items',
      `VACUUM INTO '${copy}'`,
    ]) {
      await expect(client.execute(sql), sql).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
    }
    expect(existsSync(copy)).toBe(false);
    expect(countRows()).toEqual(before);
  });

  it('refuses a write transaction and a write batch', async () => {
    const tx = await client.transaction('write');
    await expect(tx.execute('SELECT 1')).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
    tx.close();
    const batch = client.batch(["INSERT INTO items (id) VALUES (98)"], 'write');
    await expect(batch).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
    const deferred = client.batch(["INSERT INTO items (id) VALUES (97)"], 'deferred');
    await expect(deferred).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
  });

  it('refuses ATTACH, DETACH and PRAGMAs that set connection state', async () => {
    const other = join(index.dir, 'other.db');
    for (const sql of [
      `ATTACH '${other}' AS other`,
      "ATTACH ':memory:' AS mem",
      'DETACH main',
      'PRAGMA cache_size = 100000',
      'PRAGMA locking_mode = EXCLUSIVE',
      'PRAGMA user_version(7)',
      'PRAGMA writable_schema = 1',
    ]) {
      await expect(client.execute(sql), sql).rejects.toMatchObject({ code: 'SQLITE_AUTH' });
    }
    const info = await client.execute('PRAGMA table_info(items)');
    expect(info.rows.map((r) => r['name'])).toEqual(['id', 'label', 'payload', 'amount', 'ratio']);
  });
});

describe('interactive read transaction', () => {
  it('keeps one snapshot across requests while the indexer commits', async () => {
    const tx = await client.transaction('read');
    const first = await tx.execute('SELECT count(*) AS n FROM items');
    index.writer.prepare("INSERT INTO items (id, label) VALUES (50, 'late')").run();
    const second = await tx.execute('SELECT count(*) AS n FROM items');
    const late = await tx.execute('SELECT label FROM items WHERE id = 50');
    await tx.commit();
    const after = await client.execute('SELECT count(*) AS n FROM items');
    index.writer.prepare('DELETE FROM items WHERE id = 50').run();

    expect(first.rows[0]?.['n']).toBe(BigInt(ITEM_ROWS.length));
    expect(second.rows[0]?.['n']).toBe(BigInt(ITEM_ROWS.length));
    expect(late.rows).toHaveLength(0);
    expect(after.rows[0]?.['n']).toBe(BigInt(ITEM_ROWS.length + 1));
  });
});

describe('drizzle-orm/libsql/web', () => {
  // Default intMode ('number'), as drizzle's integer columns expect.
  const drizzleOf = () => drizzle(createClient({ url: server.url, authToken: TEST_TOKEN }));

  it('selects, filters and orders through the query builder', async () => {
    const db = drizzleOf();
    const rows = await db.select().from(items).where(gt(items.id, 1)).orderBy(asc(items.id));
    expect(rows.map((r) => r.id)).toEqual(ITEM_ROWS.filter((r) => r.id > 1).map((r) => r.id));
    const [beta] = await db
      .select({ payload: items.payload, ratio: items.ratio })
      .from(items)
      .where(eq(items.id, 2));
    expect(beta?.ratio).toBe(1e308);
    expect(new Uint8Array(beta?.payload ?? [])).toEqual(ITEM_ROWS[1]?.payload);
  });

  it('runs db.batch', async () => {
    const db = drizzleOf();
    const [one, all] = await db.batch([
      db.select({ label: items.label }).from(items).where(eq(items.id, 1)),
      db.select({ id: items.id }).from(items),
    ]);
    expect(one).toEqual([{ label: 'alpha' }]);
    expect(all).toHaveLength(ITEM_ROWS.length);
  });
});

describe('abandoned streams', () => {
  it('expire when idle too long: transaction rolled back, baton refused', async () => {
    const idleStreamMs = 300;
    const short = await serveWithTestToken(index.dbPath, { idleStreamMs });
    const shortClient = createClient({ url: short.url, authToken: TEST_TOKEN, intMode: 'bigint' });
    try {
      const tx = await shortClient.transaction('read');
      await tx.execute('SELECT count(*) FROM items');
      // While the stream's read transaction is open, SQLite cannot reset the WAL.
      index.writer.prepare("INSERT INTO items (id, label) VALUES (60, 'wal')").run();
      const held = index.writer.pragma('wal_checkpoint(TRUNCATE)');
      await new Promise((resolve) => setTimeout(resolve, idleStreamMs * 3));
      // The sweep and the rollback on the reader thread may lag on a loaded machine: look again
      // (bounded) rather than once.
      let freed = index.writer.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      for (let round = 0; round < 50 && freed[0]?.busy !== 0; round++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        freed = index.writer.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      }
      await expect(tx.execute('SELECT 1')).rejects.toMatchObject({ code: 'STREAM_EXPIRED' });
      index.writer.prepare('DELETE FROM items WHERE id = 60').run();

      expect(held).toEqual([expect.objectContaining({ busy: 1 })]);
      expect(freed).toEqual([expect.objectContaining({ busy: 0 })]);
    } finally {
      shortClient.close();
      await short.close();
    }
  });
});

describe('auth', () => {
  it('rejects a client with a wrong token', async () => {
    const wrong = createClient({ url: server.url, authToken: 'wrong-token-0123456789abcdef' });
    await expect(wrong.execute('SELECT 1')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    wrong.close();
  });
});
