// UtxoCache against a plain Map model: adds, spends, oldest-first eviction, duplicate outpoints.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NOT_CACHED, TAKEN_ALREADY, UtxoCache } from './utxo-cache.ts';

const txidOf = (n: number): Buffer => createHash('sha256').update(`tx${n}`).digest();
const hashxOf = (n: number): Buffer => createHash('sha256').update(`hashx${n}`).digest();

interface Model {
  txNum: number;
  value: bigint;
  hashx: string;
  refs: string | null;
}

const keyOf = (n: number, vout: number): string => `${n}:${vout}`;

function addOutput(cache: UtxoCache, n: number, vout: number, model: Map<string, Model>): void {
  const refs = n % 5 === 0 ? Buffer.alloc(37, n % 251) : null;
  const value = BigInt(n) * 1_000_000_000_000n + BigInt(vout); // past 2^53
  cache.add(txidOf(n), 0, vout, { txNum: n, value, refs }, hashxOf(n + vout), 0);
  model.set(keyOf(n, vout), {
    txNum: n,
    value,
    hashx: hashxOf(n + vout).toString('hex'),
    refs: refs === null ? null : refs.toString('hex'),
  });
}

function rowOf(cache: UtxoCache, slot: number): Model {
  const refs = cache.refsOf(slot);
  return {
    txNum: cache.txNum(slot),
    value: cache.value(slot),
    hashx: Buffer.from(cache.hashx(slot)).toString('hex'),
    refs: refs === null ? null : Buffer.from(refs).toString('hex'),
  };
}

describe('UtxoCache', () => {
  it('returns what was added, once, and forgets spends only when told', () => {
    const cache = new UtxoCache(1000);
    const model = new Map<string, Model>();
    for (let n = 0; n < 300; n++) {
      for (let vout = 0; vout < 3; vout++) addOutput(cache, n, vout, model);
    }
    expect(cache.size).toBe(900);
    for (let n = 0; n < 300; n += 2) {
      const slot = cache.take(txidOf(n), 0, 1);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(rowOf(cache, slot)).toEqual(model.get(keyOf(n, 1)));
      expect(cache.vout(slot)).toBe(1);
      // A second spend in the same flush is recognised as one, not reported as unknown.
      expect(cache.take(txidOf(n), 0, 1)).toBe(TAKEN_ALREADY);
    }
    expect(cache.size).toBe(750);
    cache.forgetSpent();
    expect(cache.take(txidOf(0), 0, 1)).toBe(NOT_CACHED);
    expect(cache.take(txidOf(1), 0, 3)).toBe(NOT_CACHED);
    // Lookups read the txid at an offset inside a larger buffer.
    const framed = Buffer.concat([Buffer.alloc(7), txidOf(1)]);
    expect(rowOf(cache, cache.take(framed, 7, 1))).toEqual(model.get(keyOf(1, 1)));
  });

  it('keeps the newest unspent outputs when full, reclaiming spent slots', () => {
    const capacity = 500;
    const cache = new UtxoCache(capacity);
    const model = new Map<string, Model>();
    const total = 20 * capacity;
    const spent = new Set<number>();
    for (let n = 0; n < total; n++) {
      addOutput(cache, n, n % 4, model);
      // Spend two thirds of the outputs a little later, as a chain does.
      if (n >= 10 && n % 3 !== 0) {
        const slot = cache.take(txidOf(n - 10), 0, (n - 10) % 4);
        expect(rowOf(cache, slot)).toEqual(model.get(keyOf(n - 10, (n - 10) % 4)));
        spent.add(n - 10);
        cache.forgetSpent();
      }
      expect(cache.size).toBeLessThanOrEqual(capacity);
    }
    // Unspent outputs, newest first: at least 7/8 of the capacity is always kept; older ones may
    // be unknown, never wrong. With a third unspent, far more than `capacity` outputs were added.
    const unspent = [...Array(total).keys()].filter((n) => !spent.has(n)).reverse();
    unspent.forEach((n, age) => {
      const slot = cache.take(txidOf(n), 0, n % 4);
      if (age < (capacity * 7) / 8) expect(slot).toBeGreaterThanOrEqual(0);
      if (slot >= 0) expect(rowOf(cache, slot)).toEqual(model.get(keyOf(n, n % 4)));
    });
    for (const n of spent) expect(cache.take(txidOf(n), 0, n % 4)).toBe(NOT_CACHED);
  });

  it('keeps the newest of two outputs with the same outpoint (duplicate txids, BIP30)', () => {
    const cache = new UtxoCache(100);
    cache.add(txidOf(1), 0, 0, { txNum: 5, value: 1n, refs: null }, hashxOf(1), 0);
    cache.add(txidOf(1), 0, 0, { txNum: 9, value: 2n, refs: null }, hashxOf(2), 0);
    expect(cache.size).toBe(1);
    const slot = cache.take(txidOf(1), 0, 0);
    expect(cache.txNum(slot)).toBe(9);
    expect(cache.value(slot)).toBe(2n);
    cache.forgetSpent();
    expect(cache.take(txidOf(1), 0, 0)).toBe(NOT_CACHED);
  });

  it('holds nothing at capacity 0 and after clear(); refuses adds while spends are pending', () => {
    const none = new UtxoCache(0);
    none.add(txidOf(1), 0, 0, { txNum: 1, value: 1n, refs: null }, hashxOf(1), 0);
    expect(none.take(txidOf(1), 0, 0)).toBe(NOT_CACHED);
    const cache = new UtxoCache(10);
    cache.add(txidOf(1), 0, 0, { txNum: 1, value: 1n, refs: null }, hashxOf(1), 0);
    cache.add(txidOf(2), 0, 0, { txNum: 2, value: 1n, refs: null }, hashxOf(1), 0);
    expect(cache.take(txidOf(1), 0, 0)).toBeGreaterThanOrEqual(0);
    const addNow = (): void =>
      cache.add(txidOf(3), 0, 0, { txNum: 3, value: 1n, refs: null }, hashxOf(1), 0);
    expect(addNow).toThrow(/pending/);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.take(txidOf(2), 0, 0)).toBe(NOT_CACHED);
  });
});
