/**
 * The sidecar's calls to the webhook's eviction endpoints, with its projected token.
 * Answers are returned as status + message; the caller decides what they mean.
 */
import { CourierError } from '@vault-courier/core/errors';
import { NoAnswerError, requestJson } from './http-json.ts';

export interface EndpointAnswer {
  readonly status: number;
  readonly message: string;
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
      const message = (answer.body as { message?: unknown } | undefined)?.message;
      return { status: answer.status, message: typeof message === 'string' ? message : '' };
    } catch (err) {
      const code = err instanceof NoAnswerError ? err.code : 'error';
      throw new CourierError('eviction', `the eviction endpoint ${url.origin}${url.pathname} did not answer (${code})`, { retryable: true, cause: { code } });
    }
  };
}
