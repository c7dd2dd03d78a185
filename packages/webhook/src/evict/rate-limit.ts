/**
 * Per-pod token buckets for the eviction endpoint: a sidecar that loops (a bug, a PDB that
 * never relaxes while its backoff is misconfigured) cannot hammer the API server. Pure
 * apart from the Map it owns; time comes from the caller so tests drive it.
 */
export interface TokenBucketOptions {
  /** Requests allowed in a burst. */
  readonly capacity: number;
  /** Tokens added per second. */
  readonly refillPerSecond: number;
  /** Buckets idle longer than this are forgotten, so the map does not grow with pod churn. */
  readonly idleForgetMs?: number;
}

/** The endpoint's limit per pod: a burst of 5, then one request every 5 s. */
export const DEFAULT_RATE_LIMIT: TokenBucketOptions = { capacity: 5, refillPerSecond: 0.2 };

export type TakeResult = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export interface RateLimiter {
  take(key: string, nowMs: number): TakeResult;
  readonly size: number;
}

export function createRateLimiter(options: TokenBucketOptions): RateLimiter {
  const buckets = new Map<string, Bucket>();
  const idleForgetMs = options.idleForgetMs ?? 10 * 60_000;
  let lastSweepMs = -Infinity;

  function sweep(nowMs: number): void {
    if (nowMs - lastSweepMs < idleForgetMs) return;
    lastSweepMs = nowMs;
    for (const [key, bucket] of buckets) if (nowMs - bucket.updatedMs > idleForgetMs) buckets.delete(key);
  }

  return {
    take(key, nowMs) {
      sweep(nowMs);
      const bucket = buckets.get(key) ?? { tokens: options.capacity, updatedMs: nowMs };
      const elapsedS = Math.max(0, nowMs - bucket.updatedMs) / 1000;
      bucket.tokens = Math.min(options.capacity, bucket.tokens + elapsedS * options.refillPerSecond);
      bucket.updatedMs = nowMs;
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) / options.refillPerSecond) * 1000) };
    },
    get size() {
      return buckets.size;
    },
  };
}
