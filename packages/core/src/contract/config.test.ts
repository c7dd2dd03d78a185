import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCourierError } from '../support/errors.ts';
import { DEFAULT_SIDECAR_RESOURCES, parseConfig, parseListen } from './config.ts';

const minimal = {
  VAULT_COURIER_TLS_CERT: '/tls/tls.crt',
  VAULT_COURIER_TLS_KEY: '/tls/tls.key',
  VAULT_COURIER_VAULT_ADDR: 'https://vault:8200',
  VAULT_COURIER_INIT_IMAGE: 'init:1',
  VAULT_COURIER_SIDECAR_IMAGE: 'sidecar:1',
  VAULT_COURIER_SERVICE_URL: 'https://vault-courier.vault-courier.svc/',
};

function problemsOf(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (err) {
    assert.ok(isCourierError(err, 'config'));
    return err.message;
  }
  assert.fail('expected a config error');
}

test('defaults for everything docs/design.md gives a default for; the result is frozen', () => {
  const config = parseConfig(minimal);
  assert.deepEqual(config.listen, { host: undefined, port: 8443 });
  assert.deepEqual(config.metricsListen, { host: undefined, port: 9090 });
  assert.equal(config.authPath, 'auth/kubernetes');
  assert.equal(config.defaultRole, undefined);
  assert.equal(config.serviceUrl, 'https://vault-courier.vault-courier.svc');
  assert.deepEqual(config.sidecarResources, DEFAULT_SIDECAR_RESOURCES);
  assert.ok(Object.isFrozen(config));
});

test('every missing variable is named at once', () => {
  const message = problemsOf({});
  for (const name of ['VAULT_COURIER_TLS_CERT', 'VAULT_COURIER_TLS_KEY', 'VAULT_COURIER_VAULT_ADDR', 'VAULT_COURIER_INIT_IMAGE', 'VAULT_COURIER_SIDECAR_IMAGE', 'VAULT_COURIER_SERVICE_URL']) {
    assert.ok(message.includes(`${name}: is required`), `${name} not named in: ${message}`);
  }
});

const bad: [string, Record<string, string>, RegExp][] = [
  ['listen without a port', { VAULT_COURIER_LISTEN: '8443' }, /VAULT_COURIER_LISTEN: "8443" is not \[host\]:port/],
  ['port out of range', { VAULT_COURIER_METRICS_LISTEN: ':70000' }, /VAULT_COURIER_METRICS_LISTEN/],
  ['vault addr not a URL', { VAULT_COURIER_VAULT_ADDR: 'vault:8200' }, /VAULT_COURIER_VAULT_ADDR: "vault:8200" is not a URL/],
  ['service URL over plain HTTP', { VAULT_COURIER_SERVICE_URL: 'http://x' }, /VAULT_COURIER_SERVICE_URL: "http:\/\/x" is not an https:\/\/ URL/],
  ['auth path with a slash', { VAULT_COURIER_AUTH_PATH: '/auth/kubernetes' }, /VAULT_COURIER_AUTH_PATH/],
  ['resources not JSON', { VAULT_COURIER_SIDECAR_RESOURCES: 'cpu=1' }, /VAULT_COURIER_SIDECAR_RESOURCES: must be JSON/],
  ['resources with a bad quantity', { VAULT_COURIER_INIT_RESOURCES: '{"requests":{"cpu":"lots"}}' }, /VAULT_COURIER_INIT_RESOURCES/],
  ['log level', { VAULT_COURIER_LOG_LEVEL: 'loud' }, /VAULT_COURIER_LOG_LEVEL: "loud"/],
  // What init or the sidecar would refuse in every injected pod (the old parser accepted each).
  ['auth path init refuses', { VAULT_COURIER_AUTH_PATH: 'kubernetes' }, /VAULT_COURIER_AUTH_PATH: "kubernetes" is not an auth mount path.*did you mean "auth\/kubernetes"\?/],
  ['vault addr with a query', { VAULT_COURIER_VAULT_ADDR: 'https://vault:8200?ns=a' }, /VAULT_COURIER_VAULT_ADDR: must not carry a query/],
  ['vault addr with credentials', { VAULT_COURIER_VAULT_ADDR: 'https://u:p@vault:8200' }, /VAULT_COURIER_VAULT_ADDR: must not carry a user or password/],
  ['service URL with a fragment', { VAULT_COURIER_SERVICE_URL: 'https://svc#x' }, /VAULT_COURIER_SERVICE_URL: must not carry a query/],
  ['default role init refuses', { VAULT_COURIER_DEFAULT_ROLE: 'my role' }, /VAULT_COURIER_DEFAULT_ROLE: "my role" is not a Vault role name/],
  ['init image the kubelet cannot pull', { VAULT_COURIER_INIT_IMAGE: 'Registry/Init:1 ' + 'x' }, /VAULT_COURIER_INIT_IMAGE: .* is not an image reference/],
  ['sidecar image with a space', { VAULT_COURIER_SIDECAR_IMAGE: 'sidecar 1' }, /VAULT_COURIER_SIDECAR_IMAGE/],
  ['request over limit', { VAULT_COURIER_SIDECAR_RESOURCES: '{"requests":{"memory":"256Mi"},"limits":{"memory":"128Mi"}}' }, /VAULT_COURIER_SIDECAR_RESOURCES: requests\.memory 256Mi is more than limits\.memory 128Mi/],
  ['default Vault namespace init and the sidecar would refuse', { VAULT_COURIER_DEFAULT_VAULT_NAMESPACE: 'team a' }, /VAULT_COURIER_DEFAULT_VAULT_NAMESPACE: "team a" is not a Vault namespace path/],
  ['evict owner kinds with a version', { VAULT_COURIER_EVICT_OWNER_KINDS: 'argoproj.io/v1alpha1/Rollout' }, /VAULT_COURIER_EVICT_OWNER_KINDS: .*without the version/],
];
for (const [name, env, pattern] of bad) {
  test(`refused: ${name}`, () => assert.match(problemsOf({ ...minimal, ...env }), pattern));
}

test('VAULT_COURIER_EVICT_OWNER_KINDS: Kind or group/Kind, default none', () => {
  assert.deepEqual(parseConfig(minimal).evictOwnerKinds, []);
  assert.deepEqual(parseConfig({ ...minimal, VAULT_COURIER_EVICT_OWNER_KINDS: 'argoproj.io/Rollout,CloneSet' }).evictOwnerKinds, [
    { group: 'argoproj.io', kind: 'Rollout' },
    { group: undefined, kind: 'CloneSet' },
  ]);
});

test('resources from JSON', () => {
  const config = parseConfig({ ...minimal, VAULT_COURIER_INIT_RESOURCES: '{"requests":{"cpu":"20m","memory":"64Mi"},"limits":{"memory":"96Mi"}}' });
  assert.deepEqual(config.initResources, { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '96Mi' } });
});

test('parseListen', () => {
  assert.deepEqual(parseListen(':8443'), { host: undefined, port: 8443 });
  assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListen('[::1]:9090'), { host: '::1', port: 9090 });
  assert.equal(parseListen('::1:9090'), undefined);
  assert.equal(parseListen('host'), undefined);
});
