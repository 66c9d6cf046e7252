// Tests of the compact fee histogram against the cases ElectrumX's own tests pin down.
import { describe, expect, it } from 'vitest';
import { compactFeeHistogram, type FeeRateBucket } from './fee-histogram.ts';

function buckets(histogram: [number, number][]): FeeRateBucket[] {
  return histogram.map(([rate, sizeBytes]) => ({ rateTenths: Math.round(rate * 10), sizeBytes }));
}

describe('compactFeeHistogram', () => {
  // Inputs and results of spesmilo/electrumx tests/server/test_mempool.py test_compress_histogram
  // (@42e9b38f): fee rate (sat/byte) -> bytes, compacted with bins of 100,000 and 30,000 bytes.
  const first = buckets([
    [10, 100_000], [11, 1_000], [12, 10_000_000], [13, 1_000], [14, 1_000], [15, 1_000],
    [16, 1_000], [17, 1_000], [18, 900_000], [19, 1_000], [20, 1_000], [21, 75_000], [22, 1_000],
  ]);

  it('closes entries past the bin size and gives big lumps their own entry', () => {
    expect(compactFeeHistogram(first, 100_000)).toEqual([
      [19, 78_000], [18, 900_000], [13, 5_000], [12, 10_000_000],
    ]);
    expect(compactFeeHistogram(first, 30_000)).toEqual([
      [22, 1_000], [21, 75_000], [19, 2_000], [18, 900_000], [13, 5_000], [12, 10_000_000],
      [10, 101_000],
    ]);
  });

  it('keeps tenths of a sat/byte', () => {
    const second = buckets([
      [1.0, 10_000_000], [1.1, 30_000], [1.2, 40_000], [10, 500_000], [10.1, 1_000], [11, 50_000],
    ]);
    expect(compactFeeHistogram(second, 100_000)).toEqual([
      [10.1, 51_000], [10, 500_000], [1.1, 70_000], [1, 10_000_000],
    ]);
  });

  it('merges buckets of one rate and is empty for an empty mempool', () => {
    expect(compactFeeHistogram([])).toEqual([]);
    const split = [...first, { rateTenths: 120, sizeBytes: 0 }];
    expect(compactFeeHistogram(split, 100_000)).toEqual(compactFeeHistogram(first, 100_000));
  });
});
