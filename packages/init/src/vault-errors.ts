/**
 * What a failed Vault call means for the pod: retry (Vault down, sealed, 5xx) or fail at
 * once with a reason naming the annotation and the path (denied, unknown role, no such
 * path). Pure: the client reduces every failure to a VaultFailure first.
 */
import { ANNOTATIONS, CourierError, INJECTED_ENV } from '@vault-courier/core';

/**
 * Everything kept from a failed call. Built field by field from the HTTP status, Vault's
 * `errors` array and the socket error code: the raw client error carries the request's
 * headers and body (the Vault token, the login JWT) and must never travel further.
 */
export interface VaultFailure {
  /** HTTP status when Vault answered. */
  readonly status?: number;
  /** Vault's `errors`, whitespace collapsed; Vault puts no secret data in them. */
  readonly vaultErrors: readonly string[];
  /** Socket or TLS error code when Vault did not answer (ECONNREFUSED, CERT_HAS_EXPIRED, ...). */
  readonly code?: string;
}

/** Thrown by the Vault client in place of the raw error; carries nothing but the failure. */
export class VaultFailureError extends Error {
  readonly failure: VaultFailure;
  constructor(failure: VaultFailure) {
    super(describeFailure(failure));
    this.name = 'VaultFailureError';
    this.failure = failure;
  }
}

export type VaultOperation =
  | { readonly kind: 'login'; readonly authPath: string; readonly role: string }
  | { readonly kind: 'read'; readonly name: string; readonly path: string }
  | { readonly kind: 'revoke' };


/** Statuses after which the same request may succeed later: overload, standby, 5xx. */
const RETRYABLE_STATUS = new Set([412, 429, 472, 473]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENOTFOUND', 'EAI_AGAIN', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'UND_ERR_SOCKET', 'ERR_BAD_RESPONSE',
]);

const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/;

export function describeFailure(failure: VaultFailure): string {
  const first = failure.vaultErrors[0];
  if (failure.status !== undefined) return first === undefined ? `HTTP ${failure.status}` : `${failure.status}: ${first}`;
  return failure.code ?? 'unknown error';
}

function doing(op: VaultOperation): string {
  switch (op.kind) {
    case 'login':
      return `logging in at ${op.authPath} as role "${op.role}"`;
    case 'read':
      return `reading ${op.path} for ${`${ANNOTATIONS.secretPrefix}${op.name}`}`;
    case 'revoke':
      return 'revoking the Vault token';
  }
}

function isSealed(failure: VaultFailure): boolean {
  return failure.status === 503 && failure.vaultErrors.some((e) => /sealed/i.test(e));
}

function isTransient(failure: VaultFailure): boolean {
  if (failure.status === undefined) return failure.code !== undefined && NETWORK_CODES.has(failure.code);
  return failure.status >= 500 || RETRYABLE_STATUS.has(failure.status);
}

function loginRefusal(failure: VaultFailure, op: Extract<VaultOperation, { kind: 'login' }>): string {
  const said = describeFailure(failure);
  if (failure.status === 404 || failure.vaultErrors.some((e) => /no handler for route/i.test(e))) {
    return `${INJECTED_ENV.authPath}: Vault has no auth method at ${op.authPath} (${said}); set the webhook's VAULT_COURIER_AUTH_PATH to the kubernetes auth mount`;
  }
  if (failure.vaultErrors.some((e) => /invalid role name/i.test(e))) {
    return `${ANNOTATIONS.role}: Vault has no role "${op.role}" at ${op.authPath} (${said}); create the role or fix the annotation`;
  }
  return `${ANNOTATIONS.role}: Vault refused the login as role "${op.role}" at ${op.authPath} (${said}); the role must bind this pod's service account and namespace, and accept audience "vault"`;
}

function readRefusal(failure: VaultFailure, op: Extract<VaultOperation, { kind: 'read' }>): string {
  const annotation = `${ANNOTATIONS.secretPrefix}${op.name}`;
  const said = describeFailure(failure);
  if (failure.status === 403) return `${annotation}: permission denied reading ${op.path} (${said}); grant the role's policy "read" on ${op.path}`;
  if (failure.status === 404) return `${annotation}: nothing at ${op.path} (${said}); check the path (a KV v2 path includes /data/, e.g. secret/data/app)`;
  return `${annotation}: Vault refused ${op.path} (${said})`;
}

/** The CourierError a failed call becomes; `retryable` drives the backoff loop. */
export function classifyVaultFailure(failure: VaultFailure, op: VaultOperation, vaultAddr: string): CourierError {
  const cause = new VaultFailureError(failure);
  if (isSealed(failure)) return new CourierError('vault', `Vault at ${vaultAddr} is sealed (503) while ${doing(op)}; unseal it`, { cause, retryable: true });
  if (isTransient(failure)) {
    const what = failure.status === undefined ? `is unreachable (${failure.code})` : `answered ${describeFailure(failure)}`;
    return new CourierError('vault', `Vault at ${vaultAddr} ${what} while ${doing(op)}`, { cause, retryable: true });
  }
  if (failure.status === undefined && failure.code !== undefined && TLS_CODE.test(failure.code)) {
    return new CourierError('vault', `TLS verification of Vault at ${vaultAddr} failed (${failure.code}); give the webhook the CA that signs Vault's certificate (VAULT_COURIER_VAULT_CACERT)`, { cause });
  }
  if (op.kind === 'login') return new CourierError('vault', loginRefusal(failure, op), { cause });
  if (op.kind === 'read') return new CourierError('vault', readRefusal(failure, op), { cause });
  return new CourierError('vault', `Vault at ${vaultAddr} failed while ${doing(op)} (${describeFailure(failure)})`, { cause });
}
