// Tests of header_tree maintenance against subtree hashes computed here with node:crypto.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { headerProof } from '../core/protocol/header-proof.ts';
import { migrate } from './db.ts';
import {
  addHeaderToTree,
  expectedTreeRows,
  removeHeadersFromTree,
  syncHeaderTree,
} from './header-tree.ts';

function digest(name: string, data: Buffer): Buffer {
  return createHash(name).update(data).digest();
}

const sha256d = (data: Buffer): Buffer => digest('sha256', digest('sha256', data));

/** A Radiant-style block hash (SHA-512/256d) of a made-up header; `fork` changes the branch. */
function blockHash(height: number, fork = 0): Buffer {
  const header = Buffer.alloc(80);
  header.writeUInt32LE(height, 0);
  header.writeUInt32LE(fork, 76);
  return digest('sha512-256', digest('sha512-256', header));
}

/** Every complete subtree node over `leaves`, "level:index" -> hex, levels >= 1. */
function referenceNodes(leaves: Buffer[]): Map<string, string> {
  const out = new Map<string, string>();
  let level = leaves;
  for (let depth = 1; level.length >= 2; depth++) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      next.push(sha256d(Buffer.concat([level[i] as Buffer, level[i + 1] as Buffer])));
      out.set(`${depth}:${next.length - 1}`, (next[next.length - 1] as Buffer).toString('hex'));
    }
    level = next;
  }
  return out;
}

/** Electrum's root over `leaves` (odd last node paired with itself), hex. */
function referenceRoot(leaves: Buffer[]): string {
  let level = leaves;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Buffer;
      next.push(sha256d(Buffer.concat([left, level[i + 1] ?? left])));
    }
    level = next;
  }
  return (level[0] ?? Buffer.alloc(0)).toString('hex');
}

let dir = '';
let db: Database.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'header-tree-'));
  db = new Database(join(dir, 'index.db'));
  migrate(db);
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function storedNodes(): Map<string, string> {
  const rows = db.prepare('SELECT level, idx, hash FROM header_tree').all() as {
    level: number;
    idx: number;
    hash: Buffer;
  }[];
  return new Map(rows.map((row) => [`${row.level}:${row.idx}`, row.hash.toString('hex')]));
}

const insertHeader = (height: number, hash: Buffer): void => {
  db.prepare('INSERT INTO headers VALUES (?, ?, ?, 0, 0)').run(height, hash, Buffer.alloc(80));
};

function appendBlocks(hashes: Buffer[], from: number): void {
  db.transaction(() => {
    for (let height = from; height < hashes.length; height++) {
      const hash = hashes[height] as Buffer;
      insertHeader(height, hash);
      addHeaderToTree(db, height, new Uint8Array(hash));
    }
  })();
}

describe('addHeaderToTree and removeHeadersFromTree', () => {
  it('keep exactly the complete subtrees through appends and a reorg', () => {
    const hashes = Array.from({ length: 300 }, (_, height) => blockHash(height));
    appendBlocks(hashes, 0);
    expect(storedNodes()).toEqual(referenceNodes(hashes));
    expect(storedNodes().size).toBe(expectedTreeRows(299));

    // A reorg back to height 200: blocks 201.. leave, a competing branch of 77 blocks comes in.
    db.transaction(() => {
      removeHeadersFromTree(db, 201);
      db.prepare('DELETE FROM headers WHERE height >= 201').run();
    })();
    expect(storedNodes()).toEqual(referenceNodes(hashes.slice(0, 201)));
    const competing = Array.from({ length: 77 }, (_, i) => blockHash(201 + i, 1));
    const branch = [...hashes.slice(0, 201), ...competing];
    appendBlocks(branch, 201);
    expect(storedNodes()).toEqual(referenceNodes(branch));
  });

  it('feed cp_height proofs that match the root over every hash', () => {
    const hashes = Array.from({ length: 130 }, (_, height) => blockHash(height));
    appendBlocks(hashes, 0);
    const node = db.prepare('SELECT hash FROM header_tree WHERE level = ? AND idx = ?').pluck();
    const leaf = db.prepare('SELECT hash FROM headers WHERE height = ?').pluck();
    for (const cpHeight of [1, 2, 63, 64, 65, 100, 127, 128, 129]) {
      for (const height of [0, 1, cpHeight >> 1, cpHeight]) {
        const proof = headerProof(height, cpHeight, ({ level, index }) => {
          const value: unknown = level === 0 ? leaf.get(index) : node.get(level, index);
          if (!(value instanceof Uint8Array)) throw new Error(`no node ${level}:${index}`);
          return value;
        });
        expect(Buffer.from(proof.root).toString('hex')).toBe(
          referenceRoot(hashes.slice(0, cpHeight + 1))
        );
      }
    }
  });

  it('refuse a block whose left sibling is missing, and a node written twice', () => {
    insertHeader(0, blockHash(0));
    expect(() => addHeaderToTree(db, 3, new Uint8Array(blockHash(3)))).toThrow(/headers row 2/);
    insertHeader(1, blockHash(1));
    addHeaderToTree(db, 1, new Uint8Array(blockHash(1)));
    expect(() => addHeaderToTree(db, 1, new Uint8Array(blockHash(1)))).toThrow(/UNIQUE/);
    expect(() => addHeaderToTree(db, -1, new Uint8Array(32))).toThrow(RangeError);
    expect(() => addHeaderToTree(db, 2, new Uint8Array(31))).toThrow(RangeError);
  });
});

describe('syncHeaderTree', () => {
  it('builds the tree of an index written before it existed, then leaves it alone', () => {
    const hashes = Array.from({ length: 1000 }, (_, height) => blockHash(height));
    db.transaction(() => hashes.forEach((hash, height) => insertHeader(height, hash)))();
    expect(db.transaction(() => syncHeaderTree(db))()).toBe(expectedTreeRows(999));
    expect(storedNodes()).toEqual(referenceNodes(hashes));
    expect(syncHeaderTree(db)).toBe(0);
    // A lost row is noticed by the count and repaired.
    db.prepare('DELETE FROM header_tree WHERE level = 3 AND idx = 7').run();
    expect(syncHeaderTree(db)).toBe(expectedTreeRows(999));
    expect(storedNodes()).toEqual(referenceNodes(hashes));
    expect(expectedTreeRows(-1)).toBe(0);
    expect(expectedTreeRows(0)).toBe(0);
    expect(expectedTreeRows(7)).toBe(4 + 2 + 1);
  });
});
