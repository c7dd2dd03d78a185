/**
 * Verifies the sidecar's projected service-account token (audience `vault-courier`)
 * against the cluster's own signing keys, served by the API server at `/openid/v1/jwks`.
 * jose's createRemoteJWKSet keeps them: fetched again when they are older than the cache
 * max age (so a key the API server dropped stops verifying within it), and when a token
 * names an unknown key id, at most once per cooldown (forged kids cannot flood the API
 * server). Then reads the pod the token is bound to. Never logs or echoes the token.
 */
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type FetchImplementation, type JWTVerifyGetKey } from 'jose';
import { CourierError, EVICT_AUDIENCE, isCourierError, podIdentityFromClaims, type PodIdentity } from '@vault-courier/core';

export type VerifyResult =
  | { readonly ok: true; readonly pod: PodIdentity }
  | { readonly ok: false; readonly status: 401 | 403 | 503; readonly reason: string };

export type TokenVerifier = (jwt: string) => Promise<VerifyResult>;

export interface KeySetOptions {
  readonly url: URL;
  /** The GET with the webhook's credentials (cluster.ts kubeFetch); the global fetch in tests of a plain server. */
  readonly fetch?: FetchImplementation;
  /** Keys older than this are fetched again before use. */
  readonly cacheMaxAgeMs?: number;
  /** An unknown kid triggers at most one refetch per cooldown. */
  readonly cooldownMs?: number;
}

/** Five minutes: a removed signing key stops verifying within that; the API server is asked rarely. */
export const JWKS_CACHE_MAX_AGE_MS = 5 * 60_000;
export const JWKS_COOLDOWN_MS = 10_000;

export function createClusterKeySet(options: KeySetOptions): JWTVerifyGetKey {
  return createRemoteJWKSet(options.url, {
    cacheMaxAge: options.cacheMaxAgeMs ?? JWKS_CACHE_MAX_AGE_MS,
    cooldownDuration: options.cooldownMs ?? JWKS_COOLDOWN_MS,
    ...(options.fetch === undefined ? {} : { [customFetch]: options.fetch }),
  });
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
  // The keys could not be fetched in time: the cluster's fault, not the token's.
  if (err instanceof errors.JWKSTimeout) return { ok: false, status: 503, reason: "cannot fetch the cluster's service-account keys from /openid/v1/jwks (timeout)" };
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
