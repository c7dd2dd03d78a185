/**
 * The sidecar's whole life, as one event-driven state machine on one timer:
 * - keeps the Vault token alive: renew-self at two thirds of its TTL (up to a tenth earlier, by the pod uid) while Vault extends
 *   it; when Vault caps it (max TTL) the token becomes a lease like any other; while
 *   renewal fails, the token's current expiry is a hard limit (core's deadline());
 * - recomputes the deadline after every renewal, reports it (POST /deadline, for the pod's
 *   status condition) whenever it changes, and acts at it: POST /evict, or, for pods
 *   nothing would recreate, POST /expiry-warning once. It acts only on an answer whose
 *   Status reason is one of core's EVICTION_ANSWERS (sidecarStep): Evicted → wait for
 *   SIGTERM; PodGone → revoke the token and idle until SIGTERM (exiting would only make the
 *   kubelet restart a sidecar holding a revoked token); RateLimited and EvictionQueued →
 *   wait its Retry-After; DisruptionBudget → retry every second (the webhook answers it only
 *   to the pod first in its budget's queue), never waiting past half the time left before
 *   the pod's limit; anything else, a bare 404 from a foreign server included →
 *   retry with capped backoff and report, never "gone";
 * - asks earlier when its PodDisruptionBudget is long: the webhook answers POST /deadline
 *   with the budget's queue lead (core's budgetLead), and the deadline is recomputed with it;
 * - never sleeps longer than a minute before it reads the clock again, so a wall-clock
 *   jump or a paused machine cannot carry the eviction past the deadline;
 * - on shutdown revokes the token (bounded), so its dynamic credentials die with the pod.
 * Time, timers, Vault and the endpoint are passed in: tests drive it with a manual clock.
 */
import { backoffDelay, type BackoffOptions } from '@vault-courier/core/support/backoff';
import { deadline, describeLease, earliestExpiry, type DeadlineOptions, type DeadlineResult, type TokenStatus } from '@vault-courier/core/rotation/deadline';
import { DEFAULT_RENEW_FRACTION, RENEW_JITTER_FRACTION, renewAtMs } from '@vault-courier/core/rotation/renewal';
import { evictionRetryDelay } from '@vault-courier/core/rotation/retry-delay';
import type { Logger } from '@vault-courier/core/support/logger';
import type { LeaseManifest } from '@vault-courier/core/contract/manifest';
import { EVICT_AUDIENCE } from '@vault-courier/core/contract/names';
import { EVICTION_ANSWERS, sidecarStep, type EvictionReason, type SidecarStep } from '@vault-courier/core/rotation/eviction-answers';
import type { RotationMode } from './config.ts';
import type { ReportDeadline } from './deadline-report.ts';
import type { EndpointAnswer, PostEndpoint } from './endpoint.ts';
import type { VaultToken } from './vault-token.ts';

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: Date.now,
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface Tuning {
  /** Renew the token once this fraction of its current TTL has passed... */
  readonly renewFraction: number;
  /** ...less up to this fraction of the TTL, by the pod uid (core's renewAtMs). */
  readonly renewJitterFraction: number;
  readonly renewBackoff: BackoffOptions;
  readonly actionBackoff: BackoffOptions;
  /**
   * After a DisruptionBudget refusal. The webhook queues the other pods of the budget
   * (EvictionQueued), so this pod is first: the budget frees when the previous pod's
   * replacement is Ready, and every second slept past that delays every pod behind it.
   */
  readonly budgetBackoff: BackoffOptions;
  readonly revokeTimeoutMs: number;
  readonly deadline: Omit<DeadlineOptions, 'token' | 'queueLeadMs'>;
}

export const DEFAULT_TUNING: Tuning = {
  renewFraction: DEFAULT_RENEW_FRACTION,
  renewJitterFraction: RENEW_JITTER_FRACTION,
  renewBackoff: { initialMs: 1000, maxMs: 15_000 },
  actionBackoff: { initialMs: 2000, maxMs: 30_000 },
  budgetBackoff: { initialMs: 1000, maxMs: 1000 },
  revokeTimeoutMs: 5000,
  deadline: {},
};

