import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInitConfig, DEFAULT_INIT_DEADLINE_SECONDS, type InitEnv } from './init-config.ts';

const GOOD: InitEnv = {
  VAULT_COURIER_VAULT_ADDR: 'https://vault.vault.svc:8200/',
  VAULT_COURIER_AUTH_PATH: 'auth/kubernetes',
  VAULT_COURIER_ROLE: 'app',
  VAULT_COURIER_SECRETS: JSON.stringify([
    { name: 'db', path: 'database/creds/app', format: { kind: 'env' } },
    { name: 'api-key', path: 'secret/data/api', format: { kind: 'key', field: 'token' } },
  ]),
  VAULT_COURIER_SECRETS_DIR: '/vault/secrets',
  VAULT_COURIER_STATE_DIR: '/vault-courier/state',
  VAULT_COURIER_VAULT_JWT_PATH: '/vault-courier/token/vault',
  VAULT_COURIER_POD_NAME: 'web-1',
  VAULT_COURIER_POD_NAMESPACE: 'shop',
  VAULT_COURIER_POD_UID: 'uid-1',
};

function errorsOf(env: InitEnv): readonly string[] {
  const result = parseInitConfig(env);
  assert.ok('errors' in result, 'expected errors');
  return result.errors;
}

test('a complete environment parses, normalising the address', () => {
  const result = parseInitConfig(GOOD);
  assert.ok('config' in result);
  const c = result.config;
  assert.equal(c.vaultAddr, 'https://vault.vault.svc:8200');
  assert.equal(c.vaultCaPem, undefined);
  assert.equal(c.authPath, 'auth/kubernetes');
  assert.equal(c.deadlineSeconds, DEFAULT_INIT_DEADLINE_SECONDS);
  assert.deepEqual(c.secrets, [
    { name: 'db', path: 'database/creds/app', format: { kind: 'env' } },
    { name: 'api-key', path: 'secret/data/api', format: { kind: 'key', field: 'token' } },
  ]);
  assert.deepEqual(c.pod, { name: 'web-1', namespace: 'shop', uid: 'uid-1' });
  assert.ok(Object.isFrozen(c));
});

test('a template and a Vault namespace parse; absent, no namespace', () => {
  const template = { name: 'url', path: 'database/creds/app', format: { kind: 'template', template: 'postgresql://{{username}}:{{password}}@db/app' } };
  const result = parseInitConfig({ ...GOOD, VAULT_COURIER_SECRETS: JSON.stringify([template]), VAULT_COURIER_VAULT_NAMESPACE: 'org/team-a' });
  assert.ok('config' in result);
  assert.deepEqual(result.config.secrets, [template]);
  assert.equal(result.config.vaultNamespace, 'org/team-a');
  const plain = parseInitConfig(GOOD);
  assert.ok('config' in plain && !('vaultNamespace' in plain.config));
});

test('optional settings: auth path default, CA PEM, deadline', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const result = parseInitConfig({ ...GOOD, VAULT_COURIER_AUTH_PATH: undefined, VAULT_COURIER_VAULT_CACERT_PEM: pem, VAULT_COURIER_INIT_DEADLINE_SECONDS: '7' });
  assert.ok('config' in result);
  assert.equal(result.config.authPath, 'auth/kubernetes');
  assert.equal(result.config.vaultCaPem, pem);
  assert.equal(result.config.deadlineSeconds, 7);
});

