// Status hashes with a mempool part: the protocol's status example, the order of mempool entries,
// and a long confirmed history extended from its saved state (checked with node:crypto).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { StatusHasher } from '../core/status.ts';
import { openIndexDb, type IndexDb } from './db.ts';
import { inStatusOrder, rewriteStatuses, statusWithMempool } from './mempool-status.ts';

interface SpecExample {
  history_in_status_order: { tx_hash: string; height: number }[];
  expected_status: string | null;
}

const VECTORS = join(import.meta.dirname, '../test/fixtures/vectors/derived-spec-examples.json');
const examples = (JSON.parse(readFileSync(VECTORS, 'utf8')) as { status: SpecExample[] }).status;
const internal = (displayHex: string): Uint8Array => Buffer.from(displayHex, 'hex').reverse();

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'ascii').digest('hex');
}

describe('status with a mempool part', () => {
  it('matches the protocol status example from a saved confirmed state', () => {
    const example = examples[0];
    if (example === undefined) throw new Error('status example missing from the fixture');
    const entries = example.history_in_status_order;
    const confirmed = entries.filter((entry) => entry.height > 0);
    const hasher = StatusHasher.fromState(null);
    for (const entry of confirmed) hasher.add(entry.tx_hash, entry.height);
    // Resumed from its saved bytes, as the index does, and given the mempool part shuffled.
    const saved = StatusHasher.fromState(hasher.state());
    const mempool = entries
      .filter((entry) => entry.height <= 0)
      .reverse()
      .map((entry) => ({ txid: internal(entry.tx_hash), height: entry.height }));
    const status = statusWithMempool(saved, mempool);
    expect(Buffer.from(status ?? []).toString('hex')).toBe(example.expected_status);
  });

  it('is null with neither confirmed nor mempool entries (spec rule)', () => {
    expect(examples[1]?.expected_status).toBeNull();
    expect(statusWithMempool(StatusHasher.fromState(null), [])).toBeNull();
  });

  it('orders mempool entries height 0 before -1, ties by display txid', () => {
    const txids = ['ff', '00', 'aa', '0f'].map((byte) => byte.padEnd(64, '1'));
    const entries = txids.map((txid, i) => ({
      txid: internal(txid),
      height: i % 2 === 0 ? -1 : 0,
    }));
    const expected = [
      { txHash: txids[1], height: 0 },
      { txHash: txids[3], height: 0 },
      { txHash: txids[2], height: -1 },
      { txHash: txids[0], height: -1 },
    ];
    expect(inStatusOrder(entries)).toEqual(expected);
  });
});

describe('rewriteStatuses', () => {
  let db: IndexDb | undefined;
  let dir = '';

  afterEach(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('extends a 100,000-entry confirmed history from its saved state alone', () => {
    dir = mkdtempSync(join(tmpdir(), 'mempool-status-'));
    db = openIndexDb(join(dir, 'index.db'), getCoin('BitcoinCash', 'regtest'));
    const hashx = new Uint8Array(32).fill(7);
    const confirmedText: string[] = [];
    const hasher = StatusHasher.fromState(null);
    for (let i = 0; i < 100_000; i++) {
      const txHash = createHash('sha256').update(`tx${i}`).digest('hex');
      const height = 1 + Math.floor(i / 50);
      confirmedText.push(`${txHash}:${height}:`);
      hasher.add(txHash, height);
    }
    // Only the saved state: the history table holds none of these entries.
    db.prepare('INSERT INTO status VALUES (?, ?, ?, ?)').run(hashx, null, hasher.state(), 100_000);
    const pool = [
      { txid: 'c'.repeat(64), height: -1, fee: 10 },
      { txid: 'b'.repeat(64), height: 0, fee: 20 },
    ];
    for (const tx of pool) {
      db.prepare('INSERT INTO mempool_txs VALUES (?, ?, ?, ?, ?, ?)').run(
        internal(tx.txid),
        Uint8Array.of(0),
        tx.fee,
        tx.height,
        1,
        0
      );
      db.prepare('INSERT INTO mempool_history VALUES (?, ?)').run(hashx, internal(tx.txid));
    }
    rewriteStatuses(db, [hashx]);
    const row = db.prepare('SELECT status, confirmed_count FROM status').get() as {
      status: Buffer;
      confirmed_count: number;
    };
    const text = `${confirmedText.join('')}${'b'.repeat(64)}:0:${'c'.repeat(64)}:-1:`;
    expect(row.status.toString('hex')).toBe(sha256Hex(text));
    expect(row.confirmed_count).toBe(100_000);

    // The mempool empties and there is no confirmed history: the row goes, as in a clean sync.
    db.prepare('DELETE FROM mempool_history').run();
    db.prepare('UPDATE status SET confirmed_count = 0, confirmed_state = NULL').run();
    rewriteStatuses(db, [hashx]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM status').get()).toEqual({ n: 0 });
  });
});
