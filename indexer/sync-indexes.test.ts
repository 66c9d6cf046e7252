// Sync far behind the node: utxos_by_hashx and txs_by_txid are dropped while catching up, rebuilt
// at the tip or on the next open (txs_by_txid at once when a spend the UTXO cache misses needs it),
// and the index still equals the reference's.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import {
  expectIndexMatchesReference,
  generatedRadiantChain,
  syncFromSimNode,
  tempDirs,
  type SyncTuning,
} from '../test/indexer-support.ts';
import {
  dropDeferredIndexes,
  openIndexDb,
  restoreDeferredIndexes,
  type IndexDb,
} from './db.ts';

const coin = getCoin('Radiant', 'regtest');
const BLOCKS = 30;
const { hexes: blocks, ref } = generatedRadiantChain(BLOCKS, 20, 5);

const dirs = tempDirs('sync-test-');
afterAll(() => dirs.removeAll());

function hasIndex(sqlite: Database.Database, name: string): boolean {
  const found = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?");
  return found.get(name) !== undefined;
}

// What the planner does for listunspent's lookup, read from EXPLAIN QUERY PLAN.
function planOfHashxLookup(path: string): string {
  const sqlite = new Database(path, { readonly: true });
  try {
    const rows = sqlite
      .prepare('EXPLAIN QUERY PLAN SELECT tx_num, vout FROM utxos WHERE hashx = ?')
      .all(Buffer.alloc(32)) as { detail: string }[];
    return rows.map((row) => row.detail).join('; ');
  } finally {
    sqlite.close();
  }
}

// The same for a lookup by txid (transaction.get, and spends the UtxoCache misses).
function planOfTxidLookup(path: string): string {
  const sqlite = new Database(path, { readonly: true });
  try {
    const rows = sqlite
      .prepare('EXPLAIN QUERY PLAN SELECT tx_num FROM txs WHERE txid = ?')
      .all(Buffer.alloc(32)) as { detail: string }[];
    return rows.map((row) => row.detail).join('; ');
  } finally {
    sqlite.close();
  }
}

