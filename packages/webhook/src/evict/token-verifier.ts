/**
 * Verifies the sidecar's projected service-account token (audience `vault-courier`)
 * against the cluster's own signing keys, fetched from the API server's
 * `/openid/v1/jwks` with the webhook's credentials, cached, and fetched again when a token
 * names a key id the cache does not know (the API server rotated its keys). Then reads
 * the pod the token is bound to. Never logs or echoes the token.
 */
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { CourierError, EVICT_AUDIENCE, isCourierError, podIdentityFromClaims, type PodIdentity } from '@vault-courier/core';

export type VerifyResult =
  | { readonly ok: true; readonly pod: PodIdentity }
  | { readonly ok: false; readonly status: 401 | 403 | 503; readonly reason: string };

export type TokenVerifier = (jwt: string) => Promise<VerifyResult>;

export interface KeySetOptions {
  /** Returns the JWKS document; errors are wrapped as retryable `kubernetes` errors. */
  readonly fetchJwks: () => Promise<JSONWebKeySet>;
  readonly now?: () => number;
  /** An unknown kid triggers at most one refetch per interval (forged kids cannot flood the API server). */
  readonly minRefreshIntervalMs?: number;
}

export function createRefreshingKeySet(options: KeySetOptions): JWTVerifyGetKey {
  const now = options.now ?? Date.now;
  const minRefreshIntervalMs = options.minRefreshIntervalMs ?? 10_000;
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAtMs = -Infinity;
  let inflight: Promise<ReturnType<typeof createLocalJWKSet>> | undefined;

  function refresh(): Promise<ReturnType<typeof createLocalJWKSet>> {
    inflight ??= options
      .fetchJwks()
      .then((jwks) => {
        local = createLocalJWKSet(jwks);
        fetchedAtMs = now();
        return local;
      })
      .catch((cause: unknown) => {
        throw new CourierError('kubernetes', "cannot fetch the cluster's service-account keys from /openid/v1/jwks", { cause, retryable: true });
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  return async (header, token) => {
    const keys = local ?? (await refresh());
    try {
      return await keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || now() - fetchedAtMs < minRefreshIntervalMs) throw err;
      return (await refresh())(header, token);
    }
  };
}

export interface VerifierOptions {
  readonly getKey: JWTVerifyGetKey;
  /** The API server's --service-account-issuer; resolved once, retried after a failure. */
  readonly issuer: () => Promise<string>;
  readonly clockToleranceSeconds?: number;
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

function rejection(err: unknown): VerifyResult {
  if (isCourierError(err)) return { ok: false, status: 503, reason: err.message };
  if (err instanceof errors.JWTExpired) return { ok: false, status: 401, reason: 'the token has expired' };
  if (err instanceof errors.JWTClaimValidationFailed) return { ok: false, status: 401, reason: `the token's ${err.claim} claim is not accepted (audience must be ${EVICT_AUDIENCE}, issuer the cluster's)` };
  if (err instanceof errors.JWKSNoMatchingKey) return { ok: false, status: 401, reason: "the token is not signed by one of the cluster's service-account keys" };
  if (err instanceof errors.JWSSignatureVerificationFailed) return { ok: false, status: 401, reason: 'the token signature does not verify' };
  if (err instanceof errors.JOSEError) return { ok: false, status: 401, reason: `the token is not a valid JWT (${err.code})` };
  return { ok: false, status: 503, reason: 'token verification failed unexpectedly' };
}

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  let issuer: Promise<string> | undefined;
  const resolveIssuer = (): Promise<string> => {
    issuer ??= options.issuer().catch((cause: unknown) => {
      issuer = undefined;
      throw new CourierError('kubernetes', "cannot read the cluster's service-account issuer from /.well-known/openid-configuration", { cause, retryable: true });
    });
    return issuer;
  };
  return async (jwt) => {
    try {
      const { payload } = await jwtVerify(jwt, options.getKey, {
        issuer: await resolveIssuer(),
        audience: EVICT_AUDIENCE,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'iat'],
        clockTolerance: options.clockToleranceSeconds ?? 5,
      });
      const identity = podIdentityFromClaims(payload);
      return identity.ok ? { ok: true, pod: identity.pod } : { ok: false, status: 403, reason: identity.reason };
    } catch (err) {
      return rejection(err);
    }
  };
}
