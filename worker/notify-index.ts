// What sessions and hubs read from the index to turn a change notice into notifications:
// cached statuses, the tip with its change seq, and the change feed after a seq (core/schema.ts).
import { createClient, type Client, type Row, type Value } from '@libsql/client/web';
import { bytesToHex, hashToHex, hexToHash } from '../core/bytes.ts';
import type { TipNotice } from './notify-wire.ts';

// Bound parameters per statement: well under SQLite's limit, and one Hrana request stays small.
const STATUS_CHUNK = 500;
const HASH_BYTES = 32;

/** The index connection settings (the same vars as worker/config.ts openIndex). */
export interface IndexSettings {
  LIBSQL_URL: string;
  LIBSQL_AUTH_TOKEN?: string;
}

/** Script hashes named by the change feed after a seq. */
export interface ChangedSince {
  /** False when rows after the seq were pruned: the caller re-checks everything instead. */
  complete: boolean;
  /** Display hex of the changed script hashes that passed the filter. */
  hashxes: Set<string>;
}

function bytesOf(value: Value | undefined, what: string): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new Error(`index value for ${what} is ${typeof value}, expected a BLOB`);
}

function intOf(value: Value | undefined, what: string): number {
  if (typeof value === 'bigint' || typeof value === 'number') return Number(value);
  throw new Error(`index value for ${what} is ${typeof value}, expected an INTEGER`);
}

/** Reads for the notification path, over Hrana HTTP like every other Worker read. */
export class NotifyIndex {
  readonly #client: Client;

  constructor(client: Client) {
    this.#client = client;
  }

  /** A reader on LIBSQL_URL. @throws Error when LIBSQL_URL is unset. */
  static open(settings: IndexSettings): NotifyIndex {
    if (typeof settings.LIBSQL_URL !== 'string' || settings.LIBSQL_URL === '') {
      throw new Error('LIBSQL_URL is not set');
    }
    const client = createClient({
      url: settings.LIBSQL_URL,
      authToken: settings.LIBSQL_AUTH_TOKEN,
      intMode: 'bigint',
    });
    return new NotifyIndex(client);
  }

  /**
   * The cached status of each script hash (display hex in, plain status hex out; null when the
   * hash has no history), as blockchain.scripthash.subscribe reports it.
   */
  async statuses(hexes: readonly string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>(hexes.map((hex) => [hex, null]));
    const statements = [];
    for (let at = 0; at < hexes.length; at += STATUS_CHUNK) {
      const chunk = hexes.slice(at, at + STATUS_CHUNK);
      statements.push({
        sql: `SELECT hashx, status FROM status WHERE hashx IN (${chunk.map(() => '?').join(',')})`,
        args: chunk.map(hexToHash),
      });
    }
    if (statements.length === 0) return out;
    const results = await this.#client.batch(statements, 'deferred');
    for (const result of results) {
      for (const row of result.rows) {
        const status = row[1] ?? null;
        const statusHex = status === null ? null : bytesToHex(bytesOf(status, 'status'));
        out.set(hashToHex(bytesOf(row[0], 'status hashx')), statusHex);
      }
    }
    return out;
  }

  /** The tip with the change seq that made it, read in one snapshot; null for an empty index. */
  async tip(): Promise<TipNotice | null> {
    const result = await this.#client.execute(
      'SELECT c.last_change_seq, c.height, h.raw FROM chain_state c ' +
        'JOIN headers h ON h.height = c.height WHERE c.id = 0'
    );
    const row: Row | undefined = result.rows[0];
    if (row === undefined) return null;
    return {
      seq: intOf(row[0], 'last_change_seq'),
      height: intOf(row[1], 'tip height'),
      headerHex: bytesToHex(bytesOf(row[2], 'tip header')),
    };
  }

  /**
   * The script hashes of the changes rows with afterSeq < seq <= uptoSeq that `keep` accepts.
   * Rows are pruned to the last REORG_LIMIT; `complete` says whether all of them were still there.
   */
  async changedSince(
    afterSeq: number,
    uptoSeq: number,
    keep: (hex: string) => boolean
  ): Promise<ChangedSince> {
    const [oldest, rows] = await this.#client.batch(
      [
        'SELECT MIN(seq) FROM changes',
        {
          sql: 'SELECT hashxes FROM changes WHERE seq > ? AND seq <= ? ORDER BY seq',
          args: [afterSeq, uptoSeq],
        },
      ],
      'deferred'
    );
    const oldestValue = oldest?.rows[0]?.[0] ?? null;
    const oldestSeq = oldestValue === null ? null : intOf(oldestValue, 'seq');
    const complete = uptoSeq <= afterSeq || (oldestSeq !== null && oldestSeq <= afterSeq + 1);
    const hashxes = new Set<string>();
    for (const row of rows?.rows ?? []) {
      const packed = bytesOf(row[0], 'changes.hashxes');
      for (let at = 0; at + HASH_BYTES <= packed.length; at += HASH_BYTES) {
        const hex = hashToHex(packed.subarray(at, at + HASH_BYTES));
        if (keep(hex)) hashxes.add(hex);
      }
    }
    return { complete, hashxes };
  }
}
