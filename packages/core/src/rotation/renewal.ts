/**
 * When the sidecar renews its Vault token: two thirds into the token's current TTL, made
 * earlier by up to a tenth of the TTL by a fraction of the pod uid. Pods that start
 * together all got their tokens at the same moment; without the spread their renew-self
 * calls reach Vault in one spike, again every renewal. The uid, not a random draw, so a
 * restarted sidecar keeps the same schedule (as deadline()'s jitter).
 */
import { uidFraction } from './deadline.ts';

export const DEFAULT_RENEW_FRACTION = 2 / 3;
/** The spread is at most this fraction of the TTL, always earlier, never later. */
export const RENEW_JITTER_FRACTION = 0.1;

export interface RenewalOptions {
  readonly fraction?: number;
  readonly jitterFraction?: number;
}

export function renewAtMs(sinceMs: number, ttlSeconds: number, uid: string, options: RenewalOptions = {}): number {
  const fraction = options.fraction ?? DEFAULT_RENEW_FRACTION;
  const jitter = Math.max(0, Math.min(fraction, options.jitterFraction ?? RENEW_JITTER_FRACTION));
  return Math.floor(sinceMs + ttlSeconds * 1000 * (fraction - jitter * uidFraction(uid)));
}
