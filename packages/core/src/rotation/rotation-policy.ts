/**
 * Who is evicted to rotate: an allowlist. Only a pod whose controller recreates it as it
 * was (ReplicaSet, StatefulSet, DaemonSet, ReplicationController, plus the kinds named in
 * VAULT_COURIER_EVICT_OWNER_KINDS) is evicted; every other pod (no controller, a Job, an
 * Argo Workflow, a Tekton TaskRun, a Spark driver…) gets the CredentialsExpiring Warning
 * Event instead, because evicting it would fail its work. Decided once, at admission, and
 * handed to the sidecar in the injected environment. Pure.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { EVICT_OWNER_KINDS_ENV, formatOwnerKind, type OwnerKind } from '../contract/owner-kinds.ts';

/** Controllers that recreate an evicted pod as it was. */
export const EVICTED_OWNER_KINDS: readonly OwnerKind[] = Object.freeze([
  { group: 'apps', kind: 'ReplicaSet' },
  { group: 'apps', kind: 'StatefulSet' },
  { group: 'apps', kind: 'DaemonSet' },
  { group: '', kind: 'ReplicationController' },
]);

/** The pod's controller ownerReference. `apiVersion` undefined: not known (a pod injected by an older webhook). */
export interface PodOwner {
  readonly apiVersion: string | undefined;
  readonly kind: string;
}

export type RotationDecision = { readonly mode: 'evict'; readonly why: string } | { readonly mode: 'warn'; readonly why: string };

/** `apps/v1` → `apps`, `v1` → `` (the core group), unknown stays unknown. */
function groupOf(apiVersion: string | undefined): string | undefined {
  if (apiVersion === undefined) return undefined;
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

function matches(entry: OwnerKind, owner: PodOwner): boolean {
  if (entry.kind !== owner.kind) return false;
  const group = groupOf(owner.apiVersion);
  return entry.group === undefined || group === undefined || entry.group === group;
}

/** The controller ownerReference of a pod, if any. */
export function controllerOwner(pod: V1Pod): PodOwner | undefined {
  const ref = (pod.metadata?.ownerReferences ?? []).find((r) => r.controller === true);
  return ref === undefined ? undefined : { apiVersion: ref.apiVersion, kind: ref.kind };
}

export interface RotationInput {
  /** The pod's `vault-courier.io/rotate` (true unless "false"). */
  readonly rotate: boolean;
  readonly owner: PodOwner | undefined;
  /** From VAULT_COURIER_EVICT_OWNER_KINDS. */
  readonly evictOwnerKinds: readonly OwnerKind[];
}

/** Evict, or warn as expiry nears; with the reason the sidecar logs. */
export function decideRotation(input: RotationInput): RotationDecision {
  const { owner } = input;
  if (!input.rotate) return { mode: 'warn', why: 'vault-courier.io/rotate is "false"' };
  if (owner === undefined || owner.kind === '') return { mode: 'warn', why: 'no controller owns the pod, so nothing would recreate it' };
  const group = groupOf(owner.apiVersion);
  const named = formatOwnerKind({ group, kind: owner.kind });
  if (EVICTED_OWNER_KINDS.some((k) => matches(k, owner))) return { mode: 'evict', why: `its controller ${named} recreates it` };
  if (input.evictOwnerKinds.some((k) => matches(k, owner))) return { mode: 'evict', why: `its controller ${named} is named in ${EVICT_OWNER_KINDS_ENV}` };
  if (owner.kind === 'Job' && (group === undefined || group === 'batch')) return { mode: 'warn', why: 'a Job owns the pod, and evicting it would fail or restart the work' };
  return { mode: 'warn', why: `its controller ${named} is not one vault-courier evicts (add it to ${EVICT_OWNER_KINDS_ENV} if it recreates evicted pods)` };
}
