/**
 * The sidecar's life when its lease manifest cannot be read (unreadable-manifest.ts):
 * the expiry is unknown, so it asks at once for the pod's eviction (or, for a pod nothing
 * recreates, raises the expiry warning dated now) and keeps asking until an answer ends
 * it, acting on each answer as the normal sidecar does (core's sidecarStep): Evicted or
 * Warned → wait for SIGTERM; PodGone → revoke and idle; RateLimited → its Retry-After;
 * anything else → capped backoff. It never exits: the kubelet would only restart it into
 * the same state. On SIGTERM it revokes the Vault token when it could read one.
 */
import { backoffDelay } from '@vault-courier/core/support/backoff';
import type { Logger } from '@vault-courier/core/support/logger';
import { sidecarStep } from '@vault-courier/core/rotation/eviction-answers';
import { evictionRetryDelay } from '@vault-courier/core/rotation/retry-delay';
import type { RotationMode } from './config.ts';
import type { PostEndpoint } from './endpoint.ts';
import { DEFAULT_TUNING, systemClock, type Clock } from './sidecar.ts';
import type { VaultToken } from './vault-token.ts';

export interface RotateNowDeps {
  readonly problem: string;
  readonly endpoint: '/evict' | '/expiry-warning';
  readonly mode: RotationMode;
  readonly post: PostEndpoint;
  readonly readEvictJwt: () => Promise<string>;
  /** Undefined when the token file could not be read either: nothing to revoke. */
  readonly vault: VaultToken | undefined;
  readonly terminationGracePeriodSeconds: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
}

export interface RotateNow {
  start(): void;
  shutdown(): Promise<void>;
}

const UNKNOWN_LEASE = 'unknown: the lease manifest cannot be read';

export function createRotateNow(deps: RotateNowDeps): RotateNow {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const log = deps.logger;
  let attempt = 0;
  let timer: unknown;
  let done = false;
  let revoked = false;

  function body(): Record<string, unknown> {
    if (deps.endpoint === '/evict') return { reason: `the lease manifest cannot be read, the credentials' expiry is unknown (${deps.problem})` };
    return { expiresAt: new Date(clock.now()).toISOString(), lease: UNKNOWN_LEASE, why: deps.mode.why };
  }

  function later(ms: number, message: string, fields: Record<string, unknown>): void {
    log.warn({ ...fields, attempt: attempt + 1, retryInMs: ms }, message);
    timer = clock.setTimer(() => void ask(), ms);
  }

  async function revoke(): Promise<void> {
    if (deps.vault === undefined || revoked) return;
    revoked = true;
    const timeoutMs = Math.max(500, Math.min(DEFAULT_TUNING.revokeTimeoutMs, (deps.terminationGracePeriodSeconds * 1000) / 3));
    try {
      await deps.vault.revokeSelf(timeoutMs);
      log.info('Vault token revoked: its dynamic credentials are revoked with it');
    } catch (err) {
      log.error({ err }, 'could not revoke the Vault token: its credentials expire at their TTL instead');
    }
  }

  async function ask(): Promise<void> {
    if (done) return;
    let answer;
    try {
      answer = await deps.post(deps.endpoint, await deps.readEvictJwt(), body());
    } catch (err) {
      later(backoffDelay(attempt++, DEFAULT_TUNING.actionBackoff, random), 'the eviction endpoint cannot be reached: retrying', { err });
      return;
    }
    const step = sidecarStep(answer);
    const fields = { endpoint: deps.endpoint, status: answer.status, answerReason: answer.reason, ...(step.action === 'unknown' ? {} : { answer: answer.message }) };
    switch (step.action) {
      case 'accepted':
      case 'warned':
        done = true;
        log.info(fields, step.action === 'accepted' ? 'eviction accepted (expiry unknown): waiting for SIGTERM' : 'expiry warning raised (expiry unknown): this pod is not rotated, replace it');
        return;
      case 'gone':
        done = true;
        log.warn(fields, 'the pod this token is bound to is gone: revoking the Vault token and idling until SIGTERM');
        await revoke();
        return;
      case 'retry-after':
        later(evictionRetryDelay({ kind: 'retry-after', retryAfterMs: step.delayMs }), `the ${deps.endpoint} endpoint rate-limited this pod: retrying after its Retry-After`, fields);
        return;
      default:
        later(backoffDelay(attempt++, DEFAULT_TUNING.actionBackoff, random), `the ${deps.endpoint} endpoint answered ${step.reason ?? answer.status}: retrying`, fields);
    }
  }

  return {
    start() {
      const doing = deps.endpoint === '/evict' ? 'asking for the pod\'s eviction now' : 'raising the expiry warning now (this pod is not rotated automatically)';
      log.error({ problem: deps.problem, mode: deps.mode.mode }, `the lease manifest cannot be read, so the credentials' expiry is unknown: ${doing}`);
      void ask();
    },
    async shutdown() {
      done = true;
      clock.clearTimer(timer);
      await revoke();
    },
  };
}
