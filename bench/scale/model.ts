/**
 * Rotation at cluster scale, simulated: every pod's eviction time comes from core's own
 * deadline(), a blocked eviction waits the sidecar's own backoff (DEFAULT_TUNING's
 * actionBackoff through core's backoffDelay) and the webhook's own per-pod rate limit,
 * and each Deployment's PodDisruptionBudget lets one pod go at a time. What is modelled,
 * not measured: how long a replacement takes from eviction to its init's login and to
 * Ready, and how long the disruption controller takes to see it (ModelTiming).
 *
 * Per eviction attempt the webhook replica it reaches asks Vault's sys/health unless that
 * replica asked less than healthCacheMs ago (its cache, packages/webhook/src/evict/
 * vault-health.ts); per pod start the init logs in and issues one credential per dynamic
 * secret, the sidecar looks its token up and renews it at core's renewAtMs (two thirds of
 * its TTL less the uid jitter), and revokes it when its pod stops. A refused sidecar waits
 * core's evictionRetryDelay (the backoff, bounded by the time left before its limit). Every decision below is a
 * pure function of its arguments; simulate() is deterministic for a given seed.
 */
import { backoffDelay, deadline, type LeaseManifest } from '@vault-courier/core';
import { renewAtMs } from '@vault-courier/core/rotation/renewal';
import { evictionRetryDelay } from '@vault-courier/core/rotation/retry-delay';
import { DEFAULT_TUNING } from '@vault-courier/sidecar/sidecar';
import { mulberry32 } from '../../test/helpers/mulberry32.ts';
import { createRateLimiter, DEFAULT_RATE_LIMIT } from '@vault-courier/webhook/evict/rate-limit';

export interface ModelTiming {
  /** Eviction accepted → the replacement's init has logged in and issued its credentials. */
  readonly loginAfterEvictionMs: number;
  /** Eviction accepted → the replacement is Ready. */
  readonly readyAfterEvictionMs: number;
  /** A replacement Ready → the PDB's status counts it (the disruption controller's resync). */
  readonly pdbLagMs: number;
}

export interface ScaleConfig {
  readonly deployments: number;
  readonly replicasPerDeployment: number;
  readonly dbTtlSeconds: number;
  /** The Vault token's TTL; renewable, and Vault keeps extending it. */
  readonly tokenTtlSeconds: number;
  /** Dynamic secrets per pod: credential issues per pod start. */
  readonly secretsPerPod: number;
  readonly terminationGracePeriodSeconds: number;
  /** false: deadline() with maxJitterMs 0. */
  readonly jitter: boolean;
  readonly durationSeconds: number;
  readonly timing: ModelTiming;
  readonly seed: number;
  /** The webhook's replicas (the chart's default is 2): each caches sys/health on its own. */
  readonly webhookReplicas: number;
  /** How long one sys/health answer serves a replica; 0: asked on every attempt. */
  readonly healthCacheMs: number;
}

/** What Vault and the API server see, per second of simulated time. */
export const SERIES = ['evictions', 'blocked', 'logins', 'issues', 'health', 'vaultRequests'] as const;
export type SeriesName = (typeof SERIES)[number];

export interface ScaleResult {
  readonly perSecond: Readonly<Record<SeriesName, Uint32Array>>;
  readonly rolloutLogins: number;
  /** Evictions accepted after the credentials of the evicted pod had expired. */
  readonly expiredBeforeEviction: number;
  /** The least time between an accepted eviction and the evicted pod's credential expiry. */
  readonly leastMarginMs: number;
  /** The longest a pod waited between its first eviction attempt and an accepted one. */
  readonly longestWaitMs: number;
  readonly rateLimited: number;
}

/** The PDB's disruptionsAllowed: healthy pods beyond the desired healthy count. */
export function disruptionsAllowed(healthy: number, replicas: number, maxUnavailable: number): number {
  return Math.max(0, healthy - Math.max(0, replicas - maxUnavailable));
}

/** A lease manifest as the init writes it: one renewable token and `secrets` database leases issued at `atMs`. */
export function manifestAt(atMs: number, config: Pick<ScaleConfig, 'dbTtlSeconds' | 'tokenTtlSeconds' | 'secretsPerPod'>): LeaseManifest {
  return {
    version: 1,
    token: { accessor: 'a', ttlSeconds: config.tokenTtlSeconds, renewable: true, issuedAtMs: atMs },
    secrets: Array.from({ length: config.secretsPerPod }, (_, i) => ({ name: `db${i}`, path: 'database/creds/app', leaseId: `l${i}`, leaseDurationSeconds: config.dbTtlSeconds, renewable: false, issuedAtMs: atMs })),
  };
}

