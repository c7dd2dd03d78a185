/**
 * The webhook's side of the /evict contract (core's EVICTION_ANSWERS): pure decisions over
 * what the API server said and what the pod looks like, so each answer the sidecar gets
 * means one thing. The I/O that gathers these facts is cluster.ts; the router sends.
 */
import { ANNOTATIONS, EVICTION_ANSWERS, ROTATION_REASONS, SIDECAR_CONTAINER_NAME, STATUS_INJECTED, type EvictionReason, type QueuePod, type RotationState } from '@vault-courier/core';

/** What the webhook read of the token's pod: only what its decisions need. */
export interface PodFacts {
  readonly uid: string;
  readonly name?: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** Names of the init containers and containers. */
  readonly containerNames: readonly string[];
  /** Its vault-courier.io/Rotation condition, when it has a readable one: /evict keeps its deadline. */
  readonly rotation?: RotationState;
  /** What the rotation queue needs (core's eviction-queue.ts): which budgets select it, its place. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly terminationGracePeriodSeconds?: number;
  readonly terminating?: boolean;
  /** Its Ready condition is True. */
  readonly ready?: boolean;
}

export type PodStanding = 'present' | 'gone' | 'not-injected';

/**
 * Is the token's pod still the pod, and one of ours? A pod with the same name but another
 * uid is a successor: for this token its pod is gone. Only injected pods may use the
 * endpoint: the webhook holds cluster-wide eviction rights, and any pod can ask for a
 * token with audience vault-courier.
 */
export function podStanding(found: PodFacts | undefined, uid: string): PodStanding {
  if (found === undefined || found.uid !== uid) return 'gone';
  const injected = found.annotations[ANNOTATIONS.status] === STATUS_INJECTED || found.containerNames.includes(SIDECAR_CONTAINER_NAME);
  return injected ? 'present' : 'not-injected';
}

/** The metrics label of each answer (vault_courier_eviction_requests_total's outcome). */
export const OUTCOMES = {
  Evicted: 'requested',
  Warned: 'warned',
  Recorded: 'recorded',
  PodGone: 'gone',
  DisruptionBudget: 'blocked',
  RateLimited: 'rate_limited',
  EvictionQueued: 'queued',
  EvictionConflict: 'conflict',
  VaultUnavailable: 'vault_unavailable',
  ClusterUnavailable: 'unavailable',
  Unauthorized: 'unauthorized',
  NotBoundToPod: 'forbidden',
  NotInjected: 'not_injected',
  EvictionRefused: 'error',
  StatusRefused: 'status_error',
  BadRequest: 'bad_request',
} as const satisfies Record<EvictionReason, string>;

export type Outcome = (typeof OUTCOMES)[EvictionReason];

export interface ApiVerdict {
  readonly reason: EvictionReason;
  readonly code: number;
}

function verdict(reason: EvictionReason): ApiVerdict {
  return { reason, code: EVICTION_ANSWERS[reason].code };
}

/**
 * The API server's answer to the Eviction, read with the pod as it is after that answer
 * (`after`, read again only for 404 and 409): a 409 for a pod that still has the token's
 * uid is the API server giving up on PDB status conflicts, a retry; a 409 or 404 for a pod
 * that is gone or renamed to another uid is PodGone. A 429 is a budget only with the
 * Eviction API's DisruptionBudget cause (`budgetCauses`): without one it is the API
 * server's own "try again later" (shutting down, overloaded), like its 503 and 504.
 */
export function evictionVerdict(apiStatus: number, after: PodStanding | undefined, budgetCauses = 0): ApiVerdict {
  if (apiStatus === 200 || apiStatus === 201) return verdict('Evicted');
  if (apiStatus === 429) return verdict(budgetCauses > 0 ? 'DisruptionBudget' : 'ClusterUnavailable');
  if (apiStatus === 503 || apiStatus === 504) return verdict('ClusterUnavailable');
  if (apiStatus === 404 || apiStatus === 409) {
    if (after === 'gone') return verdict('PodGone');
    if (after === 'not-injected') return verdict('NotInjected');
    // Still there (or unknown: the re-read failed): retrying is safe, "gone" would not be.
    return verdict('EvictionConflict');
  }
  return verdict('EvictionRefused');
}

/**
 * PodDisruptionBudget names from the Eviction API's 429 causes (`reason: DisruptionBudget`),
 * whose message is "The disruption budget <name> needs …" or "… <name> is still being
 * processed by the server": the API server names the budget it checked, so no label
 * matching is needed.
 */
export function budgetNames(causeMessages: readonly string[]): string[] {
  const names = causeMessages.map((m) => /\bdisruption budget ([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\b/i.exec(m)?.[1]).filter((n): n is string => n !== undefined);
  return [...new Set(names)].sort();
}

/** The EvictionBlocked Event's text: names the budgets when the API server did. */
export function blockedMessage(apiMessage: string, causeMessages: readonly string[]): string {
  const names = budgetNames(causeMessages);
  const by = names.length > 0 ? `PodDisruptionBudget ${names.join(', ')}` : 'a PodDisruptionBudget';
  const detail = causeMessages.length > 0 ? causeMessages.join('; ') : apiMessage;
  return `Eviction for credential rotation blocked by ${by}: ${detail}. The sidecar retries with backoff.`;
}

/** The CredentialsExpired Event's text: what expired, when, and the budgets that keep the pod running on it. */
export function expiredMessage(earliestExpiry: string | undefined, lease: string | undefined, blockedBy: readonly string[]): string {
  const by = blockedBy.length > 0 ? `PodDisruptionBudget ${blockedBy.join(', ')}` : 'a PodDisruptionBudget';
  return (
    `Vault credentials${lease ? ` (${lease})` : ''} expired at ${earliestExpiry ?? 'an unknown time'} while ${by} still refuses the eviction: ` +
    'the pod runs on expired credentials. The sidecar keeps retrying; the pod is rotated as soon as the budget allows a disruption (raise the replicas or relax the budget).'
  );
}

/** The sidecar's bodies are a few hundred bytes. */
export const ENDPOINT_BODY_LIMIT = '4kb';

/**
 * What body-parser refused, in words that never quote the body (a JSON syntax error
 * message would); undefined for an error that is not about the body.
 */
export function bodyProblem(err: unknown): string | undefined {
  const { type, status } = (typeof err === 'object' && err !== null ? err : {}) as { type?: unknown; status?: unknown };
  if (type === 'entity.too.large') return `the request body is larger than ${ENDPOINT_BODY_LIMIT}`;
  if (type === 'entity.parse.failed') return 'the request body is not valid JSON (send a JSON object)';
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') return 'the request body must be UTF-8 JSON without a Content-Encoding';
  return typeof status === 'number' && status >= 400 && status < 500 ? 'the request body could not be read' : undefined;
}

const timeMs = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Date.parse(iso));

/**
 * A pod's place in its budget's queue, from what the webhook itself wrote on it: the
 * vault-courier.io/Rotation condition's deadline and earliest expiry (POST /deadline).
 */
export function queuePodOf(facts: PodFacts): QueuePod {
  return {
    name: facts.name ?? '',
    uid: facts.uid,
    expiresAtMs: timeMs(facts.rotation?.earliestExpiry),
    deadlineMs: timeMs(facts.rotation?.deadline),
    leaving: facts.terminating === true || facts.rotation?.reason === ROTATION_REASONS.evicting,
    ready: facts.ready === true,
    terminationGracePeriodSeconds: facts.terminationGracePeriodSeconds ?? 30,
  };
}
