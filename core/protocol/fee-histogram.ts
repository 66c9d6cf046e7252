// mempool.get_fee_histogram: the compact histogram of mempool fee rates, cut as ElectrumX cuts it.

/** Mempool bytes at one fee rate, the rate floored to 0.1 sat/byte and kept as tenths. */
export interface FeeRateBucket {
  /** floor(10 * fee / size): rounding down keeps a tx inside the interval its rate names. */
  rateTenths: number;
  sizeBytes: number;
}

/**
 * Size in bytes that closes a histogram entry, growing 10% after each entry (ElectrumX's
 * MEMPOOL_COMPACT_HISTOGRAM_BINSIZE for Bitcoin-family coins).
 */
export const HISTOGRAM_BIN_BYTES = 30_000;

/**
 * [[fee_rate, size], ...] from the highest rate down: each entry sums the sizes of the rates from
 * the previous entry's (exclusive) down to its own, closed once the sum passes the bin size. A
 * single rate holding more than twice the bin size first closes the entry before it, so a big
 * lump gets its own entry. Sizes below the last closed bin are left out, as in ElectrumX.
 */
export function compactFeeHistogram(
  buckets: readonly FeeRateBucket[],
  binBytes: number = HISTOGRAM_BIN_BYTES
): [number, number][] {
  const byRate = new Map<number, number>();
  for (const { rateTenths, sizeBytes } of buckets) {
    byRate.set(rateTenths, (byRate.get(rateTenths) ?? 0) + sizeBytes);
  }
  const rates = [...byRate.keys()].sort((a, b) => b - a);
  const compact: [number, number][] = [];
  let bin = binBytes;
  let pendingBytes = 0;
  let previousRate: number | null = null;
  for (const rate of rates) {
    const sizeBytes = byRate.get(rate) ?? 0;
    if (sizeBytes > 2 * bin && previousRate !== null && pendingBytes > 0) {
      compact.push([previousRate / 10, pendingBytes]);
      pendingBytes = 0;
      bin *= 1.1;
    }
    pendingBytes += sizeBytes;
    if (pendingBytes > bin) {
      compact.push([rate / 10, pendingBytes]);
      pendingBytes = 0;
      bin *= 1.1;
    }
    previousRate = rate;
  }
  return compact;
}
