import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { shouldInject } from './decide.ts';
import { mutatePod } from './mutate.ts';
import { MINIMAL_CONFIG } from '../../../../test/helpers/fixture-config.ts';

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
  { name: 'status "injected" without the injected containers: refused, it would start without its secret', pod: pod({ ...secret, 'vault-courier.io/status': 'injected' }), expect: { inject: false, reason: 'invalid' } },
  { name: 'an init container named ours that delivers nothing: refused', pod: pod(secret, { initContainers: [{ name: 'vault-courier-init' }] }), expect: { inject: false, reason: 'invalid' } },
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

const injection = MINIMAL_CONFIG;

/** A pod as our webhook left it, then changed by a later webhook (the API server reinvokes ours). */
function injectedThen(change: (annotations: Record<string, string>) => void, annotations: Record<string, string> = { ...secret, 'vault-courier.io/format-db': 'env' }): V1Pod {
  const original = pod(annotations);
  const decision = shouldInject(original, config);
  assert.ok(decision.inject);
  const injected = mutatePod(original, decision.spec, injection);
  change(injected.metadata!.annotations!);
  return injected;
}

/** Reinvocation never drops a secret: the old rule admitted each of the refused rows unchanged. */
const REINVOKED: { name: string; pod: V1Pod; refused?: RegExp }[] = [
  { name: 'unchanged', pod: injectedThen(() => {}) },
  { name: 'a foreign annotation added', pod: injectedThen((a) => (a['example.com/x'] = 'y')) },
  { name: 'a secret-* added by a later webhook', pod: injectedThen((a) => (a['vault-courier.io/secret-cache'] = 'secret/data/cache')), refused: /vault-courier\.io\/secret-cache was added after vault-courier injected this pod .*would start without that secret; .*put the annotation in the pod template/ },
  { name: "a secret's path changed", pod: injectedThen((a) => (a['vault-courier.io/secret-db'] = 'database/creds/other')), refused: /vault-courier\.io\/secret-db \(or its vault-courier\.io\/format-db or vault-courier\.io\/template-db\) changed after/ },
  { name: "a secret's format changed", pod: injectedThen((a) => (a['vault-courier.io/format-db'] = 'json')), refused: /vault-courier\.io\/secret-db \(or its vault-courier\.io\/format-db or vault-courier\.io\/template-db\) changed after/ },
  { name: 'the role changed', pod: injectedThen((a) => (a['vault-courier.io/role'] = 'other')), refused: /vault-courier\.io\/role changed after vault-courier injected this pod \(the init container logs in as "app"\)/ },
  { name: 'a template added in place of the format', pod: injectedThen((a) => { delete a['vault-courier.io/format-db']; a['vault-courier.io/template-db'] = '{{password}}'; }), refused: /vault-courier\.io\/secret-db \(or its vault-courier\.io\/format-db or vault-courier\.io\/template-db\) changed after/ },
  { name: 'a Vault namespace added', pod: injectedThen((a) => (a['vault-courier.io/namespace'] = 'team-a')), refused: /vault-courier\.io\/namespace changed after vault-courier injected this pod \(the init container uses no namespace\)/ },
  { name: 'the mount path changed', pod: injectedThen((a) => (a['vault-courier.io/mount-path'] = '/etc/secrets')), refused: /vault-courier\.io\/mount-path changed after/ },
  { name: 'an invalid annotation added', pod: injectedThen((a) => (a['vault-courier.io/secret-x'] = 'secret/data/x?version=2')), refused: /vault-courier\.io\/secret-x contains "\?"/ },
  { name: 'a secret removed (still delivered: nothing dropped)', pod: injectedThen((a) => delete a['vault-courier.io/secret-cfg'], { ...secret, 'vault-courier.io/secret-cfg': 'secret/data/cfg' }) },
];

for (const row of REINVOKED) {
  test(`shouldInject on an injected pod: ${row.name}`, () => {
    const decision = shouldInject(row.pod, config);
    assert.equal(decision.inject, false);
    if (row.refused === undefined) {
      assert.equal(decision.inject === false && decision.reason, 'already-injected');
    } else {
      assert.ok(!decision.inject && decision.reason === 'invalid', `expected a refusal, got ${decision.inject ? 'inject' : decision.reason}`);
      assert.match(decision.errors.map((e) => e.message).join('; '), row.refused);
    }
  });
}
