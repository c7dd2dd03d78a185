/**
 * The three Vault calls the init container makes, over the sidecar's node:http(s) JSON
 * client (one client for both injected containers; core does no I/O). Not node-vault,
 * whose loading alone takes longer than vault agent's whole run: the figures are in
 * docs/performance.md, "Init". Nothing comes from the environment:
 * VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_SKIP_VERIFY and DEBUG change nothing; the
 * endpoint, CA, namespace and token come from our configuration only. Every call, the login
 * included, carries X-Vault-Namespace when the pod has a Vault namespace.
 */
import { NoAnswerError, requestJson } from '@vault-courier/http/request-json';
import { VaultFailureError, type VaultFailure } from './vault-errors.ts';

export interface VaultApi {
  /** POST <authPath>/login {role, jwt}; resolves with Vault's raw answer. */
  login(authPath: string, role: string, jwt: string): Promise<unknown>;
  /** GET <path> with the token; resolves with Vault's raw answer. */
  read(path: string, token: string): Promise<unknown>;
  /** POST auth/token/revoke-self: the token's dynamic leases die with it. */
  revokeSelf(token: string): Promise<void>;
}

export interface VaultClientOptions {
  readonly addr: string;
  /** PEM text; undefined: Node's bundled roots. Verification is never turned off. */
  readonly caPem: string | undefined;
  /** Per request: a Vault that accepts the connection and then hangs is a retryable failure. */
  readonly requestTimeoutMs: number;
  /** Vault Enterprise / OpenBao namespace; absent: no X-Vault-Namespace header. */
  readonly namespace?: string | undefined;
}

/** Vault refuses to store a request larger than its default max_request_size, so no secret is longer. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

function vaultErrors(body: unknown): string[] {
  const errors = typeof body === 'object' && body !== null ? (body as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(errors)) return [];
  return errors.filter((e): e is string => typeof e === 'string').map((e) => e.replace(/\s+/g, ' ').trim().slice(0, 300));
}

export function createVaultClient(options: VaultClientOptions): VaultApi {
  const base = options.addr.endsWith('/') ? options.addr : `${options.addr}/`;
  const namespace: Record<string, string> = options.namespace === undefined ? {} : { 'x-vault-namespace': options.namespace };

  /**
   * Resolves with the body of a 2xx answer. A failure keeps the HTTP status, Vault's error
   * strings and the socket error code, nothing else: never the request, whose headers hold
   * the token and whose body holds the JWT.
   */
  async function call(method: 'GET' | 'POST', path: string, token: string | undefined, body?: unknown): Promise<unknown> {
    let answer;
    try {
      answer = await requestJson({ url: new URL(`v1/${path}`, base), method, headers: { ...namespace, ...(token === undefined ? {} : { 'x-vault-token': token }) }, body, caPem: options.caPem, timeoutMs: options.requestTimeoutMs, maxAnswerBytes: MAX_ANSWER_BYTES });
    } catch (err) {
      const failure: VaultFailure = { vaultErrors: [], code: err instanceof NoAnswerError ? err.code : 'EUNKNOWN' };
      throw new VaultFailureError(failure);
    }
    if (answer.status < 200 || answer.status >= 300) throw new VaultFailureError({ status: answer.status, vaultErrors: vaultErrors(answer.body) });
    return answer.body;
  }

  return {
    login: (authPath, role, jwt) => call('POST', `${authPath}/login`, undefined, { role, jwt }),
    read: (path, token) => call('GET', path, token),
    revokeSelf: async (token) => {
      await call('POST', 'auth/token/revoke-self', token, {});
    },
  };
}
