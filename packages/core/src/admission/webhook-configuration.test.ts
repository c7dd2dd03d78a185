import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMutatingWebhookConfiguration, buildValidatingWebhookConfiguration, MATCH_CONDITION_EXPRESSION, WARN_MATCH_CONDITION_EXPRESSION, WARN_WEBHOOK_NAME } from './webhook-configuration.ts';

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

test('the warn-only registration: validating, Ignore whatever is asked, the six workload kinds (and RCs) on CREATE and UPDATE, the same namespaces', () => {
  const options = { caBundle: 'Q0E=', namespace: 'vault-courier', service: { name: 'vault-courier', namespace: 'vault-courier' }, failurePolicy: 'Fail' as const };
  const doc = buildValidatingWebhookConfiguration(options);
  const hook = doc.webhooks![0]!;
  assert.equal(doc.kind, 'ValidatingWebhookConfiguration');
  assert.equal(doc.metadata!.name, 'vault-courier');
  assert.equal(hook.name, WARN_WEBHOOK_NAME);
  assert.equal(hook.failurePolicy, 'Ignore');
  assert.equal(hook.sideEffects, 'None');
  assert.equal(hook.timeoutSeconds, 5);
  assert.deepEqual(hook.clientConfig, { service: { name: 'vault-courier', namespace: 'vault-courier', port: 443, path: '/warn' }, caBundle: 'Q0E=' });
  assert.deepEqual(hook.rules, [
    { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'], scope: 'Namespaced' },
    { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs', 'cronjobs'], scope: 'Namespaced' },
    { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['replicationcontrollers'], scope: 'Namespaced' },
  ]);
  assert.deepEqual(hook.namespaceSelector, buildMutatingWebhookConfiguration(options).webhooks![0]!.namespaceSelector);
  assert.deepEqual(hook.matchConditions?.map((c) => c.name), ['has-vault-courier-annotations', 'not-controlled']);
  assert.deepEqual(buildValidatingWebhookConfiguration({ caBundle: 'Q0E=', namespace: 'vault-courier', url: 'https://127.0.0.1:1/' }).webhooks![0]!.clientConfig, { url: 'https://127.0.0.1:1/warn', caBundle: 'Q0E=' });
});

test('the warn match condition looks at the workload, its pod template and a CronJob\'s, each field guarded', () => {
  for (const path of ['object.metadata.annotations', 'object.spec.template.metadata.annotations', 'object.spec.jobTemplate.spec.template.metadata.annotations']) {
    assert.ok(WARN_MATCH_CONDITION_EXPRESSION.includes(`has(${path}) && ${path}.exists(k, k.startsWith('vault-courier.io/'))`), path);
  }
  assert.ok(WARN_MATCH_CONDITION_EXPRESSION.includes('has(object.spec) && has(object.spec.jobTemplate) && has(object.spec.jobTemplate.spec) && has(object.spec.jobTemplate.spec.template) &&'));
});
