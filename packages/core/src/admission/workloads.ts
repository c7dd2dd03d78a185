/**
 * The workload kinds whose pods vault-courier injects, where each keeps its pod template,
 * and the kind of controller its pods will name as owner: one table for the warn-only
 * webhook's registration, its decision, and `vault-courier render`.
 */
import type { V1ObjectMeta, V1PodTemplateSpec } from '@kubernetes/client-node';

export interface WorkloadKind {
  /** API group ('' for the core group). */
  readonly group: string;
  readonly resource: string;
  /** Field path from the object to its pod template. */
  readonly templatePath: readonly string[];
  /** apiVersion and kind of the controller that creates the pods (their ownerReference). */
  readonly podOwner: readonly [apiVersion: string, kind: string];
}

export const WORKLOAD_KINDS: Readonly<Record<string, WorkloadKind>> = {
  Deployment: { group: 'apps', resource: 'deployments', templatePath: ['spec', 'template'], podOwner: ['apps/v1', 'ReplicaSet'] },
  ReplicaSet: { group: 'apps', resource: 'replicasets', templatePath: ['spec', 'template'], podOwner: ['apps/v1', 'ReplicaSet'] },
  StatefulSet: { group: 'apps', resource: 'statefulsets', templatePath: ['spec', 'template'], podOwner: ['apps/v1', 'StatefulSet'] },
  DaemonSet: { group: 'apps', resource: 'daemonsets', templatePath: ['spec', 'template'], podOwner: ['apps/v1', 'DaemonSet'] },
  Job: { group: 'batch', resource: 'jobs', templatePath: ['spec', 'template'], podOwner: ['batch/v1', 'Job'] },
  CronJob: { group: 'batch', resource: 'cronjobs', templatePath: ['spec', 'jobTemplate', 'spec', 'template'], podOwner: ['batch/v1', 'Job'] },
  ReplicationController: { group: '', resource: 'replicationcontrollers', templatePath: ['spec', 'template'], podOwner: ['v1', 'ReplicationController'] },
};

/** The table entry for `kind` in `group`; undefined for any other object. */
export function workloadKind(kind: string | undefined, group: string | undefined): WorkloadKind | undefined {
  const found = kind === undefined ? undefined : Object.hasOwn(WORKLOAD_KINDS, kind) ? WORKLOAD_KINDS[kind] : undefined;
  return found !== undefined && (group === undefined || found.group === group) ? found : undefined;
}

type Node = Record<string, unknown>;

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The object that holds the pod template (its parent), so a caller can replace it. */
export function templateHolder(workload: Node, kind: WorkloadKind): Node | undefined {
  let node: unknown = workload;
  for (const key of kind.templatePath.slice(0, -1)) node = isNode(node) ? node[key] : undefined;
  return isNode(node) ? node : undefined;
}

export function podTemplateOf(workload: Node, kind: WorkloadKind): V1PodTemplateSpec | undefined {
  const template = templateHolder(workload, kind)?.[kind.templatePath.at(-1) ?? ''];
  return isNode(template) ? (template as V1PodTemplateSpec) : undefined;
}

export function metadataOf(object: Node): V1ObjectMeta {
  return isNode(object.metadata) ? (object.metadata as V1ObjectMeta) : {};
}
