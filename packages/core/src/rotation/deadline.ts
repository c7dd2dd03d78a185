/**
 * The rotation rule: when the sidecar asks for its pod's eviction. Pure: the manifest the
 * init container wrote, the current time, the pod's uid and grace period, and what the
 * sidecar knows about its Vault token go in; a time and the reason for it come out.
 *
 * For every lease (each dynamic secret, and the Vault token once Vault stops extending it):
 *   refresh = issued + refreshFraction × TTL      (default: two thirds of the TTL have passed)
 *   limit   = expiry − terminationGracePeriod − safetyMargin
 *   queue   = max(issued, limit − queueLead)      (only with a lead: the pod's PodDisruptionBudget)
 *   at      = min(refresh, limit, queue)
 * The deadline is the earliest `at`, made earlier by a jitter derived from the pod uid, so
 * replicas that started together spread their evictions, and a restarted sidecar computes
 * exactly the same time (the rule never reads `now`, only the clamp to "at once" does).
 * The queue lead is the time the pod's budget needs to let every pod it covers go one
 * after another (core's budgetLead, which the webhook answers POST /deadline with): a small
 * Deployment or a long TTL keeps `refresh`; 20 replicas of a 60 s TTL ask from the start.
 */
import type { LeaseManifest } from '../contract/manifest.ts';

export const DEFAULT_REFRESH_FRACTION = 2 / 3;
export const DEFAULT_SAFETY_MARGIN_MS = 5_000;
export const DEFAULT_MAX_JITTER_MS = 60_000;
/** The jitter window is at most this fraction of the chosen lease's TTL. */
export const JITTER_FRACTION = 0.05;

/**
 * What the sidecar knows about the Vault token that holds the dynamic leases.
 * - `extending`: renewable, and Vault still extends it on renew-self: its expiry is no limit.
 * - `final`: Vault will not extend it (not renewable, or its max TTL is reached): it counts
 *   as a lease from issuedAtMs to expiresAtMs, like any secret.
 * - `unconfirmed`: renewal is failing (Vault down): the sidecar keeps retrying, and the
 *   token's current expiry is a hard limit (grace period and safety margin before it), with
 *   no early refresh, so a short Vault outage does not evict every pod at once.
 */
export type TokenStatus =
  | { readonly state: 'extending' }
  | { readonly state: 'final' | 'unconfirmed'; readonly issuedAtMs: number; readonly expiresAtMs: number };

export interface DeadlinePod {
  /** metadata.uid: the jitter's seed, so it survives sidecar restarts. */
  readonly uid: string;
  readonly terminationGracePeriodSeconds: number;
}

export interface DeadlineOptions {
  /** Evict once this fraction of a lease's TTL has passed (0 < f ≤ 1). */
  readonly refreshFraction?: number;
  /** Kept between the end of the grace period and the expiry. */
  readonly safetyMarginMs?: number;
  /** Upper bound of the jitter (also bounded by 5% of the lease's TTL). */
  readonly maxJitterMs?: number;
  /** Defaults to what the manifest says: renewable → extending, else final. */
  readonly token?: TokenStatus;
  /** Ask at least this long before the limit (eviction-queue.ts's budgetLead); 0 or absent: no queue bound. */
  readonly queueLeadMs?: number;
}

export type LeaseRef = { readonly kind: 'token' } | { readonly kind: 'secret'; readonly name: string; readonly path: string };

export type DeadlineResult =
  | { readonly kind: 'never'; readonly reason: string }
  | {
      readonly kind: 'at';
      /** When to act, independent of `now`: the same on every sidecar restart. */
      readonly atMs: number;
      /** max(0, atMs − now): 0 means act at once. */
      readonly delayMs: number;
      /** The expiry of the lease that decided. */
      readonly expiresAtMs: number;
      /** expiresAtMs − grace period − safety margin: the last moment an eviction still stops the pod in time. */
      readonly limitMs: number;
      readonly lease: LeaseRef;
      /** Which bound decided: the refresh fraction, the grace-period limit, or the budget's queue lead. */
      readonly rule: DeadlineRule;
      readonly jitterMs: number;
      readonly reason: string;
      readonly warnings: readonly string[];
    };

export type DeadlineRule = 'refresh' | 'limit' | 'queue';

interface Lease {
  readonly ref: LeaseRef;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  /** The refresh fraction does not apply (unconfirmed token): only the limit does. */
  readonly limitOnly: boolean;
}

interface Candidate {
  readonly lease: Lease;
  readonly atMs: number;
  readonly rule: DeadlineRule;
}

export function tokenStatusFromManifest(manifest: LeaseManifest): TokenStatus {
  const { token } = manifest;
  if (token.renewable) return { state: 'extending' };
  return { state: 'final', issuedAtMs: token.issuedAtMs, expiresAtMs: token.issuedAtMs + token.ttlSeconds * 1000 };
}

function leasesOf(manifest: LeaseManifest, token: TokenStatus): Lease[] {
  const leases: Lease[] = manifest.secrets
    .filter((s) => s.leaseDurationSeconds > 0)
    .map((s) => ({
      ref: { kind: 'secret', name: s.name, path: s.path },
      issuedAtMs: s.issuedAtMs,
      expiresAtMs: s.issuedAtMs + s.leaseDurationSeconds * 1000,
      limitOnly: false,
    }));
  // A token with TTL 0 never expires (a root or periodic-less token): it is no limit.
  const tokenExpires = token.state !== 'extending' && manifest.token.ttlSeconds > 0;
  if (tokenExpires) {
    leases.push({ ref: { kind: 'token' }, issuedAtMs: token.issuedAtMs, expiresAtMs: token.expiresAtMs, limitOnly: token.state === 'unconfirmed' });
  }
  return leases;
}