/** When the sidecar of a pod whose init issued its credentials at `loginAtMs` first asks for eviction, and when they expire. */
export function evictionDue(loginAtMs: number, uid: string, config: Pick<ScaleConfig, 'dbTtlSeconds' | 'tokenTtlSeconds' | 'secretsPerPod' | 'terminationGracePeriodSeconds' | 'jitter'>): { atMs: number; expiresAtMs: number; limitMs: number } {
  const due = deadline(manifestAt(loginAtMs, config), loginAtMs, { uid, terminationGracePeriodSeconds: config.terminationGracePeriodSeconds }, config.jitter ? {} : { maxJitterMs: 0 });
  if (due.kind !== 'at') throw new Error(`a pod with a ${config.dbTtlSeconds} s database lease has no deadline: ${due.reason}`);
  return { atMs: due.atMs, expiresAtMs: due.expiresAtMs, limitMs: due.limitMs };
}

/** The sidecar's wait after its `attempt`-th (0-based) refused eviction at `nowMs`, its pod's limit at `limitMs`. */
export function retryDelayMs(attempt: number, random: () => number, nowMs: number, limitMs: number): number {
  return evictionRetryDelay({ kind: 'budget', backoffMs: backoffDelay(attempt, DEFAULT_TUNING.actionBackoff, random), nowMs, limitMs });
}

/** Whether a webhook replica that last asked Vault at `lastAskedMs` asks again at `atMs`. */
export function asksHealth(lastAskedMs: number, atMs: number, cacheMs: number): boolean {
  return !(atMs - lastAskedMs < cacheMs && atMs >= lastAskedMs);
}

/** A seeded PRNG: the same seed gives the same run. */
export const seededRandom = mulberry32;

