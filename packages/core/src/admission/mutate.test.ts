import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { InjectionSpec } from '../contract/annotations.ts';
import { DEFAULT_INIT_RESOURCES, DEFAULT_SIDECAR_RESOURCES } from '../contract/config.ts';
import type { InjectionConfig } from '../contract/config.ts';
import { fsGroupToAdd, mountIntoLateContainers, mutatePod, podFacts } from './mutate.ts';
import { applyJsonPatch, toJsonPatch } from './patch.ts';
import { INJECTED_ENV } from '../contract/names.ts';

const config: InjectionConfig = {
  vaultAddr: 'https://vault.example:8200',
  vaultCaPem: '-----BEGIN CERTIFICATE-----\nVAULTCA\n-----END CERTIFICATE-----\n',
  authPath: 'auth/kubernetes',
  defaultRole: 'app',
  initImage: 'ghcr.io/vault-courier/init:1',
  sidecarImage: 'ghcr.io/vault-courier/sidecar:1',
  serviceUrl: 'https://vault-courier.vault-courier.svc',
  serviceCaPem: '-----BEGIN CERTIFICATE-----\nSVCCA\n-----END CERTIFICATE-----\n',
  initResources: DEFAULT_INIT_RESOURCES,
  sidecarResources: DEFAULT_SIDECAR_RESOURCES,
};

const spec: InjectionSpec = {
  secrets: [{ name: 'db', path: 'database/creds/app', format: { kind: 'env' } }],
  role: 'app',
  mountPath: '/vault/secrets',
  containers: undefined,
  rotate: true,
};

function basePod(): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-', namespace: 'ns', annotations: { 'vault-courier.io/secret-db': 'database/creds/app' } },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  };
}

/** The pod the API server would store: the patch applied to the original. */
function applied(pod: V1Pod, s: InjectionSpec = spec): V1Pod {
  const mutated = mutatePod(pod, s, config);
  const result = applyJsonPatch(pod, toJsonPatch(pod, mutated));
  assert.deepEqual(result, mutated, 'the applied patch must give exactly the mutated pod');
  return result;
}

/** The pod's spec, asserted present: keeps the tests free of optional chains. */
function specOf(pod: V1Pod): NonNullable<V1Pod['spec']> {
  assert.ok(pod.spec);
  return pod.spec;
}

function initOf(pod: V1Pod): V1Container[] {
  return specOf(pod).initContainers ?? [];
}

function envOf(c: V1Container | undefined): Record<string, string | undefined> {
  return Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value ?? `fieldRef:${e.valueFrom?.fieldRef?.fieldPath}`]));
}

test('a pod with no volumes gets all four volumes (the vault-k8s double-add bug)', () => {
  const [secrets, state, token, evictToken, ...rest] = specOf(applied(basePod())).volumes ?? [];
  assert.equal(rest.length, 0);
  assert.deepEqual([secrets!.name, state!.name, token!.name, evictToken!.name], ['vault-courier-secrets', 'vault-courier-state', 'vault-courier-token', 'vault-courier-evict-token']);
  assert.deepEqual(secrets!.emptyDir, { medium: 'Memory' });
  assert.deepEqual(state!.emptyDir, { medium: 'Memory' });
  // One audience per volume, so each container mounts only the token it uses.
  assert.deepEqual(token!.projected!.sources!.map((s) => s.serviceAccountToken), [{ audience: 'vault', path: 'vault', expirationSeconds: 3600 }]);
  assert.deepEqual(evictToken!.projected!.sources!.map((s) => s.serviceAccountToken), [{ audience: 'vault-courier', path: 'vault-courier', expirationSeconds: 3600 }]);
});

test('each injected container mounts only the token audience it uses: init `vault`, the sidecar `vault-courier`', () => {
  const pod = applied(basePod());
  const audiences = (c: V1Container | undefined): string[] => {
    const mounted = new Set((c?.volumeMounts ?? []).map((m) => m.name));
    return (specOf(pod).volumes ?? []).filter((v) => mounted.has(v.name)).flatMap((v) => (v.projected?.sources ?? []).map((s) => s.serviceAccountToken?.audience ?? ''));
  };
  const [init, sidecar] = initOf(pod);
  assert.deepEqual(audiences(init), ['vault']);
  assert.deepEqual(audiences(sidecar), ['vault-courier']);
  assert.deepEqual(audiences(specOf(pod).containers[0]), [], 'the application gets no token');
  // Each container is told only where its own token is.
  assert.equal(envOf(init)[INJECTED_ENV.evictJwtPath], undefined);
  assert.equal(envOf(sidecar)[INJECTED_ENV.vaultJwtPath], undefined);
});

