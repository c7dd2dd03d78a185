/**
 * The MutatingWebhookConfiguration, as data: the integration tests register exactly this
 * document, and the chart renders the same one (charts/vault-courier/templates/
 * mutatingwebhookconfiguration.yaml). Defaults are argued in docs/adr/0002-failure-policy.md.
 */
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE } from '../contract/names.ts';

export const WEBHOOK_CONFIGURATION_NAME = 'vault-courier';
/** Appears in the API server's errors ("failed calling webhook ..."): says who refused. */
export const WEBHOOK_NAME = 'inject.vault-courier.io';
export const MUTATE_PATH = '/mutate';
export const DEFAULT_FAILURE_POLICY = 'Fail';
export const DEFAULT_TIMEOUT_SECONDS = 5;

/**
 * CEL: only pods carrying a `vault-courier.io/` annotation are sent to the webhook, so
 * every other pod of an opted-in namespace is admitted without waiting on it (or on its
 * outage), while a pod with a typo'd key still reaches it and is refused with the fix.
 */
export const MATCH_CONDITION_EXPRESSION = `has(object.metadata.annotations) && object.metadata.annotations.exists(k, k.startsWith('${ANNOTATION_PREFIX}'))`;

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

export function buildMutatingWebhookConfiguration(options: WebhookConfigurationOptions & WebhookTarget): V1MutatingWebhookConfiguration {
  const clientConfig =
    'url' in options
      ? { url: `${options.url.replace(/\/+$/, '')}${MUTATE_PATH}`, caBundle: options.caBundle }
      : { service: { name: options.service.name, namespace: options.service.namespace, port: options.service.port ?? 443, path: MUTATE_PATH }, caBundle: options.caBundle };
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
        namespaceSelector: {
          matchExpressions: [
            { key: NAMESPACE_LABEL, operator: 'In', values: [NAMESPACE_LABEL_VALUE] },
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set(['kube-system', options.namespace])] },
          ],
        },
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
