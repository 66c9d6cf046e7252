// Tests for core/status.ts: the protocol's status example and the resumable SHA-256 vs node:crypto.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from './bytes.ts';
import { StatusHasher, statusHash } from './status.ts';

interface StatusExample {
  history_in_status_order: { tx_hash: string; height: number }[];
  expected_status: string | null;
}
const examplesUrl = new URL('../test/fixtures/vectors/derived-spec-examples.json', import.meta.url);
const examples = (JSON.parse(readFileSync(examplesUrl, 'utf8')) as { status: StatusExample[] })
  .status;

const toEntries = (example: StatusExample): { txHash: string; height: number }[] =>
  example.history_in_status_order.map((item) => ({ txHash: item.tx_hash, height: item.height }));
const nodeSha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** A small deterministic generator so a failure can be replayed from its seed. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('statusHash', () => {
  it('gives the spec example status and null for no history', () => {
    expect(examples.length).toBe(2);
    for (const example of examples) {
      expect(statusHash(toEntries(example))).toBe(example.expected_status);
    }
  });

  it('StatusHasher built in two halves through a saved state gives the same status', () => {
    const [example] = examples;
    if (!example) throw new Error('missing example');
    const entries = toEntries(example);
    const first = StatusHasher.fromState(null);
    for (const entry of entries.slice(0, 3)) first.add(entry.txHash, entry.height);
    const resumed = StatusHasher.fromState(first.state());
    for (const entry of entries.slice(3)) resumed.add(entry.txHash, entry.height);
    expect(resumed.digestHex()).toBe(example.expected_status);
    expect(StatusHasher.fromState(null).statusOrNull()).toBeNull();
  });
});

describe('StatusHasher SHA-256', () => {
  it('matches node:crypto at every length around the block and padding boundaries', () => {
    for (let size = 0; size <= 200; size++) {
      const data = randomBytes(size);
      const hasher = StatusHasher.fromState(null);
      hasher.update(data);
      expect(hasher.digestHex(), `size ${size}`).toBe(nodeSha256(data));
    }
  });

  it('matches node:crypto on random inputs split at random points through saved states', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = lcg(seed);
      const data = randomBytes(Math.floor(random() * 2000));
      let hasher = StatusHasher.fromState(null);
      let pos = 0;
      while (pos < data.length) {
        const take = Math.min(data.length - pos, Math.floor(random() * 150));
        hasher.update(data.subarray(pos, pos + take));
        pos += take;
        const state = hasher.state();
        expect(state.length).toBe(40 + (pos % 64));
        if (random() < 0.5) hasher = StatusHasher.fromState(state.slice());
      }
      expect(hasher.digestHex(), `seed ${seed}`).toBe(nodeSha256(data));
    }
  });

  it('digest leaves the hasher usable and clone is independent', () => {
    const hasher = StatusHasher.fromState(null);
    hasher.add('aa'.repeat(32), 5);
    const copy = hasher.clone();
    expect(hasher.digestHex()).toBe(nodeSha256(Buffer.from(`${'aa'.repeat(32)}:5:`)));
    hasher.add('bb'.repeat(32), -1);
    expect(copy.digestHex()).toBe(nodeSha256(Buffer.from(`${'aa'.repeat(32)}:5:`)));
    const text = `${'aa'.repeat(32)}:5:${'bb'.repeat(32)}:-1:`;
    expect(hasher.digestHex()).toBe(nodeSha256(Buffer.from(text)));
    expect(bytesToHex(hasher.digest())).toBe(hasher.digestHex());
  });

  it('refuses a state whose size does not match its length field', () => {
    const hasher = StatusHasher.fromState(null);
    hasher.update(randomBytes(70));
    const state = hasher.state();
    expect(state.length).toBe(46);
    expect(() => StatusHasher.fromState(state.subarray(0, 45))).toThrow(RangeError);
    expect(() => StatusHasher.fromState(new Uint8Array(39))).toThrow(RangeError);
    const tooLong = new Uint8Array(state.length + 1);
    tooLong.set(state);
    expect(() => StatusHasher.fromState(tooLong)).toThrow(RangeError);
  });

  it('restore reuses one hasher across saved states and restarts it on null', () => {
    const hasher = StatusHasher.fromState(null);
    for (let seed = 1; seed <= 100; seed++) {
      const random = lcg(seed);
      const data = randomBytes(Math.floor(random() * 400));
      const split = Math.floor(random() * data.length);
      const first = StatusHasher.fromState(null);
      first.update(data.subarray(0, split));
      // Leftover pending bytes from the previous round must not leak into this one.
      hasher.restore(random() < 0.2 ? null : first.state());
      if (hasher.empty) hasher.update(data.subarray(0, split));
      hasher.update(data.subarray(split));
      expect(hasher.digestHex(), `seed ${seed}`).toBe(nodeSha256(data));
    }
    hasher.restore(null);
    expect(hasher.empty).toBe(true);
    expect(hasher.digestHex()).toBe(nodeSha256(Buffer.alloc(0)));
  });

  it('writeState writes state() at an offset, length as u64 little-endian', () => {
    const hasher = StatusHasher.fromState(null);
    hasher.update(randomBytes(70));
    const target = new Uint8Array(200).fill(0xee);
    const end = hasher.writeState(target, 17);
    expect(end - 17).toBe(hasher.stateBytes);
    expect(target.subarray(17, end)).toEqual(hasher.state());
    expect(target[16]).toBe(0xee);
    expect(target[end]).toBe(0xee);
    const view = new DataView(target.buffer, 17 + 32, 8);
    expect(view.getBigUint64(0, true)).toBe(70n);
  });

  it('round-trips a saved state whose length needs more than 32 bits', () => {
    const state = new Uint8Array(40 + 5);
    const view = new DataView(state.buffer);
    for (let i = 0; i < 8; i++) view.setUint32(4 * i, 0x01020304 * (i + 1), false);
    view.setBigUint64(32, 2n ** 32n * 3n + 5n, true);
    state.set([1, 2, 3, 4, 5], 40);
    expect(StatusHasher.fromState(state).state()).toEqual(state);
    view.setBigUint64(32, 2n ** 60n, true);
    expect(() => StatusHasher.fromState(state.subarray(0, 40))).toThrow(RangeError);
  });

  it('refuses a non-integer height', () => {
    expect(() => StatusHasher.fromState(null).add('aa'.repeat(32), 1.5)).toThrow(RangeError);
  });
});

describe('StatusHasher.update over a range', () => {
  it('hashes data[start..end) across block boundaries, as node:crypto hashes those bytes', () => {
    const data = new Uint8Array(randomBytes(300));
    // Ranges that start and end inside, at and across 64-byte blocks, fed after 0..70 bytes.
    for (const lead of [0, 1, 63, 64, 70]) {
      for (const [start, end] of [
        [0, 0],
        [0, 64],
        [5, 69],
        [63, 200],
        [64, 128],
        [100, 300],
      ] as const) {
        const hasher = StatusHasher.fromState(null);
        hasher.update(data.subarray(0, lead));
        hasher.update(data, start, end);
        const expected = createHash('sha256')
          .update(data.subarray(0, lead))
          .update(data.subarray(start, end))
          .digest('hex');
        expect(bytesToHex(hasher.digest()), `lead ${lead}, ${start}..${end}`).toBe(expected);
      }
    }
  });
});
