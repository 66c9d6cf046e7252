// The header_tree table: complete-subtree hashes over block hashes, kept as blocks come and go.
// The Worker folds at most two stored nodes per level into any cp_height proof
// (core/protocol/header-proof.ts) instead of hashing every header per request.
import type Database from 'better-sqlite3';
import { parentHash } from '../core/protocol/header-proof.ts';

type Sqlite = Database.Database;
type Statement = Database.Statement;

/** Levels are bounded by the height range: 2^62 blocks will not happen. */
const MAX_LEVEL = 62;

interface Statements {
  headerHash: Statement;
  node: Statement;
  insert: Statement;
  deleteFrom: Statement;
  maxLevel: Statement;
}

// Prepared once per connection: addHeaderToTree runs for every block of an initial sync.
const cache = new WeakMap<Sqlite, Statements>();

function statements(db: Sqlite): Statements {
  let found = cache.get(db);
  if (found === undefined) {
    found = {
      headerHash: db.prepare('SELECT hash FROM headers WHERE height = ?').pluck(),
      node: db.prepare('SELECT hash FROM header_tree WHERE level = ? AND idx = ?').pluck(),
      insert: db.prepare('INSERT INTO header_tree (level, idx, hash) VALUES (?, ?, ?)'),
      deleteFrom: db.prepare('DELETE FROM header_tree WHERE level = ? AND idx >= ?'),
      maxLevel: db.prepare('SELECT MAX(level) FROM header_tree').pluck(),
    };
    cache.set(db, found);
  }
  return found;
}

function readNode(db: Sqlite, level: number, index: number): Uint8Array {
  const s = statements(db);
  const value: unknown = level === 0 ? s.headerHash.get(index) : s.node.get(level, index);
  if (!(value instanceof Uint8Array)) {
    const what = level === 0 ? `headers row ${index}` : `header_tree node (${level}, ${index})`;
    throw new Error(`${what} is missing: the header tree is behind; run syncHeaderTree first`);
  }
  return value;
}

/**
 * Records block `height` (hash in internal order) in the tree: writes every subtree it completes,
 * i.e. the parents while the node is a right child. Call inside the transaction that inserts the
 * block, in height order, after the headers row of height - 1 exists. At most log2(height) rows.
 * @throws Error when a left sibling is missing, or (UNIQUE constraint) when a node already exists,
 * which means an unwind did not call removeHeadersFromTree.
 */
export function addHeaderToTree(db: Sqlite, height: number, hash: Uint8Array): void {
  if (!Number.isSafeInteger(height) || height < 0) {
    throw new RangeError(`block height must be a non-negative integer, got ${height}`);
  }
  if (hash.length !== 32) {
    throw new RangeError(`block hash of 32 bytes expected, got ${hash.length}`);
  }
  const insert = statements(db).insert;
  let node = hash;
  let index = height;
  for (let level = 1; index % 2 === 1; level++) {
    node = parentHash(readNode(db, level - 1, index - 1), node);
    index = (index - 1) / 2;
    insert.run(level, index, node);
  }
}

/**
 * Deletes every node covering a height at or above `fromHeight` (the blocks a reorg takes out).
 * Node (L, i) covers heights up to (i + 1) * 2^L - 1, so it goes when i >= floor(fromHeight / 2^L).
 */
export function removeHeadersFromTree(db: Sqlite, fromHeight: number): void {
  if (!Number.isSafeInteger(fromHeight) || fromHeight < 0) {
    throw new RangeError(`height must be a non-negative integer, got ${fromHeight}`);
  }
  const s = statements(db);
  const top = Math.min(Number(s.maxLevel.get() ?? 0), MAX_LEVEL);
  for (let level = 1; level <= top; level++) {
    s.deleteFrom.run(level, Math.floor(fromHeight / 2 ** level));
  }
}

/** Rows a complete tree over heights 0..tipHeight holds: floor((tip + 1) / 2^L) per level. */
export function expectedTreeRows(tipHeight: number): number {
  let rows = 0;
  for (let span = 2; span <= tipHeight + 1; span *= 2) rows += Math.floor((tipHeight + 1) / span);
  return rows;
}

/**
 * Brings header_tree in line with the headers table, for an index written before the tree
 * existed (or repaired by hand): when the row count is not what the tip implies, the tree is
 * rebuilt from every block hash. Run inside a transaction, before sync resumes.
 * Returns the number of rows written (0 when the tree was already complete).
 */
export function syncHeaderTree(db: Sqlite): number {
  const tip = Number(db.prepare('SELECT COALESCE(MAX(height), -1) FROM headers').pluck().get());
  const rows = Number(db.prepare('SELECT COUNT(*) FROM header_tree').pluck().get());
  if (rows === expectedTreeRows(tip)) return 0;
  db.prepare('DELETE FROM header_tree').run();
  const hashes = db.prepare('SELECT height, hash FROM headers ORDER BY height').all() as {
    height: number;
    hash: Uint8Array;
  }[];
  const insert = statements(db).insert;
  let level = hashes.map((row, i) => {
    if (row.height !== i) throw new Error(`headers table has a gap before height ${row.height}`);
    return row.hash;
  });
  let written = 0;
  for (let depth = 1; level.length >= 2; depth++) {
    const next: Uint8Array[] = [];
    // Only complete pairs: an odd last node has no complete parent yet.
    for (let i = 0; i + 1 < level.length; i += 2) {
      const left = level[i];
      const right = level[i + 1];
      if (left === undefined || right === undefined) throw new Error('tree level has a hole');
      const parent = parentHash(left, right);
      insert.run(depth, next.length, parent);
      next.push(parent);
      written += 1;
    }
    level = next;
  }
  return written;
}
