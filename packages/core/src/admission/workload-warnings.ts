/**
 * What the warn-only webhook tells whoever writes a workload, before any pod exists:
 * vault-courier annotations on the workload's own metadata, where vault-courier never
 * looks (vault-helm#335, vault-k8s#101: silently ignored elsewhere), and a pod template the
 * pod webhook would refuse, with the message each of its pods would get, from the same
 * decision (shouldInject). Warnings, never a denial: a workload is only a template, and
 * refusing it would turn a vault-courier outage or bug into failed deployments.
 */
import { formatAnnotationErrors } from '../contract/annotations.ts';
import { ANNOTATION_PREFIX } from '../contract/names.ts';
import { shouldInject, type DecideConfig } from './decide.ts';
import { podShapeProblem } from './pod-shape.ts';
import { metadataOf, podTemplateOf, WORKLOAD_KINDS } from './workloads.ts';

export interface WorkloadWarning {
  /** `misplaced`: annotations on the workload itself; `invalid`: its pods will be refused. */
  readonly kind: 'misplaced' | 'invalid';
  readonly text: string;
}

/** Enough to recognise the mistake; the rest are counted, so a warning stays short. */
const MISPLACED_KEYS_SHOWN = 4;

function listKeys(keys: readonly string[]): string {
  const shown = keys.slice(0, MISPLACED_KEYS_SHOWN).join(', ');
  return keys.length > MISPLACED_KEYS_SHOWN ? `${shown} and ${keys.length - MISPLACED_KEYS_SHOWN} more` : shown;
}

function misplaced(keys: readonly string[], kind: string, templateField: string): WorkloadWarning {
  const [subject, verb, pronoun] = keys.length === 1 ? ['annotation', 'is', 'it'] : ['annotations', 'are', 'them'];
  return {
    kind: 'misplaced',
    // Keys only: an annotation's value is the user's, and a warning is printed and logged.
    text: `metadata.annotations: vault-courier ${subject} ${listKeys(keys)} ${verb} on the ${kind} itself, where vault-courier never looks; move ${pronoun} to ${templateField}.metadata.annotations`,
  };
}

/**
 * The warnings for one workload of `kind` (a key of WORKLOAD_KINDS), in a stable order:
 * misplaced annotations first, then one per problem of the pod template, each carrying the
 * refusal a pod with that problem gets (formatAnnotationErrors of it alone). Unbounded:
 * the webhook fits them to the API server's limits (fitAdmissionWarnings), render prints all.
 */
export function workloadWarnings(kind: string, workload: Readonly<Record<string, unknown>>, config: DecideConfig): WorkloadWarning[] {
  const entry = Object.hasOwn(WORKLOAD_KINDS, kind) ? WORKLOAD_KINDS[kind] : undefined;
  if (entry === undefined) return [];
  const templateField = entry.templatePath.join('.');
  const own = Object.keys(metadataOf(workload).annotations ?? {}).filter((key) => key.startsWith(ANNOTATION_PREFIX)).sort();
  const warnings = own.length > 0 ? [misplaced(own, kind, templateField)] : [];
  const template = podTemplateOf(workload, entry);
  if (template === undefined) return warnings;
  // A template the decision cannot read (never one the API server decoded) would make it throw.
  const malformed = podShapeProblem(template, `request.object.${templateField}`);
  if (malformed !== undefined) return [...warnings, { kind: 'invalid', text: malformed }];
  const decision = shouldInject({ metadata: template.metadata ?? {}, spec: template.spec ?? { containers: [] } }, config);
  if (decision.inject || decision.reason !== 'invalid') return warnings;
  const errors = [...decision.errors].sort((a, b) => a.annotation.localeCompare(b.annotation));
  return [...warnings, ...errors.map((error): WorkloadWarning => ({ kind: 'invalid', text: `${templateField}: its pods will be refused: ${formatAnnotationErrors([error])}` }))];
}

/**
 * The API server (k8s.io/apiserver pkg/endpoints/filters/warning.go) drops a warning
 * holding a control character, and once a response's warnings pass 4096 runes it cuts
 * each to 256 runes and drops the rest. Warnings that are each at most 256 runes, at most
 * 8 of them (half that budget, the rest left to other webhooks and deprecations), reach
 * kubectl whole and the same on every request.
 */
export const WARNING_MAX_RUNES = 256;
export const MAX_WARNINGS = 8;

function fitOne(text: string): string {
  const runes = [...text.replace(/\p{Cc}/gu, ' ')];
  return runes.length <= WARNING_MAX_RUNES ? runes.join('') : `${runes.slice(0, WARNING_MAX_RUNES - 1).join('')}…`;
}

export function fitAdmissionWarnings(texts: readonly string[]): string[] {
  const fitted = texts.map(fitOne);
  if (fitted.length <= MAX_WARNINGS) return fitted;
  const kept = fitted.slice(0, MAX_WARNINGS - 1);
  return [...kept, `…and ${fitted.length - kept.length} more problems; vault-courier render -f <manifest> prints them all`];
}
