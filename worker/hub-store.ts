// A hub's own SQLite storage: who subscribed to which script hash of the shard, who wants new
// tips, which sessions missed wakes, and how far along the change feed the hub is.
import type { HubPosition, Registration, TipNotice } from './notify-wire.ts';

/** A session whose wakes failed; the hub retries it from its alarm. */
export interface BehindSession {
  session: string;
  /** The session missed the changes after this seq. */
  afterSeq: number;
  /** It also missed a change the hub could not name (pruned feed): re-check everything. */
  all: boolean;
  attempts: number;
  dueMs: number;
}

/** The hub's position plus the newest tip it announced, for retries. */
export interface HubState extends HubPosition {
  tip: TipNotice | null;
}

// Keys are display hex and Session ids as text: json_each() feeds them to IN lists without the
// bound-parameter limit, and both are what the callers hold.
const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS subs (hashx TEXT NOT NULL, session TEXT NOT NULL, ' +
    'PRIMARY KEY (hashx, session)) WITHOUT ROWID',
  'CREATE INDEX IF NOT EXISTS subs_by_session ON subs (session)',
  'CREATE TABLE IF NOT EXISTS tip_subs (session TEXT PRIMARY KEY) WITHOUT ROWID',
  'CREATE TABLE IF NOT EXISTS behind (session TEXT PRIMARY KEY, after_seq INTEGER NOT NULL, ' +
    'all_subs INTEGER NOT NULL, attempts INTEGER NOT NULL, due_ms INTEGER NOT NULL) WITHOUT ROWID',
  'CREATE TABLE IF NOT EXISTS position (id INTEGER PRIMARY KEY CHECK (id = 0), ' +
    'seq INTEGER NOT NULL, tip_hash TEXT, tip_seq INTEGER, tip_height INTEGER, header_hex TEXT, ' +
    'planned_ms INTEGER NOT NULL)',
];

function text(value: SqlStorageValue | undefined): string {
  if (typeof value !== 'string') throw new Error(`hub storage: expected text, got ${typeof value}`);
  return value;
}

function int(value: SqlStorageValue | undefined): number {
  if (typeof value !== 'number') {
    throw new Error(`hub storage: expected a number, got ${typeof value}`);
  }
  return value;
}

