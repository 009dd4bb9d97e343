/** The outcome of taking from a bucket: allowed, or how long until enough has refilled. */
export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * Token buckets by key (a token name, or a local caller's IP): each holds up to `perMinute` and
 * refills continuously at perMinute per minute, so a burst of `perMinute` is allowed, then a steady rate.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { level: number; at: number }>();
  private readonly perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes `cost` from the bucket of `key`, all or nothing. A limit of 0 allows everything. */
  take(key: string, cost = 1): Take {
    if (this.perMinute <= 0 || cost <= 0) return { ok: true };
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { level: this.perMinute, at: now };
    bucket.level = Math.min(this.perMinute, bucket.level + (now - bucket.at) * this.perMs);
    bucket.at = now;
    if (bucket.level < cost) {
      this.buckets.set(key, bucket);
      const missing = Math.min(cost, this.perMinute) - bucket.level;
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(missing / this.perMs / 1000)) };
    }
    bucket.level -= cost;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 10_000) this.prune(now);
    return { ok: true };
  }

  // Full buckets carry no information; dropping them bounds memory.
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.level + (now - bucket.at) * this.perMs >= this.perMinute) this.buckets.delete(key);
    }
  }
}
