/**
 * `vault-courier render`, the pure part: every pod and pod template of a manifest mutated
 * exactly as the webhook would (same decision, same mutation, same names), so a user sees
 * the result before applying it, and every warning the warn-only webhook would give a
 * workload (the same workloadWarnings). Workload templates get the ownerReference their
 * pods will carry, because the injected environment depends on it.
 */
import type { V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import { formatAnnotationErrors, mutatePod, podTemplateOf, shouldInject, templateHolder, workloadKind, workloadWarnings, type InjectionConfig, type WorkloadKind } from '@vault-courier/core';

export interface RenderedManifest {
  readonly documents: readonly Record<string, unknown>[];
  /** One line per refused pod or pod template, naming the object: what the webhook would deny. */
  readonly problems: readonly string[];
  /** `Kind/name: text` per warning `kubectl apply` would print for a workload (all of them, unfitted). */
  readonly warnings: readonly string[];
  /** `Kind/name` of each object whose pods would be injected. */
  readonly injected: readonly string[];
}

type Doc = Record<string, unknown>;

function describe(doc: Doc): string {
  const metadata = doc.metadata as V1ObjectMeta | undefined;
  return `${String(doc.kind)}/${metadata?.name ?? metadata?.generateName ?? '(unnamed)'}`;
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

function renderWorkload(doc: Doc, workload: WorkloadKind, config: InjectionConfig): TemplateResult {
  const key = workload.templatePath.at(-1) ?? '';
  const template = podTemplateOf(doc, workload);
  if (template === undefined) return { doc, injected: false };
  const [apiVersion, kind] = workload.podOwner;
  const ownerReferences = [{ apiVersion, kind, name: '(controller)', uid: '', controller: true }];
  const result = renderPod({ metadata: { ...template.metadata, ownerReferences }, spec: template.spec ?? { containers: [] } }, config);
  if (result.pod === undefined) return { doc, problem: result.problem, injected: false };
  const out = structuredClone(doc);
  const { ownerReferences: _, ...metadata } = result.pod.metadata ?? {};
  templateHolder(out, workload)![key] = { metadata, spec: result.pod.spec };
  return { doc: out, injected: true };
}

function renderTemplate(doc: Doc, config: InjectionConfig): TemplateResult {
  if (doc.kind === 'Pod') return renderBarePod(doc, config);
  const workload = workloadKind(String(doc.kind), undefined);
  return workload === undefined ? { doc, injected: false } : renderWorkload(doc, workload, config);
}

export function renderManifest(documents: readonly Doc[], config: InjectionConfig): RenderedManifest {
  const problems: string[] = [];
  const warnings: string[] = [];
  const injected: string[] = [];
  const rendered = documents.map((doc) => {
    const result = renderTemplate(doc, config);
    if (result.problem) problems.push(`${describe(doc)}: ${result.problem}`);
    if (result.injected) injected.push(describe(doc));
    warnings.push(...workloadWarnings(String(doc.kind), doc, config).map((w) => `${describe(doc)}: ${w.text}`));
    return result.doc;
  });
  return { documents: rendered, problems, warnings, injected };
}
