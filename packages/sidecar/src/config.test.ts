import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INJECTED_ENV } from '@vault-courier/core/contract/names';
import { isCourierError } from '@vault-courier/core/support/errors';
import type { V1Pod } from '@kubernetes/client-node';
import { checkInjectionConfig, parseConfig, type InjectionConfig } from '@vault-courier/core/contract/config';
import { shouldInject } from '@vault-courier/core/admission/decide';
import { parseInitConfig, type InitConfig } from '@vault-courier/core/contract/init-config';
import { mutatePod } from '@vault-courier/core/admission/mutate';
import { INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME } from '@vault-courier/core/contract/names';
import { parseSidecarConfig, rotationMode, type SidecarConfig } from './config.ts';

const ENV = {
  [INJECTED_ENV.stateDir]: '/vault-courier/state',
  [INJECTED_ENV.evictJwtPath]: '/vault-courier/token/vault-courier',
  [INJECTED_ENV.serviceUrl]: 'https://vault-courier.vault-courier.svc:443',
  [INJECTED_ENV.vaultAddr]: 'https://vault.vault.svc:8200/',
  [INJECTED_ENV.podName]: 'api-1',
  [INJECTED_ENV.podNamespace]: 'shop',
  [INJECTED_ENV.podUid]: '0b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b',
  [INJECTED_ENV.rotate]: 'true',
  [INJECTED_ENV.ownerKind]: 'ReplicaSet',
  [INJECTED_ENV.gracePeriodSeconds]: '30',
};

test('parses the injected environment', () => {
  const c = parseSidecarConfig(ENV);
  assert.equal(c.vaultAddr, 'https://vault.vault.svc:8200');
  assert.equal(c.serviceUrl.href, 'https://vault-courier.vault-courier.svc/');
  assert.equal(c.gracePeriodSeconds, 30);
  assert.equal(c.rotate, true);
  assert.equal(c.serviceCaPem, undefined);
  assert.equal(c.logLevel, 'info');
});

test('reports every problem at once, naming each variable', () => {
  const env = { ...ENV, [INJECTED_ENV.stateDir]: 'relative', [INJECTED_ENV.podUid]: '', [INJECTED_ENV.rotate]: 'maybe', [INJECTED_ENV.gracePeriodSeconds]: '-1', [INJECTED_ENV.serviceUrl]: 'ftp://x', VAULT_COURIER_LOG_LEVEL: 'verbose' };
  const err = (() => {
    try {
      parseSidecarConfig(env);
    } catch (e) {
      return e;
    }
    return assert.fail('expected a config error');
  })();
  assert.ok(isCourierError(err, 'config'));
  for (const name of [INJECTED_ENV.stateDir, INJECTED_ENV.podUid, INJECTED_ENV.rotate, INJECTED_ENV.gracePeriodSeconds, INJECTED_ENV.serviceUrl, 'VAULT_COURIER_LOG_LEVEL']) {
    assert.match(err.message, new RegExp(name), `${name} not named`);
  }
});

const modes: { name: string; config: { rotate: boolean; ownerKind: string; rotateReason: string | undefined }; want: string }[] = [
  { name: 'the webhook decided evict', config: { rotate: true, ownerKind: 'Rollout', rotateReason: 'its controller argoproj.io/Rollout is named in VAULT_COURIER_EVICT_OWNER_KINDS' }, want: 'evict' },
  { name: 'the webhook decided warn', config: { rotate: false, ownerKind: 'Workflow', rotateReason: 'its controller argoproj.io/Workflow is not one vault-courier evicts' }, want: 'warn: its controller argoproj.io/Workflow is not one vault-courier evicts' },
  // Pods injected before the webhook wrote its reason: the same allowlist, by kind.
  { name: 'older pod: ReplicaSet', config: { rotate: true, ownerKind: 'ReplicaSet', rotateReason: undefined }, want: 'evict' },
  { name: 'older pod: StatefulSet', config: { rotate: true, ownerKind: 'StatefulSet', rotateReason: undefined }, want: 'evict' },
  { name: 'older pod: rotate "false"', config: { rotate: false, ownerKind: 'ReplicaSet', rotateReason: undefined }, want: 'warn: vault-courier.io/rotate is "false"' },
  { name: 'older pod: no owner', config: { rotate: true, ownerKind: '', rotateReason: undefined }, want: 'warn: no controller owns the pod, so nothing would recreate it' },
  { name: 'older pod: Job', config: { rotate: true, ownerKind: 'Job', rotateReason: undefined }, want: 'warn: a Job owns the pod, and evicting it would fail or restart the work' },
  { name: 'older pod: Workflow (evicted before the allowlist)', config: { rotate: true, ownerKind: 'Workflow', rotateReason: undefined }, want: 'warn: its controller Workflow is not one vault-courier evicts (add it to VAULT_COURIER_EVICT_OWNER_KINDS if it recreates evicted pods)' },
];

