// Seeded randomness for the chain generator: a 32-bit generator, byte fills and a Zipf sampler.

/**
 * A small deterministic generator: a Weyl sequence (step 0x9e3779b9) pushed through a 32-bit
 * avalanche mix. Statistically plain but reproducible across runs and platforms, which is all
 * synthetic chains need; never use it for keys or secrets.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
    // Warm up so seeds 0, 1, 2... do not start on nearby outputs.
    for (let i = 0; i < 4; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** A uniform integer in [0, bound). */
  below(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Fills `target[start..end)` with random bytes. */
  fill(target: Uint8Array, start = 0, end = target.length): void {
    let at = start;
    while (at + 4 <= end) {
      const word = this.u32();
      target[at] = word & 0xff;
      target[at + 1] = (word >>> 8) & 0xff;
      target[at + 2] = (word >>> 16) & 0xff;
      target[at + 3] = word >>> 24;
      at += 4;
    }
    for (; at < end; at++) target[at] = this.u32() & 0xff;
  }

  /** `count` fresh random bytes. */
  bytes(count: number): Uint8Array {
    const out = new Uint8Array(count);
    this.fill(out);
    return out;
  }
}

/**
 * Draws ranks 0..n-1 with P(rank k) proportional to 1 / (k + 1)^exponent: a few ranks very often,
 * a long tail rarely, as address reuse looks on a real chain (exchanges, pools, one-off wallets).
 * Inverse transform over a precomputed cumulative table: O(log n) per draw, 8 bytes per rank.
 */
export class ZipfSampler {
  private readonly cumulative: Float64Array;

  constructor(n: number, exponent: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Zipf over ${n} ranks`);
    if (!(exponent >= 0)) throw new RangeError(`Zipf exponent ${exponent}`);
    this.cumulative = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) {
      total += 1 / Math.pow(k + 1, exponent);
      this.cumulative[k] = total;
    }
    for (let k = 0; k < n; k++) this.cumulative[k] = (this.cumulative[k] ?? 0) / total;
  }

  /** Number of ranks. */
  get size(): number {
    return this.cumulative.length;
  }

  /** The probability of rank `k` (for tests and for sizing). */
  probability(k: number): number {
    const below = k === 0 ? 0 : (this.cumulative[k - 1] ?? 0);
    return (this.cumulative[k] ?? 0) - below;
  }

  /** One rank. */
  draw(random: SeededRandom): number {
    const u = random.next();
    let low = 0;
    let high = this.cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.cumulative[mid] ?? 1) > u) high = mid;
      else low = mid + 1;
    }
    return low;
  }
}
