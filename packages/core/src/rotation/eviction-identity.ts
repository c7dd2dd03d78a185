/**
 * May this token evict that pod? The eviction endpoint takes no pod name from the caller:
 * the only pod it acts on is the one the (already verified) service-account token is bound
 * to, read from the token's `kubernetes.io` claim, and the uid goes into the Eviction's
 * precondition so a token can never evict a successor that reuses the name. This function
 * decides whether the claims name such a pod; signature, issuer, audience and expiry were
 * checked before it is called (jose's jwtVerify).
 */
import { isRecord } from '../support/env.ts';

export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly serviceAccount: string;
}

export type IdentityResult = { readonly ok: true; readonly pod: PodIdentity } | { readonly ok: false; readonly reason: string };

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function record(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

interface ClaimedPod {
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly uid: string | undefined;
  readonly serviceAccount: string | undefined;
}

function claimedPod(k8s: Record<string, unknown>): ClaimedPod {
  const pod = record(k8s.pod);
  return { namespace: text(k8s.namespace), name: text(pod?.name), uid: text(pod?.uid), serviceAccount: text(record(k8s.serviceaccount)?.name) };
}

export function podIdentityFromClaims(claims: Readonly<Record<string, unknown>>): IdentityResult {
  const k8s = record(claims['kubernetes.io']);
  if (k8s === undefined) return { ok: false, reason: 'the token has no kubernetes.io claim: it is not a Kubernetes service-account token' };
  const { namespace, name, uid, serviceAccount } = claimedPod(k8s);
  if (name === undefined || uid === undefined) {
    return { ok: false, reason: 'the token is not bound to a pod: mount a projected service-account token (audience vault-courier), not a legacy or TokenRequest token without a pod' };
  }
  if (namespace === undefined || serviceAccount === undefined) return { ok: false, reason: 'the token names no namespace or service account' };
  if (!DNS_SUBDOMAIN.test(namespace) || !DNS_SUBDOMAIN.test(name) || !UID.test(uid)) {
    return { ok: false, reason: 'the pod namespace, name or uid in the token is malformed' };
  }
  // The subject is what the API server authenticates; it must agree with the claim we act on.
  if (claims.sub !== `system:serviceaccount:${namespace}:${serviceAccount}`) {
    return { ok: false, reason: 'the token subject does not match its kubernetes.io claim' };
  }
  return { ok: true, pod: { namespace, name, uid, serviceAccount } };
}