/** A pod uid in the API server's form (a v4 UUID), from the run's PRNG. */
export function podUid(random: () => number): string {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${(8 + Math.floor(random() * 4)).toString(16)}${hex(3)}-${hex(12)}`;
}

/** The most of `series` in any second, and the mean per second over the busiest `windowSeconds`. */
export function peaks(series: Uint32Array, windowSeconds: number, fromSecond = 0): { perSecond: number; perSecondOverWindow: number } {
  let perSecond = 0;
  let best = 0;
  let running = 0;
  for (let s = fromSecond; s < series.length; s++) {
    const v = series[s] ?? 0;
    perSecond = Math.max(perSecond, v);
    running += v - (s - windowSeconds >= fromSecond ? (series[s - windowSeconds] ?? 0) : 0);
    best = Math.max(best, running);
  }
  return { perSecond, perSecondOverWindow: best / windowSeconds };
}

type Event =
  | { readonly kind: 'login'; readonly pod: number }
  | { readonly kind: 'ready'; readonly pod: number }
  | { readonly kind: 'pdb-sync'; readonly deployment: number }
  | { readonly kind: 'attempt'; readonly pod: number; readonly generation: number }
  | { readonly kind: 'renew'; readonly pod: number; readonly generation: number };

/** A binary min-heap on (time, insertion order): events at one time run in the order queued. */
class EventQueue {
  private readonly times: number[] = [];
  private readonly seqs: number[] = [];
  private readonly events: Event[] = [];
  private seq = 0;

  get size(): number {
    return this.events.length;
  }

  private less(i: number, j: number): boolean {
    const ti = this.times[i] ?? 0;
    const tj = this.times[j] ?? 0;
    return ti < tj || (ti === tj && (this.seqs[i] ?? 0) < (this.seqs[j] ?? 0));
  }

  private swap(i: number, j: number): void {
    for (const a of [this.times, this.seqs, this.events] as unknown[][]) [a[i], a[j]] = [a[j], a[i]];
  }

  push(atMs: number, event: Event): void {
    this.times.push(atMs);
    this.seqs.push(this.seq++);
    this.events.push(event);
    for (let i = this.events.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { atMs: number; event: Event } | undefined {
    if (this.events.length === 0) return undefined;
    const top = { atMs: this.times[0] ?? 0, event: this.events[0] as Event };
    const last = this.events.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.events.pop();
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.less(l, m)) m = l;
      if (r < last && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}

interface PodSlot {
  readonly deployment: number;
  uid: string;
  /** Bumped at each replacement: events of the pod that was evicted are dropped. */
  generation: number;
  expiresAtMs: number;
  limitMs: number;
  attempts: number;
  firstAttemptMs: number;
}

/**
 * Every pod starts at t = 0 (the rollout), and each slot of a Deployment keeps one pod at
 * a time: an accepted eviction replaces the slot's pod with a new one (new uid, new
 * credentials) after the modelled start times.
 */
export function simulate(config: ScaleConfig): ScaleResult {
  const random = seededRandom(config.seed);
  const seconds = config.durationSeconds;
  const perSecond = Object.fromEntries(SERIES.map((name) => [name, new Uint32Array(seconds)])) as Record<SeriesName, Uint32Array>;
  const count = (name: SeriesName, atMs: number, n = 1) => {
    const s = Math.floor(atMs / 1000);
    if (s >= 0 && s < seconds) perSecond[name][s] = (perSecond[name][s] ?? 0) + n;
  };
  const limiter = createRateLimiter(DEFAULT_RATE_LIMIT);
  const { replicasPerDeployment: replicas } = config;
  const healthy = new Array<number>(config.deployments).fill(0);
  const allowed = new Array<number>(config.deployments).fill(0);
  const pods: PodSlot[] = Array.from({ length: config.deployments * replicas }, (_, i) => ({ deployment: Math.floor(i / replicas), uid: podUid(random), generation: 0, expiresAtMs: 0, limitMs: 0, attempts: 0, firstAttemptMs: 0 }));
  const queue = new EventQueue();
  const result = { rolloutLogins: 0, expiredBeforeEviction: 0, leastMarginMs: Infinity, longestWaitMs: 0, rateLimited: 0 };
  const endMs = seconds * 1000;
  const renewAfterMs = (sinceMs: number, uid: string) => renewAtMs(sinceMs, config.tokenTtlSeconds, uid) - sinceMs;
  // Which replica an attempt reaches: its own PRNG, so the cache changes nothing else in a run.
  const route = seededRandom(config.seed ^ 0x5eed);
  const healthAskedMs = new Array<number>(Math.max(1, config.webhookReplicas)).fill(-Infinity);

  // The rollout: every pod's init logs in together, each is Ready after the modelled start.
  const startDelayMs = config.timing.readyAfterEvictionMs - config.timing.loginAfterEvictionMs;
  pods.forEach((_, pod) => queue.push(0, { kind: 'login', pod }));

  const handlers: { [K in Event['kind']]: (atMs: number, event: Extract<Event, { kind: K }>) => void } = {
    login(atMs, event) {
      const slot = pods[event.pod] as PodSlot;
      if (slot.generation === 0) result.rolloutLogins++;
      count('logins', atMs);
      count('issues', atMs, config.secretsPerPod);
      // login, the credentials, and the sidecar's lookup-self at its start.
      count('vaultRequests', atMs, 2 + config.secretsPerPod);
      const due = evictionDue(atMs, slot.uid, config);
      slot.expiresAtMs = due.expiresAtMs;
      slot.limitMs = due.limitMs;
      slot.attempts = 0;
      queue.push(due.atMs, { kind: 'attempt', pod: event.pod, generation: slot.generation });
      queue.push(atMs + renewAfterMs(atMs, slot.uid), { kind: 'renew', pod: event.pod, generation: slot.generation });
      queue.push(atMs + startDelayMs, { kind: 'ready', pod: event.pod });
    },
    ready(atMs, event) {
      const d = (pods[event.pod] as PodSlot).deployment;
      healthy[d] = (healthy[d] ?? 0) + 1;
      queue.push(atMs + config.timing.pdbLagMs, { kind: 'pdb-sync', deployment: d });
    },
    'pdb-sync'(_atMs, event) {
      allowed[event.deployment] = disruptionsAllowed(healthy[event.deployment] ?? 0, replicas, 1);
    },
    renew(atMs, event) {
      const slot = pods[event.pod] as PodSlot;
      if (slot.generation !== event.generation) return;
      count('vaultRequests', atMs);
      queue.push(atMs + renewAfterMs(atMs, slot.uid), event);
    },
    attempt(atMs, event) {
      const slot = pods[event.pod] as PodSlot;
      if (slot.generation !== event.generation) return;
      if (slot.attempts === 0) slot.firstAttemptMs = atMs;
      const take = limiter.take(slot.uid, atMs);
      if (!take.allowed) {
        result.rateLimited++;
        queue.push(atMs + take.retryAfterMs, event);
        return;
      }
      // The webhook asks Vault's sys/health before it evicts, unless its cache answers.
      const replica = Math.floor(route() * healthAskedMs.length);
      if (asksHealth(healthAskedMs[replica] ?? -Infinity, atMs, config.healthCacheMs)) {
        healthAskedMs[replica] = atMs;
        count('health', atMs);
        count('vaultRequests', atMs);
      }
      const d = slot.deployment;
      if ((allowed[d] ?? 0) <= 0) {
        count('blocked', atMs);
        queue.push(atMs + retryDelayMs(slot.attempts, random, atMs, slot.limitMs), event);
        slot.attempts++;
        return;
      }
      allowed[d] = (allowed[d] ?? 0) - 1;
      healthy[d] = (healthy[d] ?? 0) - 1;
      count('evictions', atMs);
      // The evicted pod's sidecar revokes its token as it stops.
      count('vaultRequests', atMs);
      if (atMs >= slot.expiresAtMs) result.expiredBeforeEviction++;
      result.leastMarginMs = Math.min(result.leastMarginMs, slot.expiresAtMs - atMs);
      result.longestWaitMs = Math.max(result.longestWaitMs, atMs - slot.firstAttemptMs);
      slot.generation++;
      slot.uid = podUid(random);
      queue.push(atMs + config.timing.loginAfterEvictionMs, { kind: 'login', pod: event.pod });
    },
  };
  for (let next = queue.pop(); next !== undefined && next.atMs < endMs; next = queue.pop()) {
    (handlers[next.event.kind] as (atMs: number, event: Event) => void)(next.atMs, next.event);
  }
  return { perSecond, ...result };
}