export interface SidecarDeps {
  readonly manifest: LeaseManifest;
  readonly pod: { readonly uid: string; readonly terminationGracePeriodSeconds: number };
  readonly mode: RotationMode;
  readonly vault: VaultToken;
  readonly post: PostEndpoint;
  /** Read on every call: the kubelet rotates the projected token file. */
  readonly readEvictJwt: () => Promise<string>;
  /** Tells the webhook the deadline, for the pod's status condition (deadline-report.ts). */
  readonly reportDeadline?: ReportDeadline;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly tuning?: Partial<Tuning>;
}

export interface Sidecar {
  start(): Promise<void>;
  /** SIGTERM: revoke the token within the timeout, whatever happens. */
  shutdown(): Promise<void>;
  /** The current deadline, for logs and tests. */
  current(): DeadlineResult | undefined;
}

interface TokenState {
  status: 'extending' | 'final' | 'unconfirmed';
  /** Start of the current TTL (issue or last renewal). */
  sinceMs: number;
  ttlSeconds: number;
  expiresAtMs: number;
  nextRenewAtMs: number;
  failures: number;
}

type Action =
  | { readonly phase: 'waiting' }
  | { readonly phase: 'retrying'; readonly attempt: number; readonly atMs: number }
  | { readonly phase: 'accepted' | 'warned' | 'done' };

/**
 * The longest sleep: timers count elapsed time, the deadline is wall-clock time. After a
 * suspended VM or a clock step the sidecar re-reads the clock within this, not after a
 * timer set hours ago. (Also far below setTimeout's 2^31-1 ms ceiling.)
 */
export const SLEEP_CAP_MS = 60_000;

/** What a retried answer says in the log, by reason. */
const RETRY_MESSAGES: Partial<Record<EvictionReason, string>> = {
  DisruptionBudget: 'eviction blocked (a PodDisruptionBudget allows no disruption now): retrying',
  EvictionConflict: 'the API server could not settle the PodDisruptionBudget update (409) while the pod is still there: retrying',
  VaultUnavailable: 'the webhook will not evict while Vault cannot serve the replacement pod: retrying',
  ClusterUnavailable: 'the webhook could not reach the Kubernetes API server: retrying',
};