test('the original pod is not modified', () => {
  const pod = basePod();
  const before = structuredClone(pod);
  mutatePod(pod, spec, config);
  assert.deepEqual(pod, before);
});

test('init first, sidecar right after, then the pod\'s own init containers; existing volumes kept', () => {
  const original = basePod();
  original.spec = { ...original.spec!, initContainers: [{ name: 'migrate', image: 'm:1' }], volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }] };
  const pod = applied(original);
  const [init, sidecar, migrate] = initOf(pod);
  assert.deepEqual(initOf(pod).map((c) => c.name), ['vault-courier-init', 'vault-courier-sidecar', 'migrate']);
  assert.equal(sidecar!.restartPolicy, 'Always');
  assert.equal(init!.restartPolicy, undefined);
  assert.deepEqual((specOf(pod).volumes ?? []).map((v) => v.name), ['cfg', 'vault-courier-secrets', 'vault-courier-state', 'vault-courier-token', 'vault-courier-evict-token']);
  // The pod's own init container reads the secrets too.
  assert.deepEqual(migrate!.volumeMounts, [{ name: 'vault-courier-secrets', mountPath: '/vault/secrets', readOnly: true }]);
  assert.equal(pod.metadata!.annotations!['vault-courier.io/status'], 'injected');
});

test('a pod without containers (admission runs before validation) is injected, not a TypeError; the API server then names spec.containers', () => {
  const original = basePod();
  original.spec = {} as V1Pod['spec'];
  const pod = applied(original);
  assert.deepEqual(initOf(pod).map((c) => c.name), ['vault-courier-init', 'vault-courier-sidecar']);
  assert.equal(specOf(pod).containers, undefined);
});

test('the secrets volume goes read-only into the selected containers only; token and state only into ours', () => {
  const original = basePod();
  original.spec = { containers: [{ name: 'app', volumeMounts: [{ name: 'x', mountPath: '/x' }] }, { name: 'proxy' }], volumes: [{ name: 'x', emptyDir: {} }] };
  const pod = applied(original, { ...spec, containers: ['app'], mountPath: '/etc/creds' });
  const [app, proxy] = specOf(pod).containers;
  assert.deepEqual(app!.volumeMounts, [{ name: 'x', mountPath: '/x' }, { name: 'vault-courier-secrets', mountPath: '/etc/creds', readOnly: true }]);
  assert.equal(proxy!.volumeMounts, undefined);
  const [init, sidecar] = initOf(pod);
  assert.deepEqual((init!.volumeMounts ?? []).map((m) => [m.name, m.mountPath, m.readOnly ?? false]), [
    ['vault-courier-secrets', '/etc/creds', false],
    ['vault-courier-state', '/vault-courier/state', false],
    ['vault-courier-token', '/vault-courier/token', true],
  ]);
  assert.deepEqual((sidecar!.volumeMounts ?? []).map((m) => [m.name, m.mountPath, m.readOnly ?? false]), [
    ['vault-courier-state', '/vault-courier/state', false],
    ['vault-courier-evict-token', '/vault-courier/token', true],
  ]);
});

