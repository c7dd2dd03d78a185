/**
 * Who is evicted to rotate: an allowlist. Only a pod whose controller recreates it as it
 * was (ReplicaSet, StatefulSet, DaemonSet, ReplicationController, plus the kinds named in
 * VAULT_COURIER_EVICT_OWNER_KINDS) is evicted; every other pod (no controller, a Job, an
 * Argo Workflow, a Tekton TaskRun, a Spark driver…) gets the CredentialsExpiring Warning
 * Event instead, because evicting it would fail its work. Decided once, at admission, and
 * handed to the sidecar in the injected environment. Pure.
 */
import type { V1Pod } from '@kubernetes/client-node';

/** The webhook variable that adds kinds to the allowlist. */
export const EVICT_OWNER_KINDS_ENV = 'VAULT_COURIER_EVICT_OWNER_KINDS';

/** A controller kind; `group` undefined matches the kind in any API group. */
export interface OwnerKind {
  readonly group: string | undefined;
  readonly kind: string;
}

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

const KIND = /^[A-Za-z][A-Za-z0-9]*$/;
const GROUP = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const EXAMPLE = 'e.g. "Rollout" or "argoproj.io/Rollout,CloneSet"';

function parseEntry(entry: string): OwnerKind | string {
  const parts = entry.split('/');
  if (parts.length > 2) return `"${entry}" has more than one "/": write group/Kind without the version (e.g. "argoproj.io/Rollout", not "argoproj.io/v1alpha1/Rollout")`;
  const [group, kind] = parts.length === 2 ? [parts[0] ?? '', parts[1] ?? ''] : [undefined, parts[0] ?? ''];
  if (group !== undefined && !GROUP.test(group)) return `"${entry}": "${group}" is not an API group (lowercase DNS name such as argoproj.io)`;
  if (!KIND.test(kind)) return `"${entry}": "${kind}" is not a kind (letters and digits, as in the ownerReference, ${EXAMPLE})`;
  if (/^[a-z]/.test(kind)) return `"${entry}": kinds are written as in ownerReferences, starting with a capital letter (e.g. "${kind.charAt(0).toUpperCase()}${kind.slice(1)}")`;
  return { group, kind };
}

/** The comma list `Kind` or `group/Kind` of VAULT_COURIER_EVICT_OWNER_KINDS; empty text is the empty list. */
export function parseOwnerKinds(text: string): { readonly kinds: readonly OwnerKind[] } | { readonly problem: string } {
  if (text.trim() === '') return { kinds: [] };
  const entries = text.split(',').map((e) => e.trim());
  if (entries.some((e) => e === '')) return { problem: `"${text}" has an empty entry; write a comma list of Kind or group/Kind, ${EXAMPLE}` };
  const kinds: OwnerKind[] = [];
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if (typeof parsed === 'string') return { problem: parsed };
    kinds.push(parsed);
  }
  return { kinds: Object.freeze(kinds) };
}

export function formatOwnerKind(kind: OwnerKind): string {
  return kind.group === undefined || kind.group === '' ? kind.kind : `${kind.group}/${kind.kind}`;
}

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
