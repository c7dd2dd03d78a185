/**
 * The sidecar's side of POST /deadline: once it knows its deadline, and again whenever it
 * moves, it tells the webhook, which writes the pod's vault-courier.io/Rotation condition
 * (the sidecar itself holds no Kubernetes right). Best effort: a report that failed is sent
 * again on the sidecar's next wake-up (at most a minute later); a report never delays or
 * replaces the eviction itself. The answer carries the pod's PodDisruptionBudget queue
 * lead (core's budgetLead), which the sidecar's deadline takes in.
 * Contract: docs/contract.md ("Rotation status", "Rotation queue").
 */
import { describeLease, type DeadlineResult, type LeaseRef } from '@vault-courier/core/rotation/deadline';
import { sidecarStep } from '@vault-courier/core/rotation/eviction-answers';
import type { BudgetLead } from '@vault-courier/core/rotation/eviction-queue';
import type { DeadlineReport } from '@vault-courier/core/rotation/rotation-condition';
import type { Logger } from '@vault-courier/core/support/logger';
import type { PostEndpoint } from './endpoint.ts';

export const DEADLINE_PATH = '/deadline';

/** `gone`: the webhook answered 410 PodGone, which the sidecar acts on as it does for /evict. */
export type ReportOutcome = 'recorded' | 'unchanged' | 'failed' | 'gone';

/** `queue`: the lead of the last recorded answer (kept while the report is unchanged). */
export interface ReportAnswer {
  readonly outcome: ReportOutcome;
  readonly queue: BudgetLead | undefined;
}

export type ReportDeadline = (result: DeadlineResult, earliest: { readonly atMs: number; readonly lease: LeaseRef } | undefined) => Promise<ReportAnswer>;

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
  let queue: BudgetLead | undefined;
  /** The last failure logged, so a webhook that keeps refusing is one line, not one a minute. */
  let lastFailure: string | undefined;

  function failed(key: string, level: 'warn' | 'error', fields: Record<string, unknown>, message: string): ReportAnswer {
    if (key !== lastFailure) deps.logger[level](fields, message);
    lastFailure = key;
    return { outcome: 'failed', queue };
  }

  return async (result, earliest) => {
    const body = deadlineReport(result, earliest, deps.mode);
    const key = JSON.stringify(body);
    if (key === recorded) return { outcome: 'unchanged', queue };
    try {
      const answer = await deps.post(DEADLINE_PATH, await deps.readJwt(), { ...body });
      const step = sidecarStep(answer);
      if (step.action === 'recorded') {
        recorded = key;
        lastFailure = undefined;
        // A webhook without the queue answers no lead: then there is none.
        queue = answer.queue;
        deps.logger.info({ deadline: body.deadline, earliestExpiry: body.earliestExpiry }, 'deadline reported: on the pod status condition vault-courier.io/Rotation');
        return { outcome: 'recorded', queue };
      }
      if (step.action === 'gone') return { outcome: 'gone', queue };
      const answered = `${answer.status} ${answer.reason ?? ''}`;
      // A foreign server's body is left out of the log (it may echo the bearer token).
      if (step.action === 'unknown') return failed(answered, 'error', { status: answer.status }, 'the deadline report was answered without a reason vault-courier sends (a webhook older than POST /deadline, or VAULT_COURIER_SERVICE_URL is not the webhook?): retrying at the next wake-up');
      return failed(answered, 'warn', { status: answer.status, answerReason: answer.reason, answer: answer.message }, `the deadline report was not recorded (${step.reason}): retrying at the next wake-up`);
    } catch (err) {
      return failed('unreachable', 'warn', { err }, 'the deadline report could not be sent: retrying at the next wake-up');
    }
  };
}
