// FlushOutputs against a plain Map model: adds, takes, growth, insertion order, duplicate txids.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FlushOutputs } from './flush-outputs.ts';

const COUNT = 6_000; // x 3 outputs: past the table's first growth at 4096 slots
const TXIDS = Array.from({ length: COUNT + 10 }, (_, n) =>
  createHash('sha256').update(`tx${n}`).digest()
);
const txidOf = (n: number): Buffer => TXIDS[n] ?? Buffer.alloc(32);
const hashxOf = (n: number): Buffer => createHash('sha256').update(`hashx${n}`).digest();

interface Model {
  txNum: number;
  vout: number;
  value: bigint;
  hashx: string;
  refs: string | null;
}

function addOutput(table: FlushOutputs, n: number, vout: number, model: Map<string, Model>): void {
  const refs = n % 7 === 0 ? Buffer.alloc(37 * (1 + (vout % 2)), n % 251) : null;
  const fields = { txNum: n, height: Math.floor(n / 10), value: BigInt(n * 1000 + vout), refs };
  table.add(txidOf(n), 0, vout, fields, hashxOf(n + vout), 0);
  const key = `${txidOf(n).toString('hex')}:${vout}`;
  model.delete(key); // a re-added outpoint replaces the old one
  model.set(key, {
    txNum: n,
    vout,
    value: fields.value,
    hashx: hashxOf(n + vout).toString('hex'),
    refs: refs === null ? null : refs.toString('hex'),
  });
}

function rowOf(table: FlushOutputs, slot: number): Model {
  const refs = table.refsOf(slot);
  return {
    txNum: table.txNum(slot),
    vout: table.vout(slot),
    value: table.value(slot),
    hashx: Buffer.from(table.hashx(slot)).toString('hex'),
    refs: refs === null ? null : Buffer.from(refs).toString('hex'),
  };
}

describe('FlushOutputs', () => {
  it('finds, removes and lists outputs like a Map, across growth', () => {
    const table = new FlushOutputs();
    const model = new Map<string, Model>();
    for (let n = 0; n < COUNT; n++) {
      for (let vout = 0; vout < 3; vout++) addOutput(table, n, vout, model);
      if (n % 3 === 0) {
        const spend = Math.floor(n / 2);
        const key = `${txidOf(spend).toString('hex')}:1`;
        const slot = table.take(txidOf(spend), 0, 1);
        expect(slot >= 0).toBe(model.has(key));
        if (slot >= 0) expect(rowOf(table, slot)).toEqual(model.get(key));
        model.delete(key);
      }
    }
    expect(table.size).toBe(model.size);
    const listed = [...table.unspentSlots()].map((slot) => rowOf(table, slot));
    const expected = [...model.values()].sort((a, b) => a.txNum - b.txNum || a.vout - b.vout);
    expect(listed).toEqual(expected);
    expect(table.take(txidOf(COUNT + 1), 0, 0)).toBe(-1);
  });

  it('finds an outpoint whose txid sits inside a larger buffer, and only once', () => {
    const table = new FlushOutputs();
    addOutput(table, 5, 2, new Map());
    const raw = Buffer.concat([Buffer.alloc(11), txidOf(5), Buffer.alloc(4)]);
    expect(table.take(raw, 11, 1)).toBe(-1);
    expect(table.take(raw, 11, 2)).toBeGreaterThanOrEqual(0);
    expect(table.take(raw, 11, 2)).toBe(-1);
  });

  it('lets a later tx with the same txid replace the earlier outputs (pre-BIP30 Bitcoin)', () => {
    const table = new FlushOutputs();
    table.add(txidOf(1), 0, 0, { txNum: 10, height: 1, value: 1n, refs: null }, hashxOf(1), 0);
    table.add(txidOf(1), 0, 0, { txNum: 20, height: 2, value: 2n, refs: null }, hashxOf(2), 0);
    expect(table.size).toBe(1);
    expect([...table.unspentSlots()].map((slot) => table.txNum(slot))).toEqual([20]);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.take(txidOf(1), 0, 0)).toBe(-1);
  });
});
