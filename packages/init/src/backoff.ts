/**
 * The retry loop around every Vault call: capped exponential backoff with jitter (core's
 * backoffDelay), bounded by the init container's deadline. Time, sleep and randomness are
 * passed in, so tests run the loop without waiting.
 */
import { backoffDelay, CourierError, isCourierError, type BackoffOptions } from '@vault-courier/core';

export const VAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };

export interface RetryDeps {
  readonly now: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random: () => number;
}

export interface RetryOptions {
  /** Epoch milliseconds after which no new attempt starts. */
  readonly deadlineMs: number;
  /** Named in the final error: the setting a user raises to wait longer. */
  readonly deadlineSetting: string;
  readonly backoff?: BackoffOptions;
  readonly signal?: AbortSignal;
  readonly onRetry?: (err: CourierError, attempt: number, delayMs: number) => void;
}

/**
 * Runs `attempt` until it succeeds, throws a non-retryable error, or fails at or after
 * the deadline; then throws the last error, its message saying how long we tried. Only CourierErrors marked retryable are retried.
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions, deps: RetryDeps): Promise<T> {
  const started = deps.now();
  for (let n = 0; ; n++) {
    options.signal?.throwIfAborted();
    try {
      return await attempt(n);
    } catch (err) {
      if (!isCourierError(err) || !err.retryable) throw err;
      const remaining = options.deadlineMs - deps.now();
      // The last wait is cut short so the last attempt happens at the deadline.
      const delay = Math.min(remaining, backoffDelay(n, options.backoff ?? VAULT_BACKOFF, deps.random));
      if (remaining <= 0) {
        const seconds = Math.round((deps.now() - started) / 1000);
        throw new CourierError(err.kind, `${err.message} (gave up after ${n + 1} attempts in ${seconds}s; ${options.deadlineSetting} sets how long to retry)`, { cause: err.cause });
      }
      options.onRetry?.(err, n + 1, delay);
      await deps.sleep(delay, options.signal);
    }
  }
}