test('the injected env is the contract the init container and sidecar read', () => {
  const original = basePod();
  original.metadata!.ownerReferences = [
    { apiVersion: 'v1', kind: 'Other', name: 'o', uid: 'u0' },
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u1', controller: true },
  ];
  original.spec!.terminationGracePeriodSeconds = 45;
  const pod = applied(original, { ...spec, rotate: false });
  const [init, sidecar] = pod.spec?.initContainers ?? [];
  const common = {
    [INJECTED_ENV.vaultAddr]: 'https://vault.example:8200',
    [INJECTED_ENV.authPath]: 'auth/kubernetes',
    [INJECTED_ENV.role]: 'app',
    [INJECTED_ENV.secrets]: JSON.stringify([{ name: 'db', path: 'database/creds/app', format: { kind: 'env' } }]),
    [INJECTED_ENV.secretsDir]: '/vault/secrets',
    [INJECTED_ENV.stateDir]: '/vault-courier/state',
    [INJECTED_ENV.podName]: 'fieldRef:metadata.name',
    [INJECTED_ENV.podNamespace]: 'fieldRef:metadata.namespace',
    [INJECTED_ENV.podUid]: 'fieldRef:metadata.uid',
    [INJECTED_ENV.serviceUrl]: 'https://vault-courier.vault-courier.svc',
    [INJECTED_ENV.ownerKind]: 'ReplicaSet',
    [INJECTED_ENV.rotate]: 'false',
    [INJECTED_ENV.rotateReason]: 'vault-courier.io/rotate is "false"',
    [INJECTED_ENV.gracePeriodSeconds]: '45',
    [INJECTED_ENV.vaultCaPem]: config.vaultCaPem,
    [INJECTED_ENV.serviceCaPem]: config.serviceCaPem,
  };
  assert.deepEqual(envOf(init), { ...common, [INJECTED_ENV.vaultJwtPath]: '/vault-courier/token/vault' });
  assert.deepEqual(envOf(sidecar), { ...common, [INJECTED_ENV.evictJwtPath]: '/vault-courier/token/vault-courier' });
  assert.deepEqual(pod.spec?.initContainers?.[0]?.command, ['node', '--snapshot-blob', '/app/init.blob']);
  assert.deepEqual(pod.spec?.initContainers?.[1]?.command, ['node', '--lite-mode', '/app/sidecar.mjs']);
});

test('podFacts: no controller owner, default grace period, the images\' user', () => {
  assert.deepEqual(podFacts(basePod()), { ownerKind: '', ownerApiVersion: '', gracePeriodSeconds: 30, runAsUser: 65532, runAsGroup: 65532 });
});

test('podFacts: the injected containers run as the pod\'s non-root uid, never as root', () => {
  const withUser = (securityContext: object): V1Pod => ({ ...basePod(), spec: { containers: [{ name: 'app' }], securityContext } });
  assert.deepEqual(podFacts(withUser({ runAsUser: 1000, runAsGroup: 3000 })), { ownerKind: '', ownerApiVersion: '', gracePeriodSeconds: 30, runAsUser: 1000, runAsGroup: 3000 });
  assert.deepEqual(podFacts(withUser({ runAsUser: 1000 })), { ownerKind: '', ownerApiVersion: '', gracePeriodSeconds: 30, runAsUser: 1000, runAsGroup: 1000 });
  assert.deepEqual(podFacts(withUser({ runAsUser: 0, runAsGroup: 0 })), { ownerKind: '', ownerApiVersion: '', gracePeriodSeconds: 30, runAsUser: 65532, runAsGroup: 65532 });
});

test('injected containers satisfy Pod Security Standard "restricted" and carry resources', () => {
  const pod = applied(basePod());
  for (const c of initOf(pod)) {
    const sc = c.securityContext!;
    assert.equal(sc.runAsNonRoot, true, c.name);
    assert.ok(sc.runAsUser! > 0, c.name);
    assert.equal(sc.allowPrivilegeEscalation, false, c.name);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, c.name);
    assert.equal(sc.seccompProfile!.type, 'RuntimeDefault', c.name);
    assert.equal(sc.privileged, false, c.name);
    assert.ok(c.resources!.requests!.memory && c.resources!.limits!.memory, c.name);
  }
});

test('reinvocation: a container added after injection gets the mount; nothing else changes', () => {
  const injected = mutatePod(basePod(), spec, config);
  assert.equal(mountIntoLateContainers(injected, config), undefined, 'nothing to add right after injection');
  injected.spec!.containers.push({ name: 'late', image: 'proxy:1' });
  const completed = mountIntoLateContainers(injected, config);
  assert.ok(completed);
  const result = applyJsonPatch(injected, toJsonPatch(injected, completed));
  assert.deepEqual(result.spec?.initContainers?.map((c) => c.name), ['vault-courier-init', 'vault-courier-sidecar']);
  assert.deepEqual(result.spec?.containers[1]?.volumeMounts, [{ name: 'vault-courier-secrets', mountPath: '/vault/secrets', readOnly: true }]);
  assert.equal(result.spec?.volumes?.length, 4);
});