function candidateFor(lease: Lease, fraction: number, reserveMs: number, queueLeadMs: number): Candidate {
  const limit = lease.expiresAtMs - reserveMs;
  // An unconfirmed token (Vault down) bounds by its limit alone: no pod leaves early for an outage.
  if (lease.limitOnly) return { lease, atMs: limit, rule: 'limit' };
  const refresh = lease.issuedAtMs + fraction * (lease.expiresAtMs - lease.issuedAtMs);
  const queue = queueLeadMs > 0 ? Math.max(lease.issuedAtMs, limit - queueLeadMs) : Infinity;
  if (queue < refresh && queue < limit) return { lease, atMs: queue, rule: 'queue' };
  return refresh <= limit ? { lease, atMs: refresh, rule: 'refresh' } : { lease, atMs: limit, rule: 'limit' };
}

/**
 * FNV-1a over the uid with murmur3's finalizer (uids that differ only in their last
 * characters must still land far apart), mapped to [0, 1). Stable: no randomness, no clock.
 */
export function uidFraction(uid: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < uid.length; i++) {
    hash ^= uid.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 0x1_0000_0000;
}

/**
 * The earliest expiry over the pod's leases, whichever decides the deadline: what
 * `vault-courier status` shows as EARLIEST-EXPIRY. Undefined when nothing expires.
 */
export function earliestExpiry(manifest: LeaseManifest, token: TokenStatus = tokenStatusFromManifest(manifest)): { readonly atMs: number; readonly lease: LeaseRef } | undefined {
  const first = leasesOf(manifest, token).reduce<Lease | undefined>((best, l) => (best === undefined || l.expiresAtMs < best.expiresAtMs ? l : best), undefined);
  return first === undefined ? undefined : { atMs: first.expiresAtMs, lease: first.ref };
}

export function describeLease(ref: LeaseRef): string {
  return ref.kind === 'token' ? 'the Vault token' : `secret ${ref.name} (${ref.path})`;
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

function warningsFor(c: Candidate, pod: DeadlinePod, safetyMarginMs: number, nowMs: number): string[] {
  const warnings: string[] = [];
  const ttlMs = c.lease.expiresAtMs - c.lease.issuedAtMs;
  const reserveMs = pod.terminationGracePeriodSeconds * 1000 + safetyMarginMs;
  if (!c.lease.limitOnly && reserveMs >= ttlMs) {
    warnings.push(
      `terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds}) plus the ${seconds(safetyMarginMs)} safety margin is not shorter than the ${seconds(ttlMs)} TTL of ${describeLease(c.lease.ref)}: ` +
        'the pod is evicted at once and its credentials may expire before it stops; raise the TTL of the Vault role or lower the grace period',
    );
  }
  if (c.lease.expiresAtMs <= nowMs) {
    warnings.push(`${describeLease(c.lease.ref)} already expired at ${new Date(c.lease.expiresAtMs).toISOString()}: evicting at once`);
  }
  return warnings;
}

export function deadline(manifest: LeaseManifest, nowMs: number, pod: DeadlinePod, options: DeadlineOptions = {}): DeadlineResult {
  const fraction = options.refreshFraction ?? DEFAULT_REFRESH_FRACTION;
  const safetyMarginMs = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  const maxJitterMs = options.maxJitterMs ?? DEFAULT_MAX_JITTER_MS;
  const token = options.token ?? tokenStatusFromManifest(manifest);
  const reserveMs = Math.max(0, pod.terminationGracePeriodSeconds) * 1000 + safetyMarginMs;
  const queueLeadMs = Math.max(0, options.queueLeadMs ?? 0);

  const candidates = leasesOf(manifest, token).map((l) => candidateFor(l, fraction, reserveMs, queueLeadMs));
  const first = candidates.reduce<Candidate | undefined>((best, c) => (best === undefined || c.atMs < best.atMs ? c : best), undefined);
  if (first === undefined) {
    return { kind: 'never', reason: 'no delivered secret has a lease and the Vault token is kept renewed: nothing expires' };
  }

  const ttlMs = first.lease.expiresAtMs - first.lease.issuedAtMs;
  const jitterMs = Math.floor(uidFraction(pod.uid) * Math.max(0, Math.min(maxJitterMs, JITTER_FRACTION * ttlMs)));
  const atMs = Math.floor(first.atMs) - jitterMs;
  const rule = {
    refresh: `after ${Math.round(fraction * 100)}% of its ${seconds(ttlMs)} TTL`,
    limit: `terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds}) plus ${seconds(safetyMarginMs)} before it expires`,
    queue: `${seconds(queueLeadMs)} before that limit (or at once), the time its PodDisruptionBudget needs to rotate every pod it covers`,
  }[first.rule];
  return {
    kind: 'at',
    atMs,
    delayMs: Math.max(0, atMs - nowMs),
    expiresAtMs: first.lease.expiresAtMs,
    limitMs: first.lease.expiresAtMs - reserveMs,
    lease: first.lease.ref,
    rule: first.rule,
    jitterMs,
    reason: `${describeLease(first.lease.ref)} expires first, at ${new Date(first.lease.expiresAtMs).toISOString()}; acting ${rule}, ${seconds(jitterMs)} earlier for jitter`,
    warnings: warningsFor(first, pod, safetyMarginMs, nowMs),
  };
}