describe('Sync far behind the node', () => {
  // Indexes dropped through `sqlite.exec`, by name, in order.
  const dropped: string[] = [];

  // Syncs the whole chain far behind the node; returns which deferred indexes each commit saw.
  async function syncFarBehind(
    path: string,
    utxoCacheBytes?: number,
    served: string[] = blocks
  ): Promise<{ byHashx: boolean; byTxid: boolean }[]> {
    const seen: { byHashx: boolean; byTxid: boolean }[] = [];
    const tune = (db: IndexDb): SyncTuning => {
      const exec = db.sqlite.exec.bind(db.sqlite);
      db.sqlite.exec = (sql: string) => {
        const drop = /^DROP INDEX `(\w+)`/.exec(sql);
        if (drop !== null) dropped.push(drop[1] ?? '');
        return exec(sql);
      };
      const observer = {
        committed: () =>
          seen.push({
            byHashx: hasIndex(db.sqlite, 'utxos_by_hashx'),
            byTxid: hasIndex(db.sqlite, 'txs_by_txid'),
          }),
      };
      return { flushBlocks: 4, deferIndexBlocks: 10, observer, utxoCacheBytes };
    };
    // Caught up once utxos_by_hashx is back: the rebuild follows the last commit.
    await syncFromSimNode(path, coin, served, tune, (db) => hasIndex(db.sqlite, 'utxos_by_hashx'));
    return seen;
  }

  it('drops both deferred indexes until it catches up, then builds them again', async () => {
    const dir = dirs.make();
    const path = join(dir, 'index.db');
    const seen = await syncFarBehind(path);
    // Every commit while catching up ran without them (the UtxoCache held every spent output);
    // the tip has them back.
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every(({ byHashx, byTxid }) => !byHashx && !byTxid)).toBe(true);
    expect(planOfHashxLookup(path)).toMatch(/USING (COVERING )?INDEX utxos_by_hashx/);
    expect(planOfTxidLookup(path)).toMatch(/USING (COVERING )?INDEX txs_by_txid/);
    expectIndexMatchesReference(path, ref);
  });

  // No cache: the first spend of an output from an earlier flush needs txs_by_txid. A cache of
  // 40 outputs: it misses once it has evicted, with a filled cache to drop on the rollback.
  it.each([0, 40 * 120])(
    'builds txs_by_txid at once and keeps it when a spend misses the UTXO cache (%i bytes)',
    async (utxoCacheBytes) => {
      const dir = dirs.make();
      const path = join(dir, 'index.db');
      const seen = await syncFarBehind(path, utxoCacheBytes);
      const firstWithTxid = seen.findIndex(({ byTxid }) => byTxid);
      expect(firstWithTxid).toBeGreaterThan(0);
      // Kept from then on while utxos_by_hashx stays deferred.
      const catchingUp = seen.slice(firstWithTxid).filter(({ byHashx }) => !byHashx);
      expect(catchingUp.length).toBeGreaterThan(0);
      expect(catchingUp.every(({ byTxid }) => byTxid)).toBe(true);
      expectIndexMatchesReference(path, ref);
    }
  );

  it('keeps txs_by_txid when it resumes a sync (the UTXO cache starts empty)', async () => {
    const dir = dirs.make();
    const path = join(dir, 'index.db');
    // A first run indexes part of the chain; the second, far behind, must not drop txs_by_txid.
    await syncFarBehind(path, undefined, blocks.slice(0, 6));
    dropped.length = 0;
    const seen = await syncFarBehind(path);
    expect(dropped).toEqual(['utxos_by_hashx']);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every(({ byHashx, byTxid }) => !byHashx && byTxid)).toBe(true);
    expectIndexMatchesReference(path, ref);
  });

  it('keeps txs_by_txid while stored mempool txs are settled at every flush', async () => {
    const dir = dirs.make();
    const path = join(dir, 'index.db');
    // A mempool tx an earlier run left behind (never mined on this chain).
    openIndexDb(path, coin).close();
    const sqlite = new Database(path);
    sqlite
      .prepare(
        `INSERT INTO mempool_txs (txid, raw, fee, height, size, seen_at)
         VALUES (?, ?, 0, 0, 1, 0)`
      )
      .run(Buffer.alloc(32, 7), Buffer.from([0]));
    sqlite.close();
    dropped.length = 0;
    await syncFarBehind(path);
    expect(dropped).toEqual(['utxos_by_hashx']);
  });

  it('builds the missing deferred indexes when the index is opened (a stop before the tip)', () => {
    const dir = dirs.make();
    const path = join(dir, 'index.db');
    openIndexDb(path, coin).close();
    const sqlite = new Database(path);
    sqlite.exec('DROP INDEX utxos_by_hashx');
    sqlite.exec('DROP INDEX txs_by_txid');
    expect(planOfHashxLookup(path)).not.toMatch(/utxos_by_hashx/);
    expect(planOfTxidLookup(path)).not.toMatch(/txs_by_txid/);
    sqlite.close();
    const db = openIndexDb(path, coin);
    expect(hasIndex(db.sqlite, 'utxos_by_hashx')).toBe(true);
    expect(hasIndex(db.sqlite, 'txs_by_txid')).toBe(true);
    db.close();
    expect(planOfHashxLookup(path)).toMatch(/USING (COVERING )?INDEX utxos_by_hashx/);
    expect(planOfTxidLookup(path)).toMatch(/USING (COVERING )?INDEX txs_by_txid/);
  });

  it('keeps the TEMP triggers of its connection (the remote mirror uses them) on a rebuild', () => {
    const dir = dirs.make();
    const db = openIndexDb(join(dir, 'index.db'), coin);
    try {
      const sqlite = db.sqlite;
      sqlite.exec('CREATE TEMP TABLE seen (n INTEGER)');
      sqlite.exec(
        `CREATE TEMP TRIGGER utxo_seen AFTER INSERT ON main.utxos
         BEGIN INSERT INTO seen VALUES (1); END`
      );
      expect(dropDeferredIndexes(sqlite)).toBe(2);
      expect(restoreDeferredIndexes(sqlite)).toBe(2);
      // Changing temp_store would have deleted both TEMP objects; the trigger still fires.
      const insert = 'INSERT INTO utxos (tx_num, vout, hashx, value) VALUES (1, 0, ?, 5)';
      sqlite.prepare(insert).run(Buffer.alloc(32));
      expect(sqlite.prepare('SELECT count(*) FROM seen').pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  });
});
