/**
 * Capped exponential backoff with "equal jitter": half the delay is fixed, half is random,
 * so retries from many pods spread out but none retries sooner than half the step. The
 * random source is a parameter: tests pass a constant, the binaries pass Math.random.
 */
export interface BackoffOptions {
  /** First delay (attempt 0). */
  readonly initialMs: number;
  /** No delay exceeds this. */
  readonly maxMs: number;
  /** Growth per attempt; default 2. */
  readonly factor?: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const step = Math.min(options.maxMs, options.initialMs * (options.factor ?? 2) ** Math.max(0, attempt));
  return Math.round(step / 2 + (step / 2) * Math.min(1, Math.max(0, random())));
}