const ONE_PROBLEM: ReadonlyArray<{ name: string; env: InitEnv; variable: string; mentions?: string }> = [
  { name: 'missing address', env: { VAULT_COURIER_VAULT_ADDR: undefined }, variable: 'VAULT_COURIER_VAULT_ADDR', mentions: 'required' },
  { name: 'address not a URL', env: { VAULT_COURIER_VAULT_ADDR: 'vault:8200' }, variable: 'VAULT_COURIER_VAULT_ADDR' },
  { name: 'address with another scheme', env: { VAULT_COURIER_VAULT_ADDR: 'ftp://vault' }, variable: 'VAULT_COURIER_VAULT_ADDR', mentions: 'ftp:' },
  { name: 'CA that is not PEM', env: { VAULT_COURIER_VAULT_CACERT_PEM: '/etc/ca.crt' }, variable: 'VAULT_COURIER_VAULT_CACERT_PEM' },
  { name: 'auth path without auth/', env: { VAULT_COURIER_AUTH_PATH: 'kubernetes' }, variable: 'VAULT_COURIER_AUTH_PATH', mentions: 'auth/kubernetes' },
  { name: 'empty role', env: { VAULT_COURIER_ROLE: ' ' }, variable: 'VAULT_COURIER_ROLE' },
  { name: 'secrets not JSON', env: { VAULT_COURIER_SECRETS: '[{' }, variable: 'VAULT_COURIER_SECRETS', mentions: 'not valid JSON' },
  { name: 'secrets empty', env: { VAULT_COURIER_SECRETS: '[]' }, variable: 'VAULT_COURIER_SECRETS', mentions: 'non-empty' },
  { name: 'secret name not a DNS label', env: { VAULT_COURIER_SECRETS: '[{"name":"../x","path":"a/b","format":{"kind":"json"}}]' }, variable: 'VAULT_COURIER_SECRETS', mentions: '[0].name' },
  { name: 'secret without path', env: { VAULT_COURIER_SECRETS: '[{"name":"x","path":"/","format":{"kind":"json"}}]' }, variable: 'VAULT_COURIER_SECRETS', mentions: '[0].path' },
  { name: 'unknown format', env: { VAULT_COURIER_SECRETS: '[{"name":"x","path":"a","format":{"kind":"yaml"}}]' }, variable: 'VAULT_COURIER_SECRETS', mentions: '"yaml"' },
  { name: 'key format without field', env: { VAULT_COURIER_SECRETS: '[{"name":"x","path":"a","format":{"kind":"key"}}]' }, variable: 'VAULT_COURIER_SECRETS', mentions: 'format.field' },
  { name: 'duplicate names', env: { VAULT_COURIER_SECRETS: '[{"name":"x","path":"a","format":{"kind":"json"}},{"name":"x","path":"b","format":{"kind":"json"}}]' }, variable: 'VAULT_COURIER_SECRETS', mentions: 'twice' },
  { name: 'relative secrets dir', env: { VAULT_COURIER_SECRETS_DIR: 'secrets' }, variable: 'VAULT_COURIER_SECRETS_DIR', mentions: 'absolute' },
  { name: 'missing JWT path', env: { VAULT_COURIER_VAULT_JWT_PATH: '' }, variable: 'VAULT_COURIER_VAULT_JWT_PATH' },
  { name: 'deadline not a number', env: { VAULT_COURIER_INIT_DEADLINE_SECONDS: '2m' }, variable: 'VAULT_COURIER_INIT_DEADLINE_SECONDS', mentions: '"2m"' },
  { name: 'deadline zero', env: { VAULT_COURIER_INIT_DEADLINE_SECONDS: '0' }, variable: 'VAULT_COURIER_INIT_DEADLINE_SECONDS' },
  { name: 'state dir equal to secrets dir', env: { VAULT_COURIER_STATE_DIR: '/vault/secrets' }, variable: 'VAULT_COURIER_STATE_DIR', mentions: 'never' },
  { name: 'a template that does not parse', env: { ...GOOD, VAULT_COURIER_SECRETS: JSON.stringify([{ name: 'u', path: 'a/b', format: { kind: 'template', template: '{{user' } }]) }, variable: 'VAULT_COURIER_SECRETS', mentions: '[0].format.template is not a valid template' },
  { name: 'a template kind without its text', env: { ...GOOD, VAULT_COURIER_SECRETS: JSON.stringify([{ name: 'u', path: 'a/b', format: { kind: 'template' } }]) }, variable: 'VAULT_COURIER_SECRETS', mentions: '[0].format.template must be' },
  { name: 'a Vault namespace with a newline', env: { ...GOOD, VAULT_COURIER_VAULT_NAMESPACE: 'a\nb' }, variable: 'VAULT_COURIER_VAULT_NAMESPACE', mentions: 'is not a Vault namespace path' },
];

for (const row of ONE_PROBLEM) {
  test(`parseInitConfig reports ${row.name}, naming ${row.variable}`, () => {
    const errors = errorsOf({ ...GOOD, ...row.env });
    assert.equal(errors.length, 1, errors.join('\n'));
    const [error = ''] = errors;
    assert.ok(error.startsWith(`${row.variable}: `), error);
    if (row.mentions !== undefined) assert.ok(error.includes(row.mentions), error);
  });
}

test('every problem is reported at once', () => {
  const errors = errorsOf({ VAULT_COURIER_SECRETS: '[{"name":"A","path":"","format":null}]', VAULT_COURIER_INIT_DEADLINE_SECONDS: 'x' });
  const variables = errors.map((e) => e.split(':')[0]);
  assert.deepEqual(variables, [
    'VAULT_COURIER_VAULT_ADDR',
    'VAULT_COURIER_ROLE',
    'VAULT_COURIER_SECRETS',
    'VAULT_COURIER_SECRETS',
    'VAULT_COURIER_SECRETS',
    'VAULT_COURIER_SECRETS_DIR',
    'VAULT_COURIER_STATE_DIR',
    'VAULT_COURIER_VAULT_JWT_PATH',
    'VAULT_COURIER_INIT_DEADLINE_SECONDS',
  ]);
});
