import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMutatingWebhookConfiguration, MATCH_CONDITION_EXPRESSION } from './webhook-configuration.ts';

test('defaults: Fail, 5 s, v1 only, no side effects, reinvoked if needed, pods on CREATE', () => {
  const doc = buildMutatingWebhookConfiguration({ caBundle: 'Q0E=', namespace: 'vault-courier', service: { name: 'vault-courier', namespace: 'vault-courier' } });
  const hook = doc.webhooks![0]!;
  assert.equal(doc.metadata!.name, 'vault-courier');
  assert.equal(hook.name, 'inject.vault-courier.io');
  assert.equal(hook.failurePolicy, 'Fail');
  assert.equal(hook.timeoutSeconds, 5);
  assert.equal(hook.sideEffects, 'None');
  assert.equal(hook.reinvocationPolicy, 'IfNeeded');
  assert.deepEqual(hook.admissionReviewVersions, ['v1']);
  assert.deepEqual(hook.rules, [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
  assert.deepEqual(hook.clientConfig, { service: { name: 'vault-courier', namespace: 'vault-courier', port: 443, path: '/mutate' }, caBundle: 'Q0E=' });
  assert.deepEqual(hook.namespaceSelector!.matchExpressions, [
    { key: 'vault-courier.io/inject', operator: 'In', values: ['enabled'] },
    { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'vault-courier'] },
  ]);
  assert.deepEqual(hook.matchConditions, [{ name: 'has-vault-courier-annotations', expression: MATCH_CONDITION_EXPRESSION }]);
});

test('URL target and overrides', () => {
  const doc = buildMutatingWebhookConfiguration({ caBundle: 'Q0E=', namespace: 'kube-system', url: 'https://127.0.0.1:8443/', failurePolicy: 'Ignore', timeoutSeconds: 2, name: 'x' });
  const hook = doc.webhooks![0]!;
  assert.deepEqual(hook.clientConfig, { url: 'https://127.0.0.1:8443/mutate', caBundle: 'Q0E=' });
  assert.equal(hook.failurePolicy, 'Ignore');
  assert.equal(hook.timeoutSeconds, 2);
  assert.deepEqual(hook.namespaceSelector!.matchExpressions![1]!.values, ['kube-system']);
});

test('the match condition selects on the annotation prefix', () => {
  assert.equal(MATCH_CONDITION_EXPRESSION, "has(object.metadata.annotations) && object.metadata.annotations.exists(k, k.startsWith('vault-courier.io/'))");
});
