/**
 * The sidecar's calls to the webhook's eviction endpoints, with its projected token.
 * Answers are returned as they came (status, the Status body's reason and message,
 * Retry-After); core's sidecarStep decides what they mean.
 */
import { CourierError } from '@vault-courier/core/support/errors';
import { parseRetryAfter, type ReceivedAnswer } from '@vault-courier/core/rotation/eviction-answers';
import { readBudgetLead, type BudgetLead } from '@vault-courier/core/rotation/eviction-queue';
import { NoAnswerError, requestJson } from '@vault-courier/http/request-json';

export interface EndpointAnswer extends ReceivedAnswer {
  readonly message: string;
  /** POST /deadline's answer: the pod's PodDisruptionBudget and the lead it needs. */
  readonly queue?: BudgetLead;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export interface EndpointOptions {
  readonly baseUrl: URL;
  /** PEM of the CA that signs the webhook's certificate; system roots when absent. */
  readonly caPem: string | undefined;
  readonly timeoutMs: number;
}

export type PostEndpoint = (path: string, jwt: string, body: Record<string, unknown>) => Promise<EndpointAnswer>;

export function createEndpointClient(options: EndpointOptions): PostEndpoint {
  const base = options.baseUrl.href.endsWith('/') ? options.baseUrl.href : `${options.baseUrl.href}/`;
  return async (path, jwt, body) => {
    const url = new URL(path.replace(/^\//, ''), base);
    try {
      const answer = await requestJson({ url, method: 'POST', headers: { authorization: `Bearer ${jwt}` }, body, caPem: options.caPem, timeoutMs: options.timeoutMs });
      const status = answer.body as { message?: unknown; reason?: unknown; queue?: unknown } | undefined;
      const queue = readBudgetLead(status?.queue);
      return { status: answer.status, reason: text(status?.reason), message: (text(status?.message) ?? '').slice(0, 1000), retryAfterSeconds: parseRetryAfter(answer.retryAfter), ...(queue === undefined ? {} : { queue }) };
    } catch (err) {
      const code = err instanceof NoAnswerError ? err.code : 'error';
      throw new CourierError('eviction', `the eviction endpoint ${url.origin}${url.pathname} did not answer (${code})`, { retryable: true, cause: { code } });
    }
  };
}