/** Typed access to one hub's tables. */
export class HubStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    for (const statement of SCHEMA) sql.exec(statement);
  }

  /** Applies a session's batch of subscribe / unsubscribe / close changes. */
  apply(change: Registration): void {
    const { session } = change;
    if (change.removeAll) {
      this.forget(session);
      return;
    }
    if (change.add.length > 0) {
      this.#sql.exec(
        'INSERT OR IGNORE INTO subs (hashx, session) SELECT value, ? FROM json_each(?)',
        session,
        JSON.stringify(change.add)
      );
    }
    if (change.remove.length > 0) {
      this.#sql.exec(
        'DELETE FROM subs WHERE session = ? AND hashx IN (SELECT value FROM json_each(?))',
        session,
        JSON.stringify(change.remove)
      );
    }
    if (change.headers === 'add') {
      this.#sql.exec('INSERT OR IGNORE INTO tip_subs (session) VALUES (?)', session);
    } else if (change.headers === 'remove') {
      this.#sql.exec('DELETE FROM tip_subs WHERE session = ?', session);
    }
  }

  /** Drops every registration and retry of a session (closed or gone). */
  forget(session: string): void {
    this.#sql.exec('DELETE FROM subs WHERE session = ?', session);
    this.#sql.exec('DELETE FROM tip_subs WHERE session = ?', session);
    this.#sql.exec('DELETE FROM behind WHERE session = ?', session);
  }

  /** Sessions subscribed to any of `hexes`, each with the hashes it subscribed to among them. */
  subscribersOf(hexes: readonly string[]): Map<string, string[]> {
    const bySession = new Map<string, string[]>();
    if (hexes.length === 0) return bySession;
    const cursor = this.#sql.exec(
      'SELECT hashx, session FROM subs WHERE hashx IN (SELECT value FROM json_each(?))',
      JSON.stringify(hexes)
    );
    for (const row of cursor.raw()) {
      const session = text(row[1]);
      const list = bySession.get(session);
      if (list === undefined) bySession.set(session, [text(row[0])]);
      else list.push(text(row[0]));
    }
    return bySession;
  }

  /** Sessions of this shard subscribed to headers. */
  tipSubscribers(): string[] {
    return this.#sql.exec('SELECT session FROM tip_subs').toArray().map((row) => text(row.session));
  }

  /** Every session registered here for anything. */
  allSessions(): string[] {
    const rows = this.#sql.exec('SELECT session FROM subs UNION SELECT session FROM tip_subs');
    return rows.toArray().map((row) => text(row.session));
  }

  hasRegistrations(): boolean {
    const row = this.#sql.exec(
      'SELECT EXISTS (SELECT 1 FROM subs) OR EXISTS (SELECT 1 FROM tip_subs) AS any_rows'
    );
    return int(row.one().any_rows) === 1;
  }

  state(): HubState {
    const rows = this.#sql.exec('SELECT * FROM position WHERE id = 0').toArray();
    const row = rows[0];
    if (row === undefined) return { seq: 0, tipHash: null, plannedAtMs: 0, tip: null };
    const tipHash = row.tip_hash === null ? null : text(row.tip_hash);
    const tip =
      row.header_hex === null
        ? null
        : { seq: int(row.tip_seq), height: int(row.tip_height), headerHex: text(row.header_hex) };
    return { seq: int(row.seq), tipHash, plannedAtMs: int(row.planned_ms), tip };
  }

  /**
   * Moves the hub to `seq`, having planned its last fan-out at `plannedAtMs`; `tipHash` and `tip`
   * replace the remembered ones when given.
   */
  advance(seq: number, plannedAtMs: number, tipHash: string | null, tip: TipNotice | null): void {
    const previous = this.state();
    this.#write(seq, plannedAtMs, tipHash ?? previous.tipHash, tip ?? previous.tip);
  }

  #write(seq: number, plannedAtMs: number, tipHash: string | null, tip: TipNotice | null): void {
    this.#sql.exec(
      'INSERT OR REPLACE INTO position ' +
        '(id, seq, tip_hash, tip_seq, tip_height, header_hex, planned_ms) ' +
        'VALUES (0, ?, ?, ?, ?, ?, ?)',
      seq,
      tipHash,
      tip?.seq ?? null,
      tip?.height ?? null,
      tip?.headerHex ?? null,
      plannedAtMs
    );
  }

  /** Retry rows of sessions in `sessions`, by session. */
  behindOf(sessions: readonly string[]): Map<string, BehindSession> {
    const found = new Map<string, BehindSession>();
    if (sessions.length === 0) return found;
    const cursor = this.#sql.exec(
      'SELECT * FROM behind WHERE session IN (SELECT value FROM json_each(?))',
      JSON.stringify(sessions)
    );
    for (const row of cursor.toArray()) {
      const entry = readBehind(row);
      found.set(entry.session, entry);
    }
    return found;
  }

  /** Retry rows due at `nowMs`, oldest first, at most `limit`. */
  dueBehind(nowMs: number, limit: number): BehindSession[] {
    const cursor = this.#sql.exec(
      'SELECT * FROM behind WHERE due_ms <= ? ORDER BY due_ms LIMIT ?',
      nowMs,
      limit
    );
    return cursor.toArray().map(readBehind);
  }

  /** The earliest due time of any retry, or null when none waits. */
  nextDueMs(): number | null {
    const row = this.#sql.exec('SELECT MIN(due_ms) AS due FROM behind').one();
    return row.due === null ? null : int(row.due);
  }

  saveBehind(entry: BehindSession): void {
    this.#sql.exec(
      'INSERT OR REPLACE INTO behind (session, after_seq, all_subs, attempts, due_ms) ' +
        'VALUES (?, ?, ?, ?, ?)',
      entry.session,
      entry.afterSeq,
      entry.all ? 1 : 0,
      entry.attempts,
      entry.dueMs
    );
  }

  clearBehind(session: string): void {
    this.#sql.exec('DELETE FROM behind WHERE session = ?', session);
  }

  /** After an index rebuild old seqs mean nothing: every waiting retry re-checks everything. */
  resetBehind(seq: number): void {
    this.#sql.exec('UPDATE behind SET after_seq = ?, all_subs = 1', seq);
  }
}

function readBehind(row: Record<string, SqlStorageValue>): BehindSession {
  return {
    session: text(row.session),
    afterSeq: int(row.after_seq),
    all: int(row.all_subs) === 1,
    attempts: int(row.attempts),
    dueMs: int(row.due_ms),
  };
}
