/**
 * The sidecar's side of POST /deadline: once it knows its deadline, and again whenever it
 * moves, it tells the webhook, which writes the pod's vault-courier.io/Rotation condition
 * (the sidecar itself holds no Kubernetes right). Best effort: a report that failed is sent
 * again on the sidecar's next wake-up (at most a minute later); a report never delays or
 * replaces the eviction itself. Contract: docs/contract.md ("Rotation status").
 */
import { describeLease, type DeadlineResult, type LeaseRef } from '@vault-courier/core/rotation/deadline';
import { sidecarStep } from '@vault-courier/core/rotation/eviction-answers';
import type { DeadlineReport } from '@vault-courier/core/rotation/rotation-condition';
import type { Logger } from '@vault-courier/core/support/logger';
import type { PostEndpoint } from './endpoint.ts';

export const DEADLINE_PATH = '/deadline';

/** `gone`: the webhook answered 410 PodGone, which the sidecar acts on as it does for /evict. */
export type ReportOutcome = 'recorded' | 'unchanged' | 'failed' | 'gone';

export type ReportDeadline = (result: DeadlineResult, earliest: { readonly atMs: number; readonly lease: LeaseRef } | undefined) => Promise<ReportOutcome>;

/** The body for a deadline: pure, so what the webhook receives is tested without a server. */
export function deadlineReport(result: DeadlineResult, earliest: { readonly atMs: number; readonly lease: LeaseRef } | undefined, mode: 'evict' | 'warn'): DeadlineReport {
  return {
    deadline: result.kind === 'at' ? new Date(result.atMs).toISOString() : null,
    earliestExpiry: earliest === undefined ? null : new Date(earliest.atMs).toISOString(),
    ...(earliest === undefined ? {} : { lease: describeLease(earliest.lease) }),
    mode,
  };
}

export function createDeadlineReporter(deps: { readonly post: PostEndpoint; readonly readJwt: () => Promise<string>; readonly mode: 'evict' | 'warn'; readonly logger: Logger }): ReportDeadline {
  let recorded: string | undefined;
  /** The last failure logged, so a webhook that keeps refusing is one line, not one a minute. */
  let lastFailure: string | undefined;

  function failed(key: string, level: 'warn' | 'error', fields: Record<string, unknown>, message: string): 'failed' {
    if (key !== lastFailure) deps.logger[level](fields, message);
    lastFailure = key;
    return 'failed';
  }

  return async (result, earliest) => {
    const body = deadlineReport(result, earliest, deps.mode);
    const key = JSON.stringify(body);
    if (key === recorded) return 'unchanged';
    try {
      const answer = await deps.post(DEADLINE_PATH, await deps.readJwt(), { ...body });
      const step = sidecarStep(answer);
      if (step.action === 'recorded') {
        recorded = key;
        lastFailure = undefined;
        deps.logger.info({ deadline: body.deadline, earliestExpiry: body.earliestExpiry }, 'deadline reported: on the pod status condition vault-courier.io/Rotation');
        return 'recorded';
      }
      if (step.action === 'gone') return 'gone';
      const answered = `${answer.status} ${answer.reason ?? ''}`;
      // A foreign server's body is left out of the log (it may echo the bearer token).
      if (step.action === 'unknown') return failed(answered, 'error', { status: answer.status }, 'the deadline report was answered without a reason vault-courier sends (a webhook older than POST /deadline, or VAULT_COURIER_SERVICE_URL is not the webhook?): retrying at the next wake-up');
      return failed(answered, 'warn', { status: answer.status, answerReason: answer.reason, answer: answer.message }, `the deadline report was not recorded (${step.reason}): retrying at the next wake-up`);
    } catch (err) {
      return failed('unreachable', 'warn', { err }, 'the deadline report could not be sent: retrying at the next wake-up');
    }
  };
}
