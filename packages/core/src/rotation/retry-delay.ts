/**
 * How long a sidecar waits before asking for its eviction again after a PodDisruptionBudget
 * refused it. The backoff alone lets the last pods of a rotation sleep 15–30 s while the
 * budget frees up, and carried one past its expiry (docs/performance.md, Rotation): so the
 * wait never reaches past half the time left before the pod's limit (expiry − grace period
 * − safety margin). Halving, not the whole time left, leaves several attempts before the
 * limit instead of one landing on it. Past the limit the eviction is overdue: retry at the
 * floor, which keeps a pod that cannot go from spinning.
 * The webhook's own rate limit is not a budget refusal: its Retry-After is the server's
 * word and is never shortened.
 */
export const MIN_RETRY_DELAY_MS = 1000;

export type RetryDelayInput =
  | { readonly kind: 'budget'; readonly backoffMs: number; readonly nowMs: number; readonly limitMs: number }
  | { readonly kind: 'retry-after'; readonly retryAfterMs: number };

export function evictionRetryDelay(input: RetryDelayInput, floorMs: number = MIN_RETRY_DELAY_MS): number {
  if (input.kind === 'retry-after') return Math.max(0, input.retryAfterMs);
  const left = input.limitMs - input.nowMs;
  return Math.floor(Math.max(floorMs, Math.min(input.backoffMs, left / 2)));
}
