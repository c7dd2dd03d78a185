import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { shouldInject } from './decide.ts';

function pod(annotations: Record<string, string> | undefined, extra: Partial<NonNullable<V1Pod['spec']>> = {}): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', ...(annotations ? { annotations } : {}) }, spec: { containers: [{ name: 'app', image: 'app:1' }], ...extra } };
}

const config = { defaultRole: 'app' };
const secret = { 'vault-courier.io/secret-db': 'database/creds/app' };

const table: { name: string; pod: V1Pod; expect: { inject: boolean; reason?: string } }[] = [
  { name: 'no annotations at all', pod: pod(undefined), expect: { inject: false, reason: 'no-annotations' } },
  { name: 'only foreign annotations', pod: pod({ 'example.com/x': 'y' }), expect: { inject: false, reason: 'no-annotations' } },
  { name: 'a secret is requested', pod: pod(secret), expect: { inject: true } },
  { name: 'opted out', pod: pod({ ...secret, 'vault-courier.io/inject': 'false' }), expect: { inject: false, reason: 'opted-out' } },
  { name: 'opted out even with a typo elsewhere', pod: pod({ 'vault-courier.io/secert-db': 'x', 'vault-courier.io/inject': 'false' }), expect: { inject: false, reason: 'opted-out' } },
  { name: 'inject "true" changes nothing', pod: pod({ ...secret, 'vault-courier.io/inject': 'true' }), expect: { inject: true } },
  { name: 'already injected (status)', pod: pod({ ...secret, 'vault-courier.io/status': 'injected' }), expect: { inject: false, reason: 'already-injected' } },
  { name: 'already injected (container present)', pod: pod(secret, { initContainers: [{ name: 'vault-courier-init' }] }), expect: { inject: false, reason: 'already-injected' } },
  { name: 'courier annotations but no secret', pod: pod({ 'vault-courier.io/rotate': 'false' }), expect: { inject: false, reason: 'no-secrets' } },
  { name: 'a typo is refused, not skipped', pod: pod({ 'vault-courier.io/secert-db': 'x/y' }), expect: { inject: false, reason: 'invalid' } },
  { name: 'our volume name taken', pod: pod(secret, { volumes: [{ name: 'vault-courier-secrets', emptyDir: {} }] }), expect: { inject: false, reason: 'invalid' } },
  {
    name: 'mount path already used by a target container',
    pod: pod(secret, { containers: [{ name: 'app', volumeMounts: [{ name: 'cfg', mountPath: '/vault/secrets' }] }], volumes: [{ name: 'cfg', emptyDir: {} }] }),
    expect: { inject: false, reason: 'invalid' },
  },
  {
    name: 'mount path used only by a container that is not a target',
    pod: pod({ ...secret, 'vault-courier.io/containers': 'app' }, { containers: [{ name: 'app' }, { name: 'other', volumeMounts: [{ name: 'cfg', mountPath: '/vault/secrets' }] }], volumes: [{ name: 'cfg', emptyDir: {} }] }),
    expect: { inject: true },
  },
];

for (const c of table) {
  test(`shouldInject: ${c.name}`, () => {
    const decision = shouldInject(c.pod, config);
    assert.equal(decision.inject, c.expect.inject);
    if (!decision.inject) assert.equal(decision.reason, c.expect.reason);
  });
}

test('an invalid decision carries every error with the annotation named', () => {
  const decision = shouldInject(pod({ 'vault-courier.io/secert-db': 'x/y', 'vault-courier.io/mount-path': 'rel' }), config);
  assert.ok(!decision.inject && decision.reason === 'invalid');
  assert.deepEqual(decision.errors.map((e) => e.annotation).sort(), ['vault-courier.io/mount-path', 'vault-courier.io/secert-db']);
});

test('the conflict error names the container and the fix', () => {
  const decision = shouldInject(pod(secret, { containers: [{ name: 'app', volumeMounts: [{ name: 'cfg', mountPath: '/vault/secrets' }] }] }), config);
  assert.ok(!decision.inject && decision.reason === 'invalid');
  assert.match(decision.errors[0]?.message ?? '', /"\/vault\/secrets" is already a mount point of container "app".*choose another vault-courier\.io\/mount-path/);
});
