// The change-notice wire format and the hub sharding (worker/notify-wire.ts), in Node: what a
// POST /internal/notify body may hold, the errors naming a bad field, which hub a hash goes to.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HUB_SHARDS,
  MAX_NOTICES_PER_BODY,
  NoticeError,
  parseHubShards,
  parseNoticeBody,
  shardOf,
} from '../worker/notify-wire.ts';

const HASH_A = 'aa'.repeat(32);
const HASH_B = '0f'.repeat(31) + '11';
const HEADER = '01'.repeat(80);

function notice(fields: Record<string, unknown> = {}): Record<string, unknown> {
  const base = { seq: 7, height: 100, tip_hash: HASH_A, header_hex: HEADER, hashxes: [HASH_B] };
  return { ...base, ...fields };
}

function parseError(body: unknown): string {
  try {
    parseNoticeBody(typeof body === 'string' ? body : JSON.stringify(body));
  } catch (error) {
    expect(error).toBeInstanceOf(NoticeError);
    return (error as Error).message;
  }
  throw new Error('expected a NoticeError');
}

describe('parseNoticeBody', () => {
  it('reads one notice or a batch, snake_case in, with defaults for the optional fields', () => {
    const single = parseNoticeBody(JSON.stringify(notice()));
    expect(single).toEqual([
      {
        seq: 7,
        height: 100,
        tipHash: HASH_A,
        headerHex: HEADER,
        hashxes: [HASH_B],
        statuses: null,
        commitMs: null,
        more: false,
        reset: false,
      },
    ]);
    const status = 'cd'.repeat(32);
    const batch = parseNoticeBody(
      JSON.stringify([
        notice({ seq: 8, more: true, statuses: [status.toUpperCase()] }),
        notice({ seq: 8, header_hex: null, hashxes: [HASH_B.toUpperCase()], statuses: [null] }),
        notice({ seq: 9, commit_ms: 1_700_000_000_000, reset: true, hashxes: [] }),
      ])
    );
    expect(batch.map((n) => [n.seq, n.more, n.headerHex === null, n.reset])).toEqual([
      [8, true, false, false],
      [8, false, true, false],
      [9, false, false, true],
    ]);
    // Hex is taken in either case and kept lowercase, as session storage keys it.
    expect(batch[0]?.statuses).toEqual([status]);
    expect(batch[1]?.hashxes).toEqual([HASH_B]);
    expect(batch[1]?.statuses).toEqual([null]);
    expect(batch[2]?.commitMs).toBe(1_700_000_000_000);
  });

  it('names the bad field and value', () => {
    expect(parseError('{')).toBe('body is not valid JSON');
    expect(parseError([])).toBe('body holds no notice');
    expect(parseError([notice({ hashxes: undefined })])).toContain('"hashxes" is missing');
    expect(parseError([notice({ seq: 0 })])).toContain('notice[0].seq must be an integer >= 1');
    expect(parseError([notice({ height: -1 })])).toContain('notice[0].height');
    expect(parseError([notice({ tip_hash: 'ab' })])).toContain('notice[0].tip_hash must be 64 hex');
    expect(parseError([notice({ hashxes: [HASH_A, 'x'.repeat(64)] })])).toContain('hashxes[1]');
    expect(parseError([notice({ header_hex: 'ab' })])).toContain('header_hex must be 160 hex');
    expect(parseError([notice({ statuses: [] })])).toContain('as long as hashxes (1)');
    expect(parseError([notice({ more: 'yes' })])).toContain('notice[0].more must be a boolean');
    expect(parseError([1])).toContain('notice[0] must be an object');
  });

  it('refuses notices out of seq order, and a repeated seq unless the first had more parts', () => {
    expect(parseError([notice({ seq: 9 }), notice({ seq: 8 })])).toContain('out of order');
    expect(parseError([notice({ seq: 9 }), notice({ seq: 9 })])).toContain('out of order');
    const many = Array.from({ length: MAX_NOTICES_PER_BODY + 1 }, (_, i) => notice({ seq: i + 1 }));
    expect(parseError(many)).toContain(`at most ${MAX_NOTICES_PER_BODY}`);
  });
});

describe('hub shards', () => {
  it('puts a script hash on the shard of its first internal byte (last display byte)', () => {
    for (let i = 0; i < 200; i++) {
      const internal = randomBytes(32);
      const display = Buffer.from(internal).reverse().toString('hex');
      expect(shardOf(display, 16)).toBe((internal[0] ?? 0) % 16);
      expect(shardOf(display, 7)).toBe((internal[0] ?? 0) % 7);
    }
    expect(() => shardOf('zz', 16)).toThrow('64 hex digits');
  });

  it('reads HUB_SHARDS as 1..256, falling back to 16 with a problem to log', () => {
    expect(parseHubShards(undefined)).toEqual({ shards: DEFAULT_HUB_SHARDS, problem: null });
    expect(parseHubShards(' ')).toEqual({ shards: DEFAULT_HUB_SHARDS, problem: null });
    expect(parseHubShards('1')).toEqual({ shards: 1, problem: null });
    expect(parseHubShards('256')).toEqual({ shards: 256, problem: null });
    for (const bad of ['0', '257', '2.5', 'sixteen']) {
      const { shards, problem } = parseHubShards(bad);
      expect(shards).toBe(16);
      expect(problem).toContain(`HUB_SHARDS "${bad}"`);
    }
  });
});