for (const m of modes) {
  test(`rotationMode: ${m.name} = ${m.want}`, () => {
    const r = rotationMode(m.config);
    assert.equal(r.mode === 'evict' ? 'evict' : `warn: ${r.why}`, m.want);
  });
}

// ---- Round trip: the webhook's configuration → the injected environment → init and sidecar parsers.

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const WEBHOOK_ENV = {
  VAULT_COURIER_TLS_CERT: '/tls/tls.crt',
  VAULT_COURIER_TLS_KEY: '/tls/tls.key',
  VAULT_COURIER_VAULT_ADDR: 'https://vault.vault.svc:8200',
  VAULT_COURIER_INIT_IMAGE: 'ghcr.io/vault-courier/init:0.1.0',
  VAULT_COURIER_SIDECAR_IMAGE: 'ghcr.io/vault-courier/sidecar:0.1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
  VAULT_COURIER_SERVICE_URL: 'https://vault-courier.vault-courier.svc:443/',
  VAULT_COURIER_DEFAULT_ROLE: 'app',
};

const POD: V1Pod = {
  metadata: {
    generateName: 'web-',
    namespace: 'shop',
    annotations: { 'vault-courier.io/secret-db': 'database/creds/app', 'vault-courier.io/secret-cfg': 'secret/data/app', 'vault-courier.io/format-cfg': 'env' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u1', controller: true }],
  },
  spec: { containers: [{ name: 'app', image: 'app:1' }] },
};

/** What the kubelet gives the container: values, and the downward API resolved. */
function containerEnv(pod: V1Pod, name: string): Record<string, string> {
  const container = pod.spec?.initContainers?.find((c) => c.name === name);
  assert.ok(container, `${name} not injected`);
  const fields: Record<string, string> = { 'metadata.name': 'web-abcde', 'metadata.namespace': 'shop', 'metadata.uid': '0b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b' };
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? fields[e.valueFrom?.fieldRef?.fieldPath ?? ''] ?? '']));
}

/** parseConfig, the CA files read (as server.ts does), then the pod mutated exactly as at admission. */
function inject(webhookEnv: Record<string, string>, pod: V1Pod = POD): V1Pod {
  const config = parseConfig(webhookEnv);
  const injection: InjectionConfig = {
    vaultAddr: config.vaultAddr,
    vaultCaPem: config.vaultCaCertFile === undefined ? undefined : PEM,
    authPath: config.authPath,
    defaultRole: config.defaultRole,
    defaultVaultNamespace: config.defaultVaultNamespace,
    initImage: config.initImage,
    sidecarImage: config.sidecarImage,
    serviceUrl: config.serviceUrl,
    serviceCaPem: config.serviceCaCertFile === undefined ? undefined : PEM,
    initResources: config.initResources,
    sidecarResources: config.sidecarResources,
    evictOwnerKinds: config.evictOwnerKinds,
  };
  assert.deepEqual(checkInjectionConfig(injection), []);
  const decision = shouldInject(pod, injection);
  assert.ok(decision.inject, 'the pod must be injected');
  return mutatePod(pod, decision.spec, injection);
}

