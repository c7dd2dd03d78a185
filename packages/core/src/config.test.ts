import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCourierError } from './errors.ts';
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
  ['vault addr not a URL', { VAULT_COURIER_VAULT_ADDR: 'vault:8200' }, /VAULT_COURIER_VAULT_ADDR: "vault:8200" is not a https: or http: URL/],
  ['service URL over plain HTTP', { VAULT_COURIER_SERVICE_URL: 'http://x' }, /VAULT_COURIER_SERVICE_URL: "http:\/\/x" is not a https: URL/],
  ['auth path with a slash', { VAULT_COURIER_AUTH_PATH: '/auth/kubernetes' }, /VAULT_COURIER_AUTH_PATH/],
  ['resources not JSON', { VAULT_COURIER_SIDECAR_RESOURCES: 'cpu=1' }, /VAULT_COURIER_SIDECAR_RESOURCES: must be JSON/],
  ['resources with a bad quantity', { VAULT_COURIER_INIT_RESOURCES: '{"requests":{"cpu":"lots"}}' }, /VAULT_COURIER_INIT_RESOURCES/],
  ['log level', { VAULT_COURIER_LOG_LEVEL: 'loud' }, /VAULT_COURIER_LOG_LEVEL: "loud"/],
];
for (const [name, env, pattern] of bad) {
  test(`refused: ${name}`, () => assert.match(problemsOf({ ...minimal, ...env }), pattern));
}

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
