import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { expandReferences, fieldPathValue, mapContainerPath, planPod, type PlanContext } from './pod-plan.ts';

const context: PlanContext = {
  images: { 'app:1': { argv: ['/bin/node', '/repo/app.ts'] }, 'init:1': { argv: ['/bin/node', '/repo/init.ts'], entrypoint: ['node', '/app/init.mjs'] } },
  podDir: '/work/pods/p1',
  nodeName: 'runner',
  hostIP: '127.0.0.1',
  baseEnv: { PATH: '/usr/bin' },
};

const pod = (spec: V1Pod['spec']): V1Pod => ({ metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', labels: { app: 'web' } }, spec });

test('mapContainerPath: the longest mount wins; paths outside every mount and relative values are unchanged', () => {
  const mounts = [
    { mountPath: '/vault', hostPath: '/h/a' },
    { mountPath: '/vault/secrets/', hostPath: '/h/b' },
  ];
  const cases: [string, string][] = [
    ['/vault/secrets', '/h/b'],
    ['/vault/secrets/db', '/h/b/db'],
    ['/vault/other', '/h/a/other'],
    ['/vaulted', '/vaulted'],
    ['database/creds/app', 'database/creds/app'],
    ['/etc/passwd', '/etc/passwd'],
  ];
  for (const [input, want] of cases) assert.equal(mapContainerPath(mounts, input), want, input);
});

test('expandReferences: $(VAR) of earlier variables, $$ escapes, unknown references stay', () => {
  assert.equal(expandReferences('$(A)/x', { A: '/a' }), '/a/x');
  assert.equal(expandReferences('$$(A)', { A: '/a' }), '$(A)');
  assert.equal(expandReferences('$(B)', { A: '/a' }), '$(B)');
});

test('fieldPathValue: the downward API fields a kubelet resolves', () => {
  const p = pod({ containers: [], serviceAccountName: 'sa' });
  p.metadata = { ...p.metadata, annotations: { 'a.io/x': 'y' } };
  const cases: [string, string][] = [
    ['metadata.name', 'web-1'],
    ['metadata.namespace', 'shop'],
    ['metadata.uid', 'u-1'],
    ["metadata.labels['app']", 'web'],
    ["metadata.annotations['a.io/x']", 'y'],
    ['spec.nodeName', 'runner'],
    ['spec.serviceAccountName', 'sa'],
    ['status.podIP', '127.0.0.1'],
  ];
  for (const [field, want] of cases) assert.deepEqual(fieldPathValue(p, field, context), { ok: true, value: want }, field);
  assert.equal(fieldPathValue(p, 'spec.priority', context).ok, false);
});

test('planPod: init containers and sidecars in order, then apps; env resolved with container paths mapped', () => {
  const plan = planPod(
    pod({
      volumes: [
        { name: 'secrets', emptyDir: { medium: 'Memory' } },
        { name: 'token', projected: { sources: [{ serviceAccountToken: { audience: 'vault', path: 'vault', expirationSeconds: 600 } }] } },
      ],
      initContainers: [
        { name: 'init', image: 'init:1', command: ['node', '/app/init.mjs'], env: [{ name: 'OUT', value: '/vault/secrets' }], volumeMounts: [{ name: 'secrets', mountPath: '/vault/secrets' }] },
        { name: 'side', image: 'app:1', restartPolicy: 'Always', env: [{ name: 'JWT', value: '/t/vault' }, { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], volumeMounts: [{ name: 'token', mountPath: '/t' }] },
      ],
      containers: [{ name: 'app', image: 'app:1', args: ['--dir', '$(DIR)'], env: [{ name: 'DIR', value: '/vault/secrets' }], volumeMounts: [{ name: 'secrets', mountPath: '/vault/secrets', readOnly: true }] }],
    }),
    context,
  );
  assert.deepEqual(plan.problems, []);
  assert.deepEqual(
    plan.containers.map((c) => [c.name, c.kind]),
    [
      ['init', 'init'],
      ['side', 'sidecar'],
      ['app', 'app'],
    ],
  );
  const [init, side, app] = plan.containers;
  assert.equal(init?.env.OUT, '/work/pods/p1/volumes/secrets');
  assert.deepEqual(init?.argv, ['/bin/node', '/repo/init.ts'], 'the image entrypoint named in command runs the local stand-in');
  assert.equal(side?.env.JWT, '/work/pods/p1/volumes/token/vault');
  assert.equal(side?.env.POD, 'web-1');
  assert.equal(side?.env.PATH, '/usr/bin');
  assert.deepEqual(app?.argv, ['/bin/node', '/repo/app.ts', '--dir', '/work/pods/p1/volumes/secrets']);
  assert.deepEqual(plan.volumes[1], {
    kind: 'projected',
    name: 'token',
    hostDir: '/work/pods/p1/volumes/token',
    files: [{ kind: 'token', path: 'vault', audience: 'vault', expirationSeconds: 600, mode: 0o644 }],
  });
});

test('planPod: what cannot run becomes a waiting reason naming the fix, per container', () => {
  const plan = planPod(
    pod({
      volumes: [{ name: 'host', hostPath: { path: '/etc' } }],
      containers: [
        { name: 'nginx', image: 'nginx:1.27' },
        { name: 'other-cmd', image: 'init:1', command: ['sh', '-c', 'true'] },
        { name: 'uses-host', image: 'app:1', volumeMounts: [{ name: 'host', mountPath: '/h' }] },
        { name: 'env-from', image: 'app:1', envFrom: [{ configMapRef: { name: 'x' } }] },
        { name: 'secret-ref', image: 'app:1', env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
      ],
    }),
    context,
  );
  assert.deepEqual(plan.containers, []);
  const expected: [string, string, RegExp][] = [
    ['nginx', 'ErrImageNeverPull', /^the process runner runs only app:1, init:1; image "nginx:1.27" is not one of them/],
    ['other-cmd', 'CreateContainerConfigError', /only through its own entrypoint/],
    ['uses-host', 'CreateContainerConfigError', /volume host: the process runner supports emptyDir and projected volumes only/],
    ['env-from', 'CreateContainerConfigError', /envFrom is not supported/],
    ['secret-ref', 'CreateContainerConfigError', /env P: only value and valueFrom.fieldRef/],
  ];
  assert.deepEqual(
    plan.problems.map((p) => p.container),
    expected.map(([name]) => name),
  );
  for (const [name, reason, message] of expected) {
    const problem = plan.problems.find((p) => p.container === name);
    assert.equal(problem?.reason, reason, name);
    assert.match(String(problem?.message), message, name);
  }
});