const VALID: { name: string; env: Record<string, string>; pod?: V1Pod }[] = [
  { name: 'the minimal configuration', env: {} },
  { name: 'every optional value', env: { VAULT_COURIER_VAULT_CACERT: '/ca/vault.crt', VAULT_COURIER_SERVICE_CACERT: '/ca/svc.crt', VAULT_COURIER_AUTH_PATH: 'auth/k8s/cluster-1', VAULT_COURIER_LOG_LEVEL: 'debug', VAULT_COURIER_EVICT_OWNER_KINDS: 'argoproj.io/Rollout,CloneSet' } },
  { name: 'plain-HTTP Vault with a path prefix', env: { VAULT_COURIER_VAULT_ADDR: 'http://127.0.0.1:8200/vault/' } },
  { name: 'a role with every allowed character', env: { VAULT_COURIER_DEFAULT_ROLE: 'team.app_1@prod-2' } },
  { name: 'a pod whose controller is not evicted', env: {}, pod: { ...POD, metadata: { ...POD.metadata, ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', name: 'w', uid: 'u', controller: true }] } } },
  { name: 'a mount path and role from the annotations', env: {}, pod: { ...POD, metadata: { ...POD.metadata, annotations: { ...POD.metadata?.annotations, 'vault-courier.io/mount-path': '/etc/app/secrets', 'vault-courier.io/role': 'other' } } } },
  { name: 'a default Vault namespace', env: { VAULT_COURIER_DEFAULT_VAULT_NAMESPACE: 'org/team-a/' } },
  { name: 'a Vault namespace and a template from the annotations', env: { VAULT_COURIER_DEFAULT_VAULT_NAMESPACE: 'platform' }, pod: { ...POD, metadata: { ...POD.metadata, annotations: { ...POD.metadata?.annotations, 'vault-courier.io/namespace': 'team-b', 'vault-courier.io/template-db': 'postgresql://{{username}}:{{password}}@db/app' } } } },
];

/** Init and the sidecar send the pod's namespace annotation, else the webhook's default, else none; init renders the pod's template. */
function assertSameNamespaceAndTemplate(row: (typeof VALID)[number], init: InitConfig, sidecar: SidecarConfig): void {
  const annotations = row.pod?.metadata?.annotations ?? {};
  const namespace = annotations['vault-courier.io/namespace'] ?? row.env.VAULT_COURIER_DEFAULT_VAULT_NAMESPACE;
  assert.equal(init.vaultNamespace, namespace);
  assert.equal(sidecar.vaultNamespace, namespace);
  const template = annotations['vault-courier.io/template-db'];
  if (template !== undefined) assert.deepEqual(init.secrets.find((s) => s.name === 'db')?.format, { kind: 'template', template });
}

for (const row of VALID) {
  test(`round trip: ${row.name}: what the webhook accepts, init and the sidecar accept`, () => {
    const pod = inject({ ...WEBHOOK_ENV, ...row.env }, row.pod);
    const init = parseInitConfig(containerEnv(pod, INIT_CONTAINER_NAME));
    assert.ok('config' in init, `init refused: ${'errors' in init ? init.errors.join('; ') : ''}`);
    const sidecar = parseSidecarConfig(containerEnv(pod, SIDECAR_CONTAINER_NAME));
    assert.equal(init.config.vaultAddr, sidecar.vaultAddr);
    assert.equal(sidecar.serviceUrl.href.replace(/\/$/, ''), parseConfig({ ...WEBHOOK_ENV, ...row.env }).serviceUrl.replace(/:443$/, ''));
    assert.deepEqual(init.config.secrets.map((s) => s.name), ['cfg', 'db']);
    assertSameNamespaceAndTemplate(row, init.config, sidecar);
    const owner = row.pod?.metadata?.ownerReferences?.[0]?.kind ?? 'ReplicaSet';
    assert.equal(rotationMode(sidecar).mode, owner === 'ReplicaSet' ? 'evict' : 'warn');
  });
}

/**
 * Each value the injected containers would refuse is refused by the webhook at start. The
 * old webhook accepted every row and every injected pod then looped in Init: the second
 * assertion shows the same value refused by the container's own parser.
 */
const REFUSED: { name: string; env: Record<string, string>; variable: string; container: 'init' | 'sidecar'; injected: string }[] = [
  { name: 'auth path without auth/', env: { VAULT_COURIER_AUTH_PATH: 'kubernetes' }, variable: 'VAULT_COURIER_AUTH_PATH', container: 'init', injected: 'VAULT_COURIER_AUTH_PATH' },
  { name: 'auth path with a ".." segment', env: { VAULT_COURIER_AUTH_PATH: 'auth/../sys' }, variable: 'VAULT_COURIER_AUTH_PATH', container: 'init', injected: 'VAULT_COURIER_AUTH_PATH' },
  { name: 'Vault address with a query', env: { VAULT_COURIER_VAULT_ADDR: 'https://vault:8200?x=1' }, variable: 'VAULT_COURIER_VAULT_ADDR', container: 'init', injected: 'VAULT_COURIER_VAULT_ADDR' },
  { name: 'Vault address with a fragment', env: { VAULT_COURIER_VAULT_ADDR: 'https://vault:8200/#top' }, variable: 'VAULT_COURIER_VAULT_ADDR', container: 'sidecar', injected: 'VAULT_COURIER_VAULT_ADDR' },
  { name: 'Vault address with a password', env: { VAULT_COURIER_VAULT_ADDR: 'https://u:p@vault:8200' }, variable: 'VAULT_COURIER_VAULT_ADDR', container: 'init', injected: 'VAULT_COURIER_VAULT_ADDR' },
  { name: 'service URL with a query', env: { VAULT_COURIER_SERVICE_URL: 'https://vault-courier.vault-courier.svc?a=b' }, variable: 'VAULT_COURIER_SERVICE_URL', container: 'sidecar', injected: 'VAULT_COURIER_SERVICE_URL' },
  { name: 'a default role init would refuse', env: { VAULT_COURIER_DEFAULT_ROLE: 'my role' }, variable: 'VAULT_COURIER_DEFAULT_ROLE', container: 'init', injected: 'VAULT_COURIER_ROLE' },
  { name: 'a default Vault namespace init would refuse', env: { VAULT_COURIER_DEFAULT_VAULT_NAMESPACE: 'team a' }, variable: 'VAULT_COURIER_DEFAULT_VAULT_NAMESPACE', container: 'init', injected: 'VAULT_COURIER_VAULT_NAMESPACE' },
  { name: 'a default Vault namespace the sidecar would refuse', env: { VAULT_COURIER_DEFAULT_VAULT_NAMESPACE: '/team' }, variable: 'VAULT_COURIER_DEFAULT_VAULT_NAMESPACE', container: 'sidecar', injected: 'VAULT_COURIER_VAULT_NAMESPACE' },
];

for (const row of REFUSED) {
  test(`refused at start: ${row.name} (names ${row.variable}), as the ${row.container} would refuse it`, () => {
    assert.throws(() => parseConfig({ ...WEBHOOK_ENV, ...row.env }), (err: unknown) => isCourierError(err, 'config') && new RegExp(`${row.variable}: `).test(err.message));
    // What the old webhook would have written into every pod, read by the container's parser.
    const pod = inject(WEBHOOK_ENV);
    const value = row.env[row.variable] ?? '';
    const env = { ...containerEnv(pod, row.container === 'init' ? INIT_CONTAINER_NAME : SIDECAR_CONTAINER_NAME), [row.injected]: value };
    if (row.container === 'init') {
      const result = parseInitConfig(env);
      assert.ok('errors' in result && result.errors.some((e) => e.startsWith(`${row.injected}: `)), `init accepted ${value}`);
    } else {
      assert.throws(() => parseSidecarConfig(env), (err: unknown) => isCourierError(err, 'config') && err.message.includes(`${row.injected}: `));
    }
  });
}

test('refused at start: CA files that are not PEM, which init and the sidecar would refuse', () => {
  const injection: InjectionConfig = { vaultAddr: 'https://v', vaultCaPem: 'not a pem', authPath: 'auth/kubernetes', defaultRole: undefined, initImage: 'i:1', sidecarImage: 's:1', serviceUrl: 'https://s', serviceCaPem: 'nope', initResources: {}, sidecarResources: {} };
  assert.deepEqual(checkInjectionConfig(injection).map((p) => p.variable), ['VAULT_COURIER_VAULT_CACERT', 'VAULT_COURIER_SERVICE_CACERT']);
  const env = { ...containerEnv(inject(WEBHOOK_ENV), SIDECAR_CONTAINER_NAME), VAULT_COURIER_VAULT_CACERT_PEM: 'not a pem', VAULT_COURIER_SERVICE_CACERT_PEM: 'nope' };
  assert.throws(() => parseSidecarConfig(env), /VAULT_COURIER_VAULT_CACERT_PEM: must be PEM/);
  assert.throws(() => parseSidecarConfig(env), /VAULT_COURIER_SERVICE_CACERT_PEM: must be PEM/);
  const initEnv = { ...containerEnv(inject(WEBHOOK_ENV), INIT_CONTAINER_NAME), VAULT_COURIER_VAULT_CACERT_PEM: 'not a pem' };
  const result = parseInitConfig(initEnv);
  assert.ok('errors' in result && result.errors.some((e) => e.startsWith('VAULT_COURIER_VAULT_CACERT_PEM: ')));
});
