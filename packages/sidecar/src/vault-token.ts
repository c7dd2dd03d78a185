/**
 * The three calls the sidecar makes with its Vault token: lookup-self (at start, to learn
 * the token's current expiry after a restart), renew-self and revoke-self. Over
 * node:https (@vault-courier/http's request-json.ts says why not node-vault; the figures are in
 * docs/eviction-endpoint.md).
 * Every call carries X-Vault-Namespace when the pod has a Vault namespace (the same one init
 * logged in to: the token only exists there).
 * Nothing comes from the environment: VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE,
 * VAULT_SKIP_VERIFY and DEBUG change nothing. Failures keep only status, Vault's error
 * strings and the socket code: never the request, which carries the token.
 */
import { CourierError } from '@vault-courier/core/support/errors';
import { NoAnswerError, requestJson, type JsonAnswer } from '@vault-courier/http/request-json';

export interface TokenInfo {
  readonly ttlSeconds: number;
  readonly renewable: boolean;
  /** Epoch ms at which the current TTL started (issue or last renewal). */
  readonly sinceMs: number;
  readonly expiresAtMs: number;
}

export interface RenewResult {
  readonly ttlSeconds: number;
  readonly renewable: boolean;
}

export interface VaultToken {
  lookupSelf(): Promise<TokenInfo>;
  renewSelf(incrementSeconds: number): Promise<RenewResult>;
  revokeSelf(timeoutMs: number): Promise<void>;
}

export interface VaultTokenOptions {
  readonly addr: string;
  readonly caPem: string | undefined;
  readonly token: string;
  /** Vault Enterprise / OpenBao namespace; absent: no X-Vault-Namespace header. */
  readonly namespace?: string | undefined;
  readonly requestTimeoutMs: number;
  readonly now?: () => number;
}

/** Overload, standby, performance standby: the same request may succeed later. */
const RETRYABLE_STATUS = new Set([412, 429, 472, 473]);

function vaultErrors(body: unknown): string {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors)) return '';
  return errors
    .filter((e): e is string => typeof e === 'string')
    .join('; ')
    .replace(/\s+/g, ' ')
    .slice(0, 200);
}

function timeOf(value: unknown): number {
  if (typeof value === 'number') return value * 1000;
  if (typeof value === 'string') return Date.parse(value);
  return NaN;
}

export function createVaultToken(options: VaultTokenOptions): VaultToken {
  const now = options.now ?? Date.now;
  const base = options.addr.endsWith('/') ? options.addr : `${options.addr}/`;
  const headers = { 'x-vault-token': options.token, ...(options.namespace === undefined ? {} : { 'x-vault-namespace': options.namespace }) };

  async function call(method: 'GET' | 'POST', path: string, doing: string, body?: unknown, timeoutMs = options.requestTimeoutMs): Promise<JsonAnswer> {
    let answer: JsonAnswer;
    try {
      answer = await requestJson({ url: new URL(`v1/${path}`, base), method, headers, body, caPem: options.caPem, timeoutMs });
    } catch (err) {
      const code = err instanceof NoAnswerError ? err.code : 'error';
      throw new CourierError('vault', `Vault at ${options.addr} did not answer ${doing} (${code})`, { retryable: true, cause: { code } });
    }
    if (answer.status >= 200 && answer.status < 300) return answer;
    const errors = vaultErrors(answer.body);
    const retryable = answer.status >= 500 || RETRYABLE_STATUS.has(answer.status);
    throw new CourierError('vault', `Vault at ${options.addr} answered ${answer.status}${errors ? ` (${errors})` : ''} to ${doing}`, { retryable, cause: { status: answer.status } });
  }

  return {
    async lookupSelf() {
      const { body } = await call('GET', 'auth/token/lookup-self', 'lookup-self');
      const data = ((body as { data?: unknown } | undefined)?.data ?? {}) as Record<string, unknown>;
      const ttlSeconds = typeof data.ttl === 'number' ? data.ttl : 0;
      const at = now();
      const expire = timeOf(data.expire_time);
      const since = [timeOf(data.last_renewal_time), timeOf(data.issue_time)].find(Number.isFinite);
      return { ttlSeconds, renewable: data.renewable === true, sinceMs: since ?? at, expiresAtMs: Number.isFinite(expire) ? expire : at + ttlSeconds * 1000 };
    },
    async renewSelf(incrementSeconds) {
      const { body } = await call('POST', 'auth/token/renew-self', 'renew-self', { increment: `${incrementSeconds}s` });
      const auth = ((body as { auth?: unknown } | undefined)?.auth ?? {}) as { lease_duration?: unknown; renewable?: unknown };
      return { ttlSeconds: typeof auth.lease_duration === 'number' ? auth.lease_duration : 0, renewable: auth.renewable === true };
    },
    async revokeSelf(timeoutMs) {
      await call('POST', 'auth/token/revoke-self', 'revoke-self', {}, timeoutMs);
    },
  };
}