export function createSidecar(deps: SidecarDeps): Sidecar {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const tuning: Tuning = { ...DEFAULT_TUNING, ...deps.tuning };
  const log = deps.logger;
  const manifestToken = deps.manifest.token;
  const renews = manifestToken.renewable && manifestToken.ttlSeconds > 0;
  const renewAt = (sinceMs: number, ttlSeconds: number): number =>
    renewAtMs(sinceMs, ttlSeconds, deps.pod.uid, { fraction: tuning.renewFraction, jitterFraction: tuning.renewJitterFraction });

  let token: TokenState = {
    status: renews ? 'extending' : 'final',
    sinceMs: manifestToken.issuedAtMs,
    ttlSeconds: manifestToken.ttlSeconds,
    expiresAtMs: manifestToken.issuedAtMs + manifestToken.ttlSeconds * 1000,
    nextRenewAtMs: renewAt(manifestToken.issuedAtMs, manifestToken.ttlSeconds),
    failures: 0,
  };
  let action: Action = { phase: 'waiting' };
  let result: DeadlineResult | undefined;
  /** The budget's queue lead, as the webhook last answered POST /deadline. */
  let queueLeadMs = 0;
  let timer: unknown;
  let running: Promise<void> | undefined;
  let stopped = false;

  function tokenStatus(): TokenStatus {
    if (token.status === 'extending') return { state: 'extending' };
    return { state: token.status, issuedAtMs: manifestToken.issuedAtMs, expiresAtMs: token.expiresAtMs };
  }

  function recompute(now: number): void {
    const next = deadline(deps.manifest, now, deps.pod, { ...tuning.deadline, token: tokenStatus(), queueLeadMs });
    const changed = result === undefined || next.kind !== result.kind || (next.kind === 'at' && result.kind === 'at' && next.atMs !== result.atMs);
    result = next;
    if (changed) {
      if (next.kind === 'never') log.info({ reason: next.reason }, 'no deadline');
      else {
        log.info({ deadline: new Date(next.atMs).toISOString(), deadlineMs: next.atMs, lease: describeLease(next.lease), rule: next.rule, jitterMs: next.jitterMs, inMs: next.delayMs, mode: deps.mode.mode, reason: next.reason }, 'deadline computed');
        for (const warning of next.warnings) log.warn({ lease: describeLease(next.lease) }, warning);
      }
    }
    // A renewal that succeeded again can move the deadline back out: stop retrying then.
    if (action.phase === 'retrying' && (next.kind === 'never' || next.atMs > now)) {
      log.info('the deadline moved later: no eviction due any more');
      action = { phase: 'waiting' };
    }
  }

  function renewDue(now: number): boolean {
    return renews && token.status !== 'final' && now >= token.nextRenewAtMs;
  }

  async function renew(): Promise<void> {
    const increment = manifestToken.ttlSeconds;
    try {
      const answer = await deps.vault.renewSelf(increment);
      const now = clock.now();
      const capped = !answer.renewable || answer.ttlSeconds < increment;
      token = {
        status: capped ? 'final' : 'extending',
        sinceMs: now,
        ttlSeconds: answer.ttlSeconds,
        expiresAtMs: now + answer.ttlSeconds * 1000,
        nextRenewAtMs: renewAt(now, answer.ttlSeconds),
        failures: 0,
      };
      log.info({ ttlSeconds: answer.ttlSeconds, final: capped }, capped ? 'Vault token renewed for the last time (max TTL reached): its expiry now counts as a lease' : 'Vault token renewed');
    } catch (err) {
      const now = clock.now();
      const retryable = (err as { retryable?: unknown }).retryable === true && now < token.expiresAtMs;
      const delay = backoffDelay(token.failures, tuning.renewBackoff, random);
      token = {
        ...token,
        status: retryable ? 'unconfirmed' : 'final',
        failures: token.failures + 1,
        nextRenewAtMs: now + delay,
      };
      if (retryable) log.warn({ err, retryInMs: delay, expiresAt: new Date(token.expiresAtMs).toISOString() }, 'Vault token renewal failed: retrying; until it succeeds the token expiry bounds the deadline');
      else log.error({ err, expiresAt: new Date(token.expiresAtMs).toISOString() }, 'Vault token can no longer be renewed: its expiry is final');
    }
  }

  function actionAtMs(): number {
    if (action.phase === 'retrying') return action.atMs;
    if (action.phase === 'waiting' && result?.kind === 'at') return result.atMs;
    return Infinity;
  }

  async function revoke(): Promise<void> {
    const timeoutMs = Math.max(500, Math.min(tuning.revokeTimeoutMs, (deps.pod.terminationGracePeriodSeconds * 1000) / 3));
    let timeout: unknown;
    try {
      await Promise.race([
        deps.vault.revokeSelf(timeoutMs),
        new Promise<never>((_, reject) => {
          timeout = clock.setTimer(() => reject(new Error(`revoke-self took longer than ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      log.info('Vault token revoked: its dynamic credentials are revoked with it');
    } catch (err) {
      log.error({ err }, 'could not revoke the Vault token: its credentials expire at their TTL instead');
    } finally {
      clock.clearTimer(timeout);
    }
  }

  /**
   * A refusal that only means "not yet" (a budget, Vault sealed, the API server or the
   * webhook unreachable: the condition clears by itself) has its wait bounded by the time
   * left before the pod's limit (core's evictionRetryDelay), so a pod does not sleep
   * through the moment it clears: the last pods of a rotation, or every pod after an
   * outage. A budget refusal also has the budget's short backoff (the pod is first in its
   * queue). A refusal that needs a fix keeps the plain backoff.
   */
  function retryLater(answer: string, level: 'error' | 'warn' | 'info', extra: Record<string, unknown> = {}, wait: 'plain' | 'clears' | 'budget' = 'plain'): void {
    const attempt = action.phase === 'retrying' ? action.attempt + 1 : 0;
    const now = clock.now();
    const backoffMs = backoffDelay(attempt, wait === 'budget' ? tuning.budgetBackoff : tuning.actionBackoff, random);
    const delay = wait !== 'plain' && result?.kind === 'at' ? evictionRetryDelay({ kind: 'budget', backoffMs, nowMs: now, limitMs: result.limitMs }) : backoffMs;
    action = { phase: 'retrying', attempt, atMs: now + delay };
    log[level]({ ...extra, attempt: attempt + 1, retryInMs: delay }, answer);
  }

  async function callEndpoint(path: string, body: Record<string, unknown>): Promise<EndpointAnswer | undefined> {
    try {
      return await deps.post(path, await deps.readEvictJwt(), body);
    } catch (err) {
      retryLater(`the eviction endpoint cannot be reached: retrying`, 'warn', { err }, 'clears');
      return undefined;
    }
  }

  /**
   * What the log says of an answer. A foreign server's body is left out: something that
   * echoes the request (a debug endpoint, a proxy) would echo the bearer token.
   */
  function answerFields(answer: EndpointAnswer, step: SidecarStep): Record<string, unknown> {
    return { status: answer.status, answerReason: answer.reason, ...(step.action === 'unknown' ? {} : { answer: answer.message }) };
  }

  /** PodGone: the token is worthless to any pod now; revoke it and wait for SIGTERM. */
  async function podGone(fields: Record<string, unknown>): Promise<void> {
    action = { phase: 'done' };
    stopped = true;
    clock.clearTimer(timer);
    log.warn(fields, 'the pod this token is bound to is gone (deleted, or a namesake with another uid): revoking the Vault token and idling until SIGTERM');
    await revoke();
  }

  let expiredWhileBlocked = false;
  /** Once: the credentials expired while a budget still refuses; the webhook's CredentialsExpired Event says the same on the pod. */
  function noteExpiredWhileBlocked(): void {
    if (expiredWhileBlocked || result?.kind !== 'at' || clock.now() < result.expiresAtMs) return;
    expiredWhileBlocked = true;
    log.error({ expiredAt: new Date(result.expiresAtMs).toISOString(), lease: describeLease(result.lease) }, 'the credentials expired while a PodDisruptionBudget still blocks the eviction: the pod runs on expired credentials; retrying until the budget allows it');
  }

  /** Every answer that is not the end: how long to wait, and how loudly to say so. */
  function retryFor(step: SidecarStep, endpoint: string, fields: Record<string, unknown>): void {
    switch (step.action) {
      case 'retry-after':
        // Not a backoff step: the next backoff starts where it was (-1: the first step is 0).
        action = { phase: 'retrying', attempt: action.phase === 'retrying' ? action.attempt : -1, atMs: clock.now() + evictionRetryDelay({ kind: 'retry-after', retryAfterMs: step.delayMs }) };
        log.info(
          { ...fields, retryAfterMs: step.delayMs },
          step.reason === 'EvictionQueued'
            ? 'eviction queued by its PodDisruptionBudget\'s turn (earliest expiry first, and only once Ready): retrying after its Retry-After'
            : `the ${endpoint} endpoint rate-limited this pod: retrying after its Retry-After`,
        );
        return;
      case 'refused':
        retryLater(`the ${endpoint} endpoint refused (${step.reason}): retrying, but this needs a fix (see the answer and the pod's Events)`, 'error', fields);
        return;
      case 'unknown':
        retryLater(`the ${endpoint} endpoint answered ${String(fields.status)} without a reason vault-courier sends (is VAULT_COURIER_SERVICE_URL the webhook?): retrying`, 'error', fields);
        return;
      default:
        retryLater(RETRY_MESSAGES[step.reason] ?? `the ${endpoint} endpoint answered ${step.reason}: retrying`, 'warn', fields, step.reason === 'DisruptionBudget' ? 'budget' : step.action === 'retry' ? 'clears' : 'plain');
        if (step.reason === 'DisruptionBudget') noteExpiredWhileBlocked();
    }
  }

  async function evict(due: Extract<DeadlineResult, { kind: 'at' }>): Promise<void> {
    const answer = await callEndpoint('/evict', { reason: `${describeLease(due.lease)} expires at ${new Date(due.expiresAtMs).toISOString()}` });
    if (answer === undefined) return;
    const step = sidecarStep(answer);
    const fields = answerFields(answer, step);
    if (step.action === 'accepted') {
      action = { phase: 'accepted' };
      log.info(fields, 'eviction accepted: waiting for SIGTERM');
    } else if (step.action === 'gone') await podGone(fields);
    else retryFor(step, 'eviction', fields);
  }

  async function warn(due: Extract<DeadlineResult, { kind: 'at' }>, why: string): Promise<void> {
    const answer = await callEndpoint('/expiry-warning', { expiresAt: new Date(due.expiresAtMs).toISOString(), lease: describeLease(due.lease), why });
    if (answer === undefined) return;
    const step = sidecarStep(answer);
    const fields = answerFields(answer, step);
    if (step.action === 'warned') {
      action = { phase: 'warned' };
      log.warn({ expiresAt: new Date(due.expiresAtMs).toISOString(), why }, 'credentials expire soon and this pod is not rotated: Warning Event raised');
    } else if (step.action === 'gone') await podGone(fields);
    else retryFor(step, 'expiry-warning', fields);
  }

  /**
   * Only while the sidecar still waits or retries: an accepted eviction's condition stays.
   * PodGone from /deadline means what it means from /evict, found out sooner.
   */
  async function report(): Promise<void> {
    for (let pass = 0; pass < 2; pass++) {
      if (result === undefined || deps.reportDeadline === undefined || (action.phase !== 'waiting' && action.phase !== 'retrying')) return;
      const answer = await deps.reportDeadline(result, earliestExpiry(deps.manifest, tokenStatus()));
      if (answer.outcome === 'gone') {
        await podGone({ status: EVICTION_ANSWERS.PodGone.code, answerReason: 'PodGone', endpoint: 'deadline' });
        return;
      }
      // A new lead moves the deadline: recompute, and report that once (the lead depends on the budget, not on the deadline).
      if (answer.queue === undefined || answer.queue.leadMs === queueLeadMs) return;
      queueLeadMs = answer.queue.leadMs;
      log.info({ budget: answer.queue.budget, pods: answer.queue.pods, atOnce: answer.queue.atOnce, leadMs: answer.queue.leadMs }, 'queue lead from the PodDisruptionBudget: asking at least this long before the limit');
      const before = result.kind === 'at' ? result.atMs : undefined;
      recompute(clock.now());
      if (result.kind === 'never' || result.atMs === before) return;
    }
  }

  async function tick(): Promise<void> {
    if (renewDue(clock.now())) await renew();
    if (stopped) return;
    recompute(clock.now());
    await report();
    if (result?.kind === 'at' && clock.now() >= actionAtMs()) {
      if (deps.mode.mode === 'evict') await evict(result);
      else await warn(result, deps.mode.why);
    }
  }

  function schedule(): void {
    if (stopped) return;
    clock.clearTimer(timer);
    const now = clock.now();
    const next = Math.min(renews && token.status !== 'final' ? token.nextRenewAtMs : Infinity, actionAtMs(), now + SLEEP_CAP_MS);
    timer = clock.setTimer(wake, Math.max(0, Math.min(SLEEP_CAP_MS, next - now)));
  }

  function wake(): void {
    if (stopped || running !== undefined) return;
    running = tick()
      .catch((err: unknown) => log.error({ err }, 'sidecar step failed'))
      .finally(() => {
        running = undefined;
        schedule();
      });
  }

  return {
    async start() {
      log.info({ audience: EVICT_AUDIENCE, mode: deps.mode.mode, ...(deps.mode.mode === 'warn' ? { why: deps.mode.why } : {}) }, 'sidecar started');
      if (renews) {
        // After a restart the token may have been renewed since the init container wrote the
        // manifest: resume from what Vault says, so the renewal schedule carries on.
        try {
          const info = await deps.vault.lookupSelf();
          const ttlSeconds = Math.max(0, Math.round((info.expiresAtMs - info.sinceMs) / 1000));
          // A renewal that granted less than the creation TTL hit the max TTL: the token is final.
          const capped = !info.renewable || ttlSeconds + 1 < manifestToken.ttlSeconds;
          token = {
            ...token,
            status: capped ? 'final' : 'extending',
            sinceMs: info.sinceMs,
            ttlSeconds,
            expiresAtMs: info.expiresAtMs,
            nextRenewAtMs: renewAt(info.sinceMs, ttlSeconds),
          };
        } catch (err) {
          log.warn({ err }, 'Vault token lookup failed at start: using the lease manifest');
        }
      }
      recompute(clock.now());
      await report();
      schedule();
    },
    async shutdown() {
      stopped = true;
      clock.clearTimer(timer);
      if (action.phase === 'done') return;
      await revoke();
    },
    current: () => result,
  };
}
