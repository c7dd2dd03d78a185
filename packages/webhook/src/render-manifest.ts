/**
 * `vault-courier render`, the pure part: every pod and pod template of a manifest mutated
 * exactly as the webhook would (same decision, same mutation, same names), so a user sees
 * the result before applying it. Workload templates get the ownerReference their pods
 * will carry, because the injected environment depends on it.
 */
import type { V1ObjectMeta, V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { formatAnnotationErrors, mutatePod, shouldInject, type InjectionConfig } from '@vault-courier/core';

/** Where the pod template sits in each workload kind, and the kind of its pods' controller. */
const WORKLOADS: Readonly<Record<string, { readonly path: readonly string[]; readonly owner: readonly [apiVersion: string, kind: string] }>> = {
  Deployment: { path: ['spec', 'template'], owner: ['apps/v1', 'ReplicaSet'] },
  ReplicaSet: { path: ['spec', 'template'], owner: ['apps/v1', 'ReplicaSet'] },
  StatefulSet: { path: ['spec', 'template'], owner: ['apps/v1', 'StatefulSet'] },
  DaemonSet: { path: ['spec', 'template'], owner: ['apps/v1', 'DaemonSet'] },
  Job: { path: ['spec', 'template'], owner: ['batch/v1', 'Job'] },
  CronJob: { path: ['spec', 'jobTemplate', 'spec', 'template'], owner: ['batch/v1', 'Job'] },
  ReplicationController: { path: ['spec', 'template'], owner: ['v1', 'ReplicationController'] },
};

export interface RenderedManifest {
  readonly documents: readonly Record<string, unknown>[];
  /** One line per refused pod template, naming the object: what the webhook would deny. */
  readonly problems: readonly string[];
  /** `Kind/name` of each object whose pods would be injected. */
  readonly injected: readonly string[];
}

type Doc = Record<string, unknown>;

function describe(doc: Doc): string {
  const metadata = doc.metadata as V1ObjectMeta | undefined;
  return `${String(doc.kind)}/${metadata?.name ?? metadata?.generateName ?? '(unnamed)'}`;
}

function templateHolder(doc: Doc, path: readonly string[]): Doc | undefined {
  let node: unknown = doc;
  for (const key of path.slice(0, -1)) node = (node as Doc | undefined)?.[key];
  return typeof node === 'object' && node !== null ? (node as Doc) : undefined;
}

/** The pod as the webhook will see it, mutated; undefined if it is left alone. */
function renderPod(pod: V1Pod, config: InjectionConfig): { pod?: V1Pod; problem?: string } {
  const decision = shouldInject(pod, config);
  if (decision.inject) return { pod: mutatePod(pod, decision.spec, config) };
  if (decision.reason === 'invalid') return { problem: formatAnnotationErrors(decision.errors) };
  return {};
}

interface TemplateResult {
  readonly doc: Doc;
  readonly problem?: string | undefined;
  readonly injected: boolean;
}

function renderBarePod(doc: Doc, config: InjectionConfig): TemplateResult {
  const result = renderPod(doc as V1Pod, config);
  return { doc: (result.pod as Doc | undefined) ?? doc, problem: result.problem, injected: result.pod !== undefined };
}

function renderWorkload(doc: Doc, workload: (typeof WORKLOADS)[string], config: InjectionConfig): TemplateResult {
  const key = workload.path.at(-1) ?? '';
  const template = templateHolder(doc, workload.path)?.[key] as V1PodTemplateSpec | undefined;
  if (template === undefined) return { doc, injected: false };
  const [apiVersion, kind] = workload.owner;
  const ownerReferences = [{ apiVersion, kind, name: '(controller)', uid: '', controller: true }];
  const result = renderPod({ metadata: { ...template.metadata, ownerReferences }, spec: template.spec ?? { containers: [] } }, config);
  if (result.pod === undefined) return { doc, problem: result.problem, injected: false };
  const out = structuredClone(doc);
  const { ownerReferences: _, ...metadata } = result.pod.metadata ?? {};
  templateHolder(out, workload.path)![key] = { metadata, spec: result.pod.spec };
  return { doc: out, injected: true };
}

function renderTemplate(doc: Doc, config: InjectionConfig): TemplateResult {
  if (doc.kind === 'Pod') return renderBarePod(doc, config);
  const workload = WORKLOADS[String(doc.kind)];
  return workload === undefined ? { doc, injected: false } : renderWorkload(doc, workload, config);
}

export function renderManifest(documents: readonly Doc[], config: InjectionConfig): RenderedManifest {
  const problems: string[] = [];
  const injected: string[] = [];
  const rendered = documents.map((doc) => {
    const result = renderTemplate(doc, config);
    if (result.problem) problems.push(`${describe(doc)}: ${result.problem}`);
    if (result.injected) injected.push(describe(doc));
    return result.doc;
  });
  return { documents: rendered, problems, injected };
}
