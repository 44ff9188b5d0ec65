/**
 * Lateness of checks: how long after its due time each check started. A
 * fixed histogram (1 ms buckets to 1 s, 100 ms buckets to 60 s) costs one
 * array increment per check and gives percentiles at any time.
 */

const FINE = 1000;
const COARSE_STEP = 100;
const COARSE = 590;

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export class LatenessHistogram {
  private readonly buckets = new Float64Array(FINE + COARSE + 1);
  private n = 0;
  private maxMs = 0;

  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    const i = v < FINE ? Math.floor(v) : Math.min(FINE + Math.floor((v - FINE) / COARSE_STEP), FINE + COARSE);
    this.buckets[i]!++;
    this.n++;
    if (v > this.maxMs) this.maxMs = v;
  }

  get count(): number {
    return this.n;
  }

  /** the upper edge of the bucket holding the p-th percentile (0 < p <= 100), in ms */
  percentile(p: number): number {
    if (this.n === 0) return 0;
    const rank = Math.ceil((p / 100) * this.n);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return Math.min(i < FINE ? i + 1 : FINE + (i - FINE + 1) * COARSE_STEP, this.maxMs);
    }
    return this.maxMs;
  }

  summary(): Percentiles {
    return { count: this.n, p50: this.percentile(50), p99: this.percentile(99), max: this.maxMs };
  }

  reset(): void {
    this.buckets.fill(0);
    this.n = 0;
    this.maxMs = 0;
  }
}
