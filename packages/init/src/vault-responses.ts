/**
 * Vault's answers, reduced to what the init container keeps: the token and its lease from a
 * login; the data and the lease from a read. Pure. Errors name the annotation and the path,
 * and describe the shape that was wrong, never its content.
 */
import { ANNOTATIONS, CourierError, isRecord, type SecretData, type SecretLease, type SecretSpec, type TokenLease } from '@vault-courier/core';

export interface LoginResult {
  readonly token: string;
  readonly lease: TokenLease;
}

export interface FetchedSecret {
  readonly spec: SecretSpec;
  readonly data: SecretData;
  readonly lease: SecretLease;
}

type Fields = Record<string, unknown>;


function nonNegative(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

export function parseLoginResponse(body: unknown, issuedAtMs: number): LoginResult {
  const auth = isRecord(body) ? body.auth : undefined;
  if (!isRecord(auth) || typeof auth.client_token !== 'string' || auth.client_token === '') {
    throw new CourierError('vault', `${ANNOTATIONS.role}: Vault's login answer carries no client token; is the auth path a kubernetes auth method?`);
  }
  return {
    token: auth.client_token,
    lease: {
      accessor: typeof auth.accessor === 'string' ? auth.accessor : '',
      ttlSeconds: nonNegative(auth.lease_duration),
      renewable: auth.renewable === true,
      issuedAtMs,
    },
  };
}

/**
 * KV v2 wraps the secret as `{ data: { data, metadata } }`, metadata carrying the version;
 * every other engine (KV v1, database, PKI, ...) answers with the data itself.
 */
function isKvV2(data: Fields): data is { data: unknown; metadata: Fields } {
  const keys = Object.keys(data);
  return keys.length === 2 && 'data' in data && isRecord(data.metadata) && typeof data.metadata.version === 'number';
}

function secretData(spec: SecretSpec, body: unknown): SecretData {
  const annotation = `${ANNOTATIONS.secretPrefix}${spec.name}`;
  const data = isRecord(body) ? body.data : undefined;
  if (!isRecord(data)) throw new CourierError('vault', `${annotation}: Vault returned no data object at ${spec.path}; the path must be readable with GET (a secret, not a write-only endpoint)`);
  if (!isKvV2(data)) return data;
  if (!isRecord(data.data)) {
    throw new CourierError('vault', `${annotation}: the current version of ${spec.path} is deleted or destroyed (KV v2 version ${String(data.metadata.version)}); write a new version or undelete it`);
  }
  return data.data;
}

export function parseSecretResponse(spec: SecretSpec, body: unknown, issuedAtMs: number): FetchedSecret {
  const data = secretData(spec, body);
  const fields = body as Fields;
  const leaseId = typeof fields.lease_id === 'string' ? fields.lease_id : '';
  // KV answers lease_duration as a refresh hint with no lease behind it: only a lease id
  // means the secret expires by itself.
  const leased = leaseId !== '';
  return {
    spec,
    data,
    lease: {
      name: spec.name,
      path: spec.path,
      leaseId,
      leaseDurationSeconds: leased ? nonNegative(fields.lease_duration) : 0,
      renewable: leased && fields.renewable === true,
      issuedAtMs,
    },
  };
}
