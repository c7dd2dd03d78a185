/**
 * The answers of `POST /evict`, `POST /expiry-warning` and `POST /deadline`, defined once for both sides of
 * the contract: the webhook sends exactly these (code + Status `reason`), and the sidecar
 * acts only on a reason it finds here. An HTTP code alone never decides anything: any
 * server answers 404 (a wrong VAULT_COURIER_SERVICE_URL), and the API server's 409 means
 * "another pod has this name" or "my PDB status update kept conflicting" — the webhook
 * resolves such ambiguities where the facts are (it reads the pod) and sends one meaning.
 * Pure, no imports: the sidecar bundle loads this file alone.
 * Contract: docs/eviction-endpoint.md.
 */

/** What the sidecar does with an answer. */
export type SidecarAction =
  /** The eviction was accepted: wait for SIGTERM. */
  | 'accepted'
  /** The expiry warning was recorded: nothing left to do but wait. */
  | 'warned'
  /** The deadline report (POST /deadline) is on the pod's status condition. */
  | 'recorded'
  /** The pod the token is bound to no longer exists: revoke the Vault token, idle until SIGTERM. */
  | 'gone'
  /** Retry with capped backoff; the condition is expected to clear (PDB, Vault, API server). */
  | 'retry'
  /** Retry after the answer's Retry-After: the webhook's per-pod rate limit, or the pod's place in its budget's queue. */
  | 'retry-after'
  /** Retry with backoff, but nothing the sidecar does fixes it: logged as an error for a human. */
  | 'refused';

export interface EvictionAnswerSpec {
  readonly code: number;
  readonly action: SidecarAction;
}

/**
 * Every Status `reason` the endpoints answer with. The sidecar's mapping is keyed by these
 * strings, so renaming one is a contract change (docs/contract.md).
 */
export const EVICTION_ANSWERS = {
  /** 201: the Eviction API accepted the eviction. */
  Evicted: { code: 201, action: 'accepted' },
  /** 201: the CredentialsExpiring Event was recorded (/expiry-warning). */
  Warned: { code: 201, action: 'warned' },
  /** 200: the deadline is on the pod's vault-courier.io/Rotation condition (/deadline). */
  Recorded: { code: 200, action: 'recorded' },
  /** 410: no pod with the token's name and uid exists (deleted, or a namesake took the name). */
  PodGone: { code: 410, action: 'gone' },
  /** 429: a PodDisruptionBudget allows no disruption now; the message names it. */
  DisruptionBudget: { code: 429, action: 'retry' },
  /** 429: the webhook's per-pod rate limit; `Retry-After` says when. */
  RateLimited: { code: 429, action: 'retry-after' },
  /**
   * 429: other pods of the same PodDisruptionBudget are asking and expire sooner, so they go
   * first (core's queueTurn); `Retry-After` shrinks as this pod moves up; the message names the first.
   */
  EvictionQueued: { code: 429, action: 'retry-after' },
  /** 409: the API server's PDB status update kept conflicting while the pod is still there. */
  EvictionConflict: { code: 409, action: 'retry' },
  /** 503: Vault is sealed or unreachable, so a replacement pod could not get credentials. */
  VaultUnavailable: { code: 503, action: 'retry' },
  /** 503: the API server (or its keys) did not answer. */
  ClusterUnavailable: { code: 503, action: 'retry' },
  /** 401: no token, or one the cluster did not sign for audience vault-courier. */
  Unauthorized: { code: 401, action: 'refused' },
  /** 403: a valid token that is not bound to a pod. */
  NotBoundToPod: { code: 403, action: 'refused' },
  /** 403: the token's pod carries neither the injected status annotation nor the sidecar. */
  NotInjected: { code: 403, action: 'refused' },
  /** 502: the API server refused the eviction otherwise (e.g. missing RBAC). */
  EvictionRefused: { code: 502, action: 'refused' },
  /** 502: the API server refused the pods/status patch of /deadline (e.g. missing RBAC). */
  StatusRefused: { code: 502, action: 'refused' },
  /** 400: a malformed request body. */
  BadRequest: { code: 400, action: 'refused' },
} as const satisfies Record<string, EvictionAnswerSpec>;

export type EvictionReason = keyof typeof EVICTION_ANSWERS;

export function isEvictionReason(value: unknown): value is EvictionReason {
  return typeof value === 'string' && Object.hasOwn(EVICTION_ANSWERS, value);
}

/** What the sidecar read from the endpoint's answer. */
export interface ReceivedAnswer {
  readonly status: number;
  /** The Status body's `reason`, when it had one. */
  readonly reason: string | undefined;
  /** The `Retry-After` header in seconds, when present and a number. */
  readonly retryAfterSeconds: number | undefined;
}

export type SidecarStep =
  | { readonly action: Exclude<SidecarAction, 'retry-after'>; readonly reason: EvictionReason }
  | { readonly action: 'retry-after'; readonly reason: EvictionReason; readonly delayMs: number }
  /** Not an answer of vault-courier's: a foreign server, a proxy, a wrong URL. Retry and report. */
  | { readonly action: 'unknown'; readonly reason: undefined };

/** Without a usable Retry-After the rate limit's own refill interval is a fair wait. */
const DEFAULT_RETRY_AFTER_MS = 5000;
/** A Retry-After beyond this is not believed: the deadline must not slip by an hour. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The sidecar's side of the contract: an answer counts only when its reason is one of
 * ours *and* comes with the code we send for it. A bare 404 (or a 410 without our
 * reason) is a foreign server, never "pod gone".
 */
export function sidecarStep(answer: ReceivedAnswer): SidecarStep {
  if (!isEvictionReason(answer.reason)) return { action: 'unknown', reason: undefined };
  const spec: EvictionAnswerSpec = EVICTION_ANSWERS[answer.reason];
  if (spec.code !== answer.status) return { action: 'unknown', reason: undefined };
  if (spec.action !== 'retry-after') return { action: spec.action, reason: answer.reason };
  const seconds = answer.retryAfterSeconds;
  const delayMs = seconds === undefined || !Number.isFinite(seconds) || seconds < 0 ? DEFAULT_RETRY_AFTER_MS : Math.min(MAX_RETRY_AFTER_MS, seconds * 1000);
  return { action: 'retry-after', reason: answer.reason, delayMs };
}

/** `Retry-After` as delta-seconds (the only form the webhook sends); undefined otherwise. */
export function parseRetryAfter(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d{1,6}$/.test(header.trim())) return undefined;
  return Number(header.trim());
}
