/**
 * How late adverts go out after their due time, kept in the VRRP process
 * without allocating per advert: counts in buckets that double from 1 us
 * to about 1 s, the count and the largest. Percentiles are read as the
 * upper bound of the bucket they fall in (so within a factor of two).
 */
const BUCKETS = 21; // 1 us .. 2^20 us (about 1 s), and one for anything later

export interface LatenessSummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class LatenessStats {
  private readonly buckets = new Float64Array(BUCKETS + 1);
  private count = 0;
  private maxMs = 0;

  /** one advert sent `lateMs` after its due time (0 or less: on time) */
  record(lateMs: number): void {
    const us = lateMs > 0 ? lateMs * 1000 : 0;
    const i = us < 1 ? 0 : Math.min(BUCKETS, Math.ceil(Math.log2(us)));
    this.buckets[i]!++;
    this.count++;
    if (lateMs > this.maxMs) this.maxMs = lateMs;
  }

  summary(): LatenessSummary | undefined {
    if (this.count === 0) return undefined;
    return { count: this.count, p50Ms: this.quantile(0.5), p99Ms: this.quantile(0.99), maxMs: this.maxMs };
  }

  private quantile(q: number): number {
    const want = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.buckets[i]!;
      if (seen >= want) return Math.min(i === 0 ? 0.001 : 2 ** i / 1000, this.maxMs);
    }
    return this.maxMs;
  }
}
