/**
 * What `vault-courier status` says about each pod: pure decisions over what the CLI read
 * (pods, their namespaces, PodDisruptionBudgets, the webhook's registration).
 * - A pod that asks for secrets (a `vault-courier.io/secret-*` annotation, not opted out)
 *   but carries neither `vault-courier.io/status: injected` nor the sidecar was never
 *   injected: why, as far as the API can tell.
 * - An injected pod: its secrets and its vault-courier.io/Rotation condition (the deadline
 *   its sidecar reported, core's rotation-condition.ts), and the budgets that would block
 *   its eviction now (they select it and allow no disruption).
 */
import type { V1MutatingWebhook, V1Namespace, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { ANNOTATIONS, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE, parseRotationCondition, ROTATION_CONDITION_TYPE, SIDECAR_CONTAINER_NAME, STATUS_INJECTED, type RotationReason } from '@vault-courier/core';
import { selectorMatches } from './label-selector.ts';

/** What the webhook's registration says, as far as the caller may read it. */
export type WebhookFacts =
  | { readonly state: 'registered'; readonly failurePolicy: string; readonly namespaceSelector: V1MutatingWebhook['namespaceSelector'] }
  | { readonly state: 'absent' }
  /** The caller may not read MutatingWebhookConfigurations. */
  | { readonly state: 'unknown' };

export type NotInjectedWhy = 'namespace-not-opted-in' | 'namespace-excluded' | 'created-before-opt-in' | 'webhook-not-registered' | 'admitted-without-webhook';

export interface NotInjectedLine {
  readonly namespace: string;
  readonly pod: string;
  readonly secrets: readonly string[];
  readonly why: NotInjectedWhy;
  /** For a person: what happened, and what to do. */
  readonly message: string;
}

export interface InjectedLine {
  readonly namespace: string;
  readonly pod: string;
  readonly secrets: readonly string[];
  /** The condition's reason; NotReported before the sidecar reported (or a sidecar older than the condition). */
  readonly rotation: RotationReason | 'NotReported' | 'Unreadable';
  readonly deadline: string | null;
  readonly earliestExpiry: string | null;
  readonly lease: string | null;
  /** Budgets that select the pod and allow no disruption now: an eviction would be refused. */
  readonly blockedBy: readonly string[];
  /** The budgets the Eviction API named at the sidecar's last blocked attempt (EvictionBlocked). */
  readonly lastBlockedBy: readonly string[];
  readonly problem: string | null;
}

export type PodLine = { readonly kind: 'injected'; readonly line: InjectedLine } | { readonly kind: 'not-injected'; readonly line: NotInjectedLine };

export function requestedSecrets(annotations: Readonly<Record<string, string>>): string[] {
  return Object.keys(annotations)
    .filter((k) => k.startsWith(ANNOTATIONS.secretPrefix))
    .map((k) => k.slice(ANNOTATIONS.secretPrefix.length))
    .sort();
}

export function isInjected(pod: V1Pod): boolean {
  const names = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
  return pod.metadata?.annotations?.[ANNOTATIONS.status] === STATUS_INJECTED || names.includes(SIDECAR_CONTAINER_NAME);
}

/**
 * When the namespace's opt-in label was last written, from its managedFields: the time of
 * the field manager that owns `metadata.labels[vault-courier.io/inject]`. That manager may
 * have changed other fields since, so the time can be later than the opt-in, never earlier.
 */
export function optedInAt(namespace: V1Namespace): string | undefined {
  const field = `f:${NAMESPACE_LABEL}`;
  const owners = (namespace.metadata?.managedFields ?? []).filter((m) => {
    const labels = (m.fieldsV1 as { 'f:metadata'?: { 'f:labels'?: Record<string, unknown> } } | undefined)?.['f:metadata']?.['f:labels'];
    return labels !== undefined && Object.hasOwn(labels, field);
  });
  const times = owners.map((m) => (m.time === undefined ? undefined : new Date(m.time).toISOString())).filter((t): t is string => t !== undefined);
  return times.sort().at(-1);
}

function placeOf(pod: V1Pod): { namespace: string; pod: string } {
  return { namespace: pod.metadata?.namespace ?? '', pod: pod.metadata?.name ?? '' };
}

function iso(value: Date | string | undefined): string | undefined {
  return value === undefined ? undefined : new Date(value).toISOString();
}

const RECREATE = 'delete the pod (or restart its Deployment/StatefulSet) so it is admitted again';

type Why = { why: NotInjectedWhy; message: string };

/** The namespace's part: not opted in, excluded by the webhook, or opted in after the pod was created. */
function namespaceWhy(ns: string, namespace: V1Namespace | undefined, created: string | undefined, webhook: WebhookFacts): Why | undefined {
  const labels = namespace?.metadata?.labels ?? {};
  if (labels[NAMESPACE_LABEL] !== NAMESPACE_LABEL_VALUE) {
    return { why: 'namespace-not-opted-in', message: `namespace ${ns} is not opted in: kubectl label namespace ${ns} ${NAMESPACE_LABEL}=${NAMESPACE_LABEL_VALUE}, then ${RECREATE}` };
  }
  if (webhook.state === 'registered' && !selectorMatches(webhook.namespaceSelector, labels, 'everything')) {
    return { why: 'namespace-excluded', message: `namespace ${ns} is excluded by the webhook's namespaceSelector (kube-system and the webhook's own namespace never are injected)` };
  }
  const since = namespace === undefined ? undefined : optedInAt(namespace);
  if (created !== undefined && since !== undefined && created < since) {
    return { why: 'created-before-opt-in', message: `created ${created}, before namespace ${ns} opted in (its ${NAMESPACE_LABEL} label was set at ${since}): ${RECREATE}` };
  }
  return undefined;
}

function whyNotInjected(pod: V1Pod, namespace: V1Namespace | undefined, webhook: WebhookFacts): Why {
  const found = namespaceWhy(pod.metadata?.namespace ?? '', namespace, iso(pod.metadata?.creationTimestamp), webhook);
  if (found !== undefined) return found;
  if (webhook.state === 'absent') {
    return { why: 'webhook-not-registered', message: `no MutatingWebhookConfiguration has the webhook inject.vault-courier.io: install the chart, then ${RECREATE}` };
  }
  const policy =
    webhook.state === 'registered'
      ? webhook.failurePolicy === 'Ignore'
        ? 'the webhook was down or unreachable and its failurePolicy is Ignore, which admits such pods without secrets'
        : `the webhook was not registered yet, or was down while its failurePolicy was Ignore (it is ${webhook.failurePolicy} now)`
      : 'the webhook was down with failurePolicy Ignore, or not registered yet';
  return { why: 'admitted-without-webhook', message: `admitted without vault-courier: ${policy}; ${RECREATE}` };
}

/** Budgets of the pod's namespace that select it and allow no disruption now. */
export function blockingBudgets(pod: V1Pod, budgets: readonly V1PodDisruptionBudget[]): string[] {
  const labels = pod.metadata?.labels ?? {};
  return budgets
    .filter((b) => b.metadata?.namespace === pod.metadata?.namespace && selectorMatches(b.spec?.selector, labels) && (b.status?.disruptionsAllowed ?? 0) <= 0)
    .map((b) => b.metadata?.name ?? '')
    .sort();
}

function injectedLine(pod: V1Pod, budgets: readonly V1PodDisruptionBudget[]): InjectedLine {
  const parsed = parseRotationCondition(pod.status?.conditions?.find((c) => c.type === ROTATION_CONDITION_TYPE));
  const place = placeOf(pod);
  const secrets = requestedSecrets(pod.metadata?.annotations ?? {});
  const blockedBy = blockingBudgets(pod, budgets);
  // Built in the documented key order: `-o json` prints it as is.
  const none = { deadline: null, earliestExpiry: null, lease: null, blockedBy, lastBlockedBy: [] };
  if (parsed === undefined) return { ...place, secrets, rotation: 'NotReported', ...none, problem: null };
  if ('problem' in parsed) return { ...place, secrets, rotation: 'Unreadable', ...none, problem: parsed.problem };
  const s = parsed.state;
  return { ...place, secrets, rotation: s.reason, deadline: s.deadline ?? null, earliestExpiry: s.earliestExpiry ?? null, lease: s.lease ?? null, blockedBy, lastBlockedBy: s.blockedBy, problem: null };
}

/** The line for one pod; undefined for a pod that asks vault-courier for nothing. */
export function podStatusLine(pod: V1Pod, namespace: V1Namespace | undefined, budgets: readonly V1PodDisruptionBudget[], webhook: WebhookFacts): PodLine | undefined {
  if (isInjected(pod)) return { kind: 'injected', line: injectedLine(pod, budgets) };
  const annotations = pod.metadata?.annotations ?? {};
  const secrets = requestedSecrets(annotations);
  if (secrets.length === 0 || annotations[ANNOTATIONS.inject] === 'false') return undefined;
  return { kind: 'not-injected', line: { ...placeOf(pod), secrets, ...whyNotInjected(pod, namespace, webhook) } };
}