test('reinvocation: a late container outside vault-courier.io/containers is left alone', () => {
  const original = basePod();
  original.metadata!.annotations!['vault-courier.io/containers'] = 'app';
  const injected = mutatePod(original, { ...spec, containers: ['app'] }, config);
  injected.spec!.containers.push({ name: 'late' });
  assert.equal(mountIntoLateContainers(injected, config), undefined);
});

test('fsGroup: added where the application could not read the files otherwise, never over a user\'s data', () => {
  const withSpec = (extra: Partial<NonNullable<V1Pod['spec']>>): V1Pod => ({ ...basePod(), spec: { containers: [{ name: 'app', image: 'app:1' }], ...extra } });
  const cases: Array<{ name: string; pod: V1Pod; want: number | undefined }> = [
    { name: 'no securityContext, no volumes: the injected containers\' group', pod: basePod(), want: 65532 },
    { name: 'pod-level runAsGroup: that group', pod: withSpec({ securityContext: { runAsUser: 1000, runAsGroup: 3000 } }), want: 3000 },
    { name: 'pod-local volumes only', pod: withSpec({ volumes: [{ name: 'cache', emptyDir: {} }, { name: 'cfg', configMap: { name: 'c' } }, { name: 'p', projected: { sources: [] } }] }), want: 65532 },
    { name: 'the pod sets fsGroup: kept as it is', pod: withSpec({ securityContext: { fsGroup: 2000 } }), want: undefined },
    { name: 'a PersistentVolumeClaim: not chowned behind the user\'s back', pod: withSpec({ volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'd' } }] }), want: undefined },
    { name: 'a hostPath: left alone', pod: withSpec({ volumes: [{ name: 'h', hostPath: { path: '/x' } }] }), want: undefined },
  ];
  for (const c of cases) {
    assert.equal(fsGroupToAdd(c.pod, podFacts(c.pod)), c.want, c.name);
    assert.equal(specOf(applied(c.pod)).securityContext?.fsGroup, c.want ?? c.pod.spec?.securityContext?.fsGroup, `${c.name} (applied)`);
  }
  // The rest of an existing securityContext survives.
  assert.deepEqual(specOf(applied(withSpec({ securityContext: { runAsUser: 1000, runAsNonRoot: true } }))).securityContext, { runAsUser: 1000, runAsNonRoot: true, fsGroup: 1000 });
});

const ownedBy = (apiVersion: string, kind: string): V1Pod => ({ ...basePod(), metadata: { ...basePod().metadata, ownerReferences: [{ apiVersion, kind, name: 'o', uid: 'u', controller: true }] } });

test('the sidecar is told whether to evict: the allowlist decided at admission, with VAULT_COURIER_EVICT_OWNER_KINDS', () => {
  const rows: { pod: V1Pod; kinds?: InjectionConfig['evictOwnerKinds']; rotate: string }[] = [
    { pod: ownedBy('apps/v1', 'ReplicaSet'), rotate: 'true' },
    { pod: ownedBy('batch/v1', 'Job'), rotate: 'false' },
    { pod: basePod(), rotate: 'false' },
    { pod: ownedBy('argoproj.io/v1alpha1', 'Workflow'), rotate: 'false' },
    { pod: ownedBy('argoproj.io/v1alpha1', 'Rollout'), rotate: 'false' },
    { pod: ownedBy('argoproj.io/v1alpha1', 'Rollout'), kinds: [{ group: 'argoproj.io', kind: 'Rollout' }], rotate: 'true' },
  ];
  for (const row of rows) {
    const pod = mutatePod(row.pod, spec, { ...config, evictOwnerKinds: row.kinds });
    const env = envOf(initOf(pod)[1]);
    assert.equal(env[INJECTED_ENV.rotate], row.rotate, `${row.pod.metadata?.ownerReferences?.[0]?.kind ?? 'no owner'}: ${env[INJECTED_ENV.rotateReason]}`);
    assert.ok((env[INJECTED_ENV.rotateReason] ?? '') !== '');
  }
});
