/**
 * The webhook registrations, as data: the MutatingWebhookConfiguration (inject pods) and
 * the warn-only ValidatingWebhookConfiguration (warn about workloads). The integration
 * tests register exactly these documents, and the chart renders the same ones (charts/
 * vault-courier/templates/mutatingwebhookconfiguration.yaml). Defaults are argued in
 * docs/adr/0002-failure-policy.md; the warn-only registration in docs/contract.md.
 */
import type { AdmissionregistrationV1WebhookClientConfig, V1LabelSelector, V1MutatingWebhookConfiguration, V1RuleWithOperations, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE } from '../contract/names.ts';
import { WORKLOAD_KINDS } from './workloads.ts';

export const WEBHOOK_CONFIGURATION_NAME = 'vault-courier';
/** Appears in the API server's errors ("failed calling webhook ..."): says who refused. */
export const WEBHOOK_NAME = 'inject.vault-courier.io';
export const MUTATE_PATH = '/mutate';
/** The warn-only webhook: answers every workload review `allowed: true`, with warnings. */
export const WARN_WEBHOOK_NAME = 'warn.vault-courier.io';
export const WARN_PATH = '/warn';
export const DEFAULT_FAILURE_POLICY = 'Fail';
export const DEFAULT_TIMEOUT_SECONDS = 5;

/**
 * CEL: only pods carrying a `vault-courier.io/` annotation are sent to the webhook, so
 * every other pod of an opted-in namespace is admitted without waiting on it (or on its
 * outage), while a pod with a typo'd key still reaches it and is refused with the fix.
 */
export const MATCH_CONDITION_EXPRESSION = `has(object.metadata.annotations) && object.metadata.annotations.exists(k, k.startsWith('${ANNOTATION_PREFIX}'))`;

/** Both `vault-courier.io/` keys on the workload itself and on its pod template warrant a warning. */
function annotatedAt(path: readonly string[]): string {
  const steps = [...path, 'metadata', 'annotations'];
  // Field by field: on an object without the field, has() is false where access would be an error.
  const present = steps.map((_, i) => `has(object.${steps.slice(0, i + 1).join('.')})`);
  return [...present, `object.${steps.join('.')}.exists(k, k.startsWith('${ANNOTATION_PREFIX}'))`].join(' && ');
}

const TEMPLATE_PATHS = [...new Map(Object.values(WORKLOAD_KINDS).map((k) => [k.templatePath.join('.'), k.templatePath])).values()];

/** CEL: a workload whose metadata or pod template carries a `vault-courier.io/` annotation. */
export const WARN_MATCH_CONDITION_EXPRESSION = [[], ...TEMPLATE_PATHS].map((path) => `(${annotatedAt(path)})`).join(' || ');

/**
 * CEL: not created or updated by a controller (a Deployment's ReplicaSets, a CronJob's
 * Jobs): whoever applied the owner was warned, and a warning sent to a controller is read
 * by no one.
 */
export const NOT_CONTROLLED_EXPRESSION = '!has(object.metadata.ownerReferences) || !object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller)';

export type WebhookTarget =
  | { readonly url: string }
  | { readonly service: { readonly name: string; readonly namespace: string; readonly port?: number } };

export interface WebhookConfigurationOptions {
  /** Base64 of the PEM CA bundle that signs the webhook's serving certificate. */
  readonly caBundle: string;
  /** The namespace the webhook runs in: excluded, so it never blocks its own pods. */
  readonly namespace: string;
  readonly failurePolicy?: 'Fail' | 'Ignore';
  readonly timeoutSeconds?: number;
  readonly name?: string;
}

function clientConfigOf(options: WebhookConfigurationOptions & WebhookTarget, path: string): AdmissionregistrationV1WebhookClientConfig {
  return 'url' in options
    ? { url: `${options.url.replace(/\/+$/, '')}${path}`, caBundle: options.caBundle }
    : { service: { name: options.service.name, namespace: options.service.namespace, port: options.service.port ?? 443, path }, caBundle: options.caBundle };
}

/** Opted-in namespaces, never kube-system nor the webhook's own. */
function optedInNamespaces(namespace: string): V1LabelSelector {
  return {
    matchExpressions: [
      { key: NAMESPACE_LABEL, operator: 'In', values: [NAMESPACE_LABEL_VALUE] },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set(['kube-system', namespace])] },
    ],
  };
}

/** One rule per API group, its resources in WORKLOAD_KINDS order. */
function workloadRules(): V1RuleWithOperations[] {
  const groups = new Map<string, string[]>();
  for (const kind of Object.values(WORKLOAD_KINDS)) groups.set(kind.group, [...(groups.get(kind.group) ?? []), kind.resource]);
  return [...groups].map(([group, resources]) => ({ apiGroups: [group], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources, scope: 'Namespaced' }));
}

export function buildMutatingWebhookConfiguration(options: WebhookConfigurationOptions & WebhookTarget): V1MutatingWebhookConfiguration {
  const clientConfig = clientConfigOf(options, MUTATE_PATH);
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: options.name ?? WEBHOOK_CONFIGURATION_NAME, labels: { 'app.kubernetes.io/name': 'vault-courier' } },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig,
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
        namespaceSelector: optedInNamespaces(options.namespace),
        matchConditions: [{ name: 'has-vault-courier-annotations', expression: MATCH_CONDITION_EXPRESSION }],
        sideEffects: 'None',
        // A later webhook (a policy engine setting defaults) may add vault-courier
        // annotations after ours ran: run again to honour them. The status annotation keeps
        // a pod that was already injected from being injected twice.
        reinvocationPolicy: 'IfNeeded',
        failurePolicy: options.failurePolicy ?? DEFAULT_FAILURE_POLICY,
        timeoutSeconds: options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        matchPolicy: 'Equivalent',
      },
    ],
  };
}

/**
 * The warn-only registration: validating, so it sees each workload as it will be stored
 * (after every mutating webhook, a policy engine's defaults included) and cannot change it;
 * failurePolicy Ignore whatever the pod webhook's, because a warning is never worth a
 * failed apply. `failurePolicy` in the options is not read.
 */
export function buildValidatingWebhookConfiguration(options: WebhookConfigurationOptions & WebhookTarget): V1ValidatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: options.name ?? WEBHOOK_CONFIGURATION_NAME, labels: { 'app.kubernetes.io/name': 'vault-courier' } },
    webhooks: [
      {
        name: WARN_WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: clientConfigOf(options, WARN_PATH),
        rules: workloadRules(),
        namespaceSelector: optedInNamespaces(options.namespace),
        matchConditions: [
          { name: 'has-vault-courier-annotations', expression: WARN_MATCH_CONDITION_EXPRESSION },
          { name: 'not-controlled', expression: NOT_CONTROLLED_EXPRESSION },
        ],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
        timeoutSeconds: options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        matchPolicy: 'Equivalent',
      },
    ],
  };
}
