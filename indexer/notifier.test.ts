// The notifier against a real index file and a stand-in Worker on loopback: what it sends, in
// which order, with which secret, that it waits for commits, retries, resumes and splits rows.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { FakeWorker } from '../test/support/fake-notify-worker.ts';
import { openIndexDb, type IndexDb } from './db.ts';
import { startNotifier, type Notifier, type NotifierLog } from './notifier.ts';

const SECRET = 'notifier-test-secret-0123456789';
const WAIT_MS = 5_000;
const MAX_HOLD_MS = 400;

interface WrittenRow {
  seq: number;
  height: number;
  tipHash: Buffer;
  header: Buffer;
  hashxes: Buffer[];
}

function reversedHex(bytes: Buffer): string {
  return Buffer.from(bytes).reverse().toString('hex');
}

/** Writes one block's worth of index state the notifier reads: header, change row, chain_state. */
function writeRow(db: IndexDb, seq: number, hashCount: number, height = seq + 10): WrittenRow {
  const row: WrittenRow = {
    seq,
    height,
    tipHash: randomBytes(32),
    header: randomBytes(80),
    hashxes: Array.from({ length: hashCount }, () => randomBytes(32)),
  };
  db.sqlite
    .prepare(
      'INSERT OR REPLACE INTO headers (height, hash, raw, first_tx_num, tx_count) ' +
        'VALUES (?, ?, ?, 0, 0)'
    )
    .run(row.height, row.tipHash, row.header);
  db.sqlite
    .prepare('INSERT INTO changes (seq, height, tip_hash, hashxes) VALUES (?, ?, ?, ?)')
    .run(seq, row.height, row.tipHash, Buffer.concat(row.hashxes));
  db.sqlite
    .prepare('UPDATE chain_state SET height = ?, tip_hash = ?, last_change_seq = ? WHERE id = 0')
    .run(row.height, row.tipHash, seq);
  return row;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

const quietLog: NotifierLog = { debug() {}, info() {}, warn() {}, error() {} };

describe('notifier', () => {
  let dir: string;
  let db: IndexDb;
  let worker: FakeWorker;
  let notifier: Notifier | null = null;
  const rows = new Map<number, WrittenRow>();

  const start = (
    extra: {
      maxBodyBytes?: number;
      secret?: string;
      visibleSeq?: () => number;
      log?: NotifierLog;
    } = {}
  ): Notifier => {
    notifier = startNotifier({
      dbPath: join(dir, 'index.db'),
      url: `${worker.url}/`,
      secret: extra.secret ?? SECRET,
      log: extra.log ?? quietLog,
      watchFile: false,
      checkIntervalMs: 0,
      retryBaseMs: 20,
      retryMaxMs: 200,
      maxBodyBytes: extra.maxBodyBytes,
      visibleSeq: extra.visibleSeq,
      maxHoldMs: MAX_HOLD_MS,
    });
    return notifier;
  };
  const commit = (seq: number, hashCount = 3, height?: number): void => {
    rows.set(seq, writeRow(db, seq, hashCount, height));
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'notifier-test-'));
    db = openIndexDb(join(dir, 'index.db'), getCoin('Radiant', 'regtest'));
    worker = new FakeWorker(SECRET);
    await worker.start();
    rows.clear();
  });

  afterEach(async () => {
    await notifier?.close();
    notifier = null;
    db.close();
    await worker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends committed rows and statuses with the secret; a fresh Worker gets one', async () => {
    for (const seq of [1, 2, 3]) commit(seq);
    // A status cache row for the first hash of row 3 only: the others have no history.
    const status = randomBytes(32);
    const insertStatus =
      'INSERT INTO status (hashx, status, confirmed_state, confirmed_count) VALUES (?, ?, NULL, 1)';
    db.sqlite.prepare(insertStatus).run(rows.get(3)?.hashxes[0], status);
    const running = start();
    await waitFor('row 3', () => worker.acceptedSeqs().includes(3));
    expect(worker.acceptedSeqs()).toEqual([3]);
    const row = rows.get(3);
    const [notice] = worker.accepted;
    expect(notice).toMatchObject({
      seq: 3,
      height: row?.height,
      tip_hash: reversedHex(row?.tipHash ?? Buffer.alloc(0)),
      header_hex: row?.header.toString('hex'),
      hashxes: row?.hashxes.map(reversedHex),
      statuses: [status.toString('hex'), null, null],
    });
    expect(typeof notice?.commit_ms).toBe('number');
    expect(worker.posts.every((post) => post.auth === `Bearer ${SECRET}`)).toBe(true);

    commit(4);
    commit(5);
    running.wake();
    await waitFor('rows 4 and 5 acknowledged', () => running.ackedSeq() === 5);
    expect(worker.acceptedSeqs()).toEqual([3, 4, 5]);
  });

  it('never reads a row before its transaction commits', async () => {
    commit(1);
    const running = start();
    await waitFor('row 1', () => worker.acceptedSeqs().includes(1));
    db.sqlite.exec('BEGIN');
    commit(2);
    running.wake();
    await new Promise((done) => setTimeout(done, 300));
    expect(worker.acceptedSeqs()).toEqual([1]);
    db.sqlite.exec('COMMIT');
    running.wake();
    await waitFor('row 2', () => worker.acceptedSeqs().includes(2));
    expect(worker.acceptedSeqs()).toEqual([1, 2]);
  });

  it('sends no row past the seq the Worker can read (a remote index still behind)', async () => {
    for (const seq of [1, 2, 3]) commit(seq);
    worker.workerSeq = 1;
    worker.workerTip = reversedHex(rows.get(1)?.tipHash ?? Buffer.alloc(0));
    let visible = 2;
    const running = start({ visibleSeq: () => visible });
    await waitFor('row 2', () => worker.acceptedSeqs().includes(2));
    commit(4);
    running.wake();
    await new Promise((done) => setTimeout(done, 300));
    expect(worker.acceptedSeqs()).toEqual([2]);
    // The remote received rows 3 and 4: they go out, in order.
    visible = 4;
    running.wake();
    await waitFor('row 4', () => worker.acceptedSeqs().includes(4));
    expect(worker.acceptedSeqs()).toEqual([2, 3, 4]);
  });

  it('retries refused posts with growing delays from the last acknowledged row', async () => {
    const SECRET_HINT = "(check that NOTIFY_SECRET is the Worker's NOTIFY_SECRET)";
    const lines: string[] = [];
    const log: NotifierLog = {
      debug() {},
      info: (event) => lines.push(event),
      warn: (event, fields) => lines.push(`${event} ${String(fields?.error)}`),
      error: (event, fields) => lines.push(`${event} ${String(fields?.error)}`),
    };
    commit(1);
    const running = start({ log });
    await waitFor('row 1', () => worker.acceptedSeqs().includes(1));
    worker.failNext = [503, 500, 401, 503];
    commit(2);
    commit(3);
    running.wake();
    await waitFor('rows 2 and 3', () => worker.acceptedSeqs().includes(3));
    expect(worker.acceptedSeqs()).toEqual([1, 2, 3]);
    // Five posts carried row 2: four refused, then the one accepted.
    const carrying2 = worker.posts.filter((post) => post.notices.some((n) => n.seq === 2));
    expect(carrying2).toHaveLength(5);
    const gaps = carrying2.slice(1).map((post, i) => post.atMs - (carrying2[i]?.atMs ?? 0));
    // Base 20 ms doubling: at least 20, 40, 80, 160 ms (timers never fire early).
    gaps.forEach((gapMs, i) => expect(gapMs).toBeGreaterThanOrEqual(20 * 2 ** i - 2));
    // One line per change of complaint, not one per retry; then one when it recovers (logged
    // once the notifier has read the answer the Worker already recorded).
    await waitFor('notify_recovered', () => lines.includes('notify_recovered'));
    expect(lines.filter((line) => line !== 'notifier_resumed')).toEqual([
      'notify_failed HTTP 503: refused 503',
      'notify_failed HTTP 500: refused 500',
      `notify_unauthorized HTTP 401: refused 401 ${SECRET_HINT}`,
      'notify_failed HTTP 503: refused 503',
      'notify_recovered',
    ]);
  });

  it('logs an unreachable Worker once, with the cause fetch gives', async () => {
    const lines: { event: string; error: string }[] = [];
    const log: NotifierLog = {
      ...quietLog,
      warn: (event, fields) => lines.push({ event, error: String(fields?.error) }),
    };
    commit(1);
    await worker.stop();
    start({ log });
    // The retry delays top out at 200 ms here: a second or so is several attempts.
    await new Promise((done) => setTimeout(done, 1_200));
    expect(lines).toHaveLength(1);
    expect(lines[0]?.event).toBe('notify_resume_failed');
    expect(lines[0]?.error).toMatch(/ECONNREFUSED/);
    await worker.start();
  });

  it('resumes after the seq the Worker holds, and resets when it knew another index', async () => {
    for (const seq of [1, 2, 3, 4, 5]) commit(seq);
    worker.workerSeq = 2;
    worker.workerTip = reversedHex(rows.get(2)?.tipHash ?? Buffer.alloc(0));
    const first = start();
    await waitFor('row 5', () => worker.acceptedSeqs().includes(5));
    expect(worker.acceptedSeqs()).toEqual([3, 4, 5]);
    expect(worker.accepted.some((notice) => notice.reset === true)).toBe(false);
    await first.close();

    worker.accepted.length = 0;
    worker.workerSeq = 99;
    start();
    await waitFor('row 5 again', () => worker.acceptedSeqs().includes(5));
    expect(worker.acceptedSeqs()).toEqual([5]);
    expect(worker.accepted[0]?.reset).toBe(true);
  });

  it('splits a row with too many hashes for one body into ordered parts', async () => {
    commit(1, 0);
    const running = start({ maxBodyBytes: 2_000 });
    await waitFor('row 1', () => worker.acceptedSeqs().includes(1));
    expect(worker.accepted[0]?.hashxes).toEqual([]);
    commit(2, 50);
    running.wake();
    await waitFor('row 2', () => worker.acceptedSeqs().includes(2));
    const parts = worker.accepted.filter((notice) => notice.seq === 2);
    expect(parts.length).toBeGreaterThan(2);
    const more = parts.map((_, i) => i < parts.length - 1);
    expect(parts.map((part) => part.more === true)).toEqual(more);
    const joined = parts.flatMap((part) => part.hashxes as string[]);
    expect(joined).toEqual(rows.get(2)?.hashxes.map(reversedHex));
    for (const post of worker.posts) {
      expect(JSON.stringify(post.notices).length).toBeLessThanOrEqual(2_000);
    }
  });

  // chain_state.notices_held_after as the indexer sets it for a reorg (indexer/notice-hold.ts).
  const holdAfter = (seq: number | null): void => {
    db.sqlite.prepare('UPDATE chain_state SET notices_held_after = ? WHERE id = 0').run(seq);
  };

  it('keeps rows after a reorg hold back until it ends, then sends them in one post', async () => {
    commit(1, 3, 20);
    commit(2, 3, 21);
    const running = start();
    await waitFor('row 2', () => worker.acceptedSeqs().includes(2));
    const postsBefore = worker.posts.length;
    holdAfter(2);
    commit(3, 2, 20); // the unwind of height 21: the tip goes back to 20
    commit(4, 2, 20); // the mempool settled after it, at the same tip
    commit(5, 2, 21); // the new branch's block at 21
    running.wake();
    await new Promise((done) => setTimeout(done, MAX_HOLD_MS / 2));
    expect(worker.posts.length).toBe(postsBefore);
    holdAfter(null);
    running.wake();
    await waitFor('row 5', () => worker.acceptedSeqs().includes(5));
    const sent = worker.posts.slice(postsBefore);
    expect(sent.map((post) => post.notices.map((notice) => notice.seq))).toEqual([[3, 4, 5]]);
  });

  it('sends rows up to the hold, and the rest after maxHoldMs with one warning', async () => {
    const warnings: string[] = [];
    const log: NotifierLog = { ...quietLog, warn: (event) => warnings.push(event) };
    commit(1, 3, 20);
    holdAfter(2);
    commit(2, 3, 21);
    commit(3, 2, 20);
    // The Worker holds row 1, so the notifier resumes with row 2.
    worker.workerSeq = 1;
    worker.workerTip = reversedHex(rows.get(1)?.tipHash ?? Buffer.alloc(0));
    const startedMs = Date.now();
    start({ log });
    await waitFor('row 2', () => worker.acceptedSeqs().includes(2));
    expect(worker.acceptedSeqs()).not.toContain(3);
    await waitFor('row 3', () => worker.acceptedSeqs().includes(3));
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(MAX_HOLD_MS - 20);
    expect(warnings).toEqual(['notices_hold_overdue']);
  });

  it('sends no header for a tip the index no longer holds', async () => {
    commit(1);
    db.sqlite.prepare('DELETE FROM headers WHERE height = ?').run(rows.get(1)?.height);
    start();
    await waitFor('row 1', () => worker.acceptedSeqs().includes(1));
    expect(worker.accepted[0]?.header_hex).toBeNull();
  });

  it('keeps retrying with a wrong secret and sends nothing', async () => {
    commit(1);
    start({ secret: 'not-the-secret-at-all-0000' });
    // Counted, not timed: three refusals show it kept trying on a machine of any speed.
    await waitFor('three refused requests', () => worker.refused >= 3);
    expect(worker.accepted).toEqual([]);
    expect(worker.posts).toEqual([]);
  });
});
