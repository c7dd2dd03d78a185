import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAnnotationErrors, parseAnnotations, parseFormat, type ParseResult } from './annotations.ts';
import { closest, editDistance } from '../support/did-you-mean.ts';

const context = { containerNames: ['app', 'migrate'], defaultRole: 'default-role' };

function errorsOf(result: ParseResult): string[] {
  assert.equal(result.ok, false, 'expected errors');
  return result.ok ? [] : result.errors.map((e) => e.message);
}

test('a valid set of annotations becomes a spec, with defaults filled in', () => {
  const result = parseAnnotations(
    {
      'vault-courier.io/secret-db': 'database/creds/app',
      'vault-courier.io/format-db': 'env',
      'vault-courier.io/secret-api': 'secret/data/api',
      'vault-courier.io/format-api': 'key:token',
      'other.io/x': 'ignored',
    },
    context,
  );
  assert.deepEqual(result, {
    ok: true,
    spec: {
      secrets: [
        { name: 'api', path: 'secret/data/api', format: { kind: 'key', field: 'token' } },
        { name: 'db', path: 'database/creds/app', format: { kind: 'env' } },
      ],
      role: 'default-role',
      mountPath: '/vault/secrets',
      containers: undefined,
      rotate: true,
    },
  });
});

test('explicit role, mount path, containers and rotate are honoured', () => {
  const result = parseAnnotations(
    {
      'vault-courier.io/secret-db': 'database/creds/app',
      'vault-courier.io/role': 'app',
      'vault-courier.io/mount-path': '/etc/creds',
      'vault-courier.io/containers': 'app, migrate,app',
      'vault-courier.io/rotate': 'false',
    },
    context,
  );
  assert.ok(result.ok);
  assert.equal(result.spec.role, 'app');
  assert.equal(result.spec.mountPath, '/etc/creds');
  assert.deepEqual(result.spec.containers, ['app', 'migrate']);
  assert.equal(result.spec.rotate, false);
});

const invalid: { name: string; annotations: Record<string, string>; expect: RegExp[] }[] = [
  { name: 'unknown key gets the closest valid name, keeping the secret name', annotations: { 'vault-courier.io/secert-db': 'x/y' }, expect: [/vault-courier\.io\/secert-db is not a vault-courier annotation; did you mean vault-courier\.io\/secret-db\?/] },
  { name: 'typo of a fixed key', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/mountpath': '/x' }, expect: [/did you mean vault-courier\.io\/mount-path\?/] },
  { name: 'plural secret prefix', annotations: { 'vault-courier.io/secrets-db': 'a/b' }, expect: [/did you mean vault-courier\.io\/secret-db\?/] },
  { name: 'format for an undeclared secret', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/format-dv': 'env' }, expect: [/format-dv sets the format of a secret that is not declared: add vault-courier\.io\/secret-dv .*did you mean vault-courier\.io\/format-db\?/] },
  { name: 'bad format value', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/format-db': 'yaml' }, expect: [/format-db must be "json", "env" or "key:<field>"/] },
  { name: 'key format without a field', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/format-db': 'key:' }, expect: [/format-db must be/] },
  { name: 'secret name not a DNS label', annotations: { 'vault-courier.io/secret-DB_Main': 'a/b' }, expect: [/"DB_Main" is not a valid file name.*e\.g\. vault-courier\.io\/secret-db-main/] },
  { name: 'empty vault path', annotations: { 'vault-courier.io/secret-db': ' ' }, expect: [/secret-db is empty/] },
  { name: 'leading slash', annotations: { 'vault-courier.io/secret-db': '/secret/data/x' }, expect: [/must not start or end with "\/"/] },
  { name: 'dot-dot segment', annotations: { 'vault-courier.io/secret-db': 'secret/../sys' }, expect: [/"\.\." segment/] },
  { name: 'query string in the Vault path', annotations: { 'vault-courier.io/secret-db': 'secret/data/app?version=2' }, expect: [/secret-db contains "\?": a Vault path carries no query string or fragment.*write the plain path, e\.g\. "secret\/data\/app"/] },
  { name: 'fragment in the Vault path', annotations: { 'vault-courier.io/secret-db': 'secret/data/app#v2' }, expect: [/secret-db contains "#"/] },
  { name: 'relative mount path', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/mount-path': 'vault/secrets' }, expect: [/mount-path must be an absolute path/] },
  { name: 'mount path over our own state', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/mount-path': '/vault-courier' }, expect: [/overlaps \/vault-courier\/state/] },
  { name: 'mount path not normalized', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/mount-path': '/a//b' }, expect: [/normalized path/] },
  { name: 'unknown container', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/containers': 'app,mgirate' }, expect: [/containers names no container of this pod: "mgirate" \(did you mean "migrate"\?\); the pod's containers are: app, migrate/] },
  { name: 'injected container is not a target', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/containers': 'vault-courier-init' }, expect: [/names no container of this pod: "vault-courier-init"/] },
  { name: 'empty container entry', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/containers': 'app,' }, expect: [/without empty entries/] },
  { name: 'rotate not a boolean', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/rotate': 'no' }, expect: [/rotate must be "true" or "false"; got "no"/] },
  { name: 'inject not a boolean', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/inject': 'ture' }, expect: [/inject must be "true" or "false"/] },
  { name: 'status set by hand', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/status': 'pending' }, expect: [/status is written by the webhook/] },
  { name: 'bad role', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/role': 'my role' }, expect: [/role "my role" is not a Vault role name/] },
  { name: 'template with a tag left open', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/template-db': 'postgresql://{{username}:{{password}}@db' }, expect: [/^vault-courier\.io\/template-db has \{\{username\}:\{\{password\}\} at character 13: a field name with "\{" or "\}" means a tag is not closed/] },
  { name: 'template that does not parse', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/template-db': 'postgresql://{{username}}:{{password' }, expect: [/^vault-courier\.io\/template-db is not a valid template \(Unclosed tag at \d+;.*close every "\{\{" with "\}\}"/] },
  { name: 'template with a section', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/template-db': '{{#ssl}}?ssl=1{{/ssl}}' }, expect: [/^vault-courier\.io\/template-db has a section \(\{\{#ssl\}\} at character 0\)/] },
  { name: 'template and format for one secret', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/template-db': '{{password}}', 'vault-courier.io/format-db': 'env' }, expect: [/template-db and vault-courier\.io\/format-db both say how secret "db" is written: keep one/] },
  { name: 'template for an undeclared secret', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/template-dv': '{{password}}' }, expect: [/template-dv sets the template of a secret that is not declared: add vault-courier\.io\/secret-dv .*did you mean vault-courier\.io\/template-db\?/] },
  { name: 'typo of the template prefix keeps the secret name', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/templte-db': '{{x}}' }, expect: [/did you mean vault-courier\.io\/template-db\?/] },
  { name: 'Vault namespace with a space', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/namespace': 'team a' }, expect: [/^vault-courier\.io\/namespace "team a" is not a Vault namespace path.*\(or "" for Vault's root namespace\)/] },
  { name: 'typo of namespace', annotations: { 'vault-courier.io/secret-db': 'a/b', 'vault-courier.io/namspace': 'team-a' }, expect: [/did you mean vault-courier\.io\/namespace\?/] },
];

for (const c of invalid) {
  test(`refused: ${c.name}`, () => {
    const messages = errorsOf(parseAnnotations(c.annotations, context));
    for (const pattern of c.expect) assert.ok(messages.some((m) => pattern.test(m)), `no error matched ${pattern}: ${JSON.stringify(messages)}`);
  });
}

test('every error is reported at once, each naming its annotation', () => {
  const result = parseAnnotations(
    {
      'vault-courier.io/secert-db': 'a/b',
      'vault-courier.io/secret-api': 'secret/data/api',
      'vault-courier.io/format-api': 'xml',
      'vault-courier.io/mount-path': 'relative',
      'vault-courier.io/containers': 'nope',
    },
    context,
  );
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.errors.map((e) => e.annotation).sort(), [
    'vault-courier.io/containers',
    'vault-courier.io/format-api',
    'vault-courier.io/mount-path',
    'vault-courier.io/secert-db',
  ]);
  for (const e of result.errors) assert.ok(e.message.includes(e.annotation), `message does not name ${e.annotation}: ${e.message}`);
  const line = formatAnnotationErrors(result.errors);
  assert.match(line, /^vault-courier: invalid annotations: vault-courier\.io\/containers .*; vault-courier\.io\/format-api .*; vault-courier\.io\/mount-path .*; vault-courier\.io\/secert-db/);
});

test('a template is the format of its secret; namespace from the annotation, else the default, "" for none', () => {
  const template = 'postgresql://{{username}}:{{password}}@db:5432/app';
  const annotations = { 'vault-courier.io/secret-db': 'database/creds/app', 'vault-courier.io/template-db': template };
  const result = parseAnnotations({ ...annotations, 'vault-courier.io/namespace': 'org/team-a' }, { ...context, defaultNamespace: 'platform' });
  assert.ok(result.ok);
  assert.deepEqual(result.spec.secrets, [{ name: 'db', path: 'database/creds/app', format: { kind: 'template', template } }]);
  assert.equal(result.spec.namespace, 'org/team-a');
  const byDefault = parseAnnotations(annotations, { ...context, defaultNamespace: 'platform' });
  assert.ok(byDefault.ok && byDefault.spec.namespace === 'platform');
  const root = parseAnnotations({ ...annotations, 'vault-courier.io/namespace': '' }, { ...context, defaultNamespace: 'platform' });
  assert.ok(root.ok && !('namespace' in root.spec));
  const none = parseAnnotations(annotations, context);
  assert.ok(none.ok && !('namespace' in none.spec));
});

test('template and namespace errors come with every other error, in one denial', () => {
  const result = parseAnnotations(
    {
      'vault-courier.io/secret-db': 'database/creds/app',
      'vault-courier.io/template-db': '{{username',
      'vault-courier.io/secret-cfg': 'secret/data/cfg',
      'vault-courier.io/template-cfg': '{{> partial}}',
      'vault-courier.io/namespace': '/team',
      'vault-courier.io/rotate': 'nope',
    },
    context,
  );
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.errors.map((e) => e.annotation).sort(), ['vault-courier.io/namespace', 'vault-courier.io/rotate', 'vault-courier.io/template-cfg', 'vault-courier.io/template-db']);
  for (const e of result.errors) assert.ok(e.message.startsWith(e.annotation), `message does not start with ${e.annotation}: ${e.message}`);
});

test('a role is required only when a secret is declared and the webhook has no default', () => {
  const noDefault = { containerNames: ['app'], defaultRole: undefined };
  assert.match(errorsOf(parseAnnotations({ 'vault-courier.io/secret-db': 'a/b' }, noDefault)).join(), /vault-courier\.io\/role is required/);
  assert.equal(parseAnnotations({ 'vault-courier.io/rotate': 'false' }, noDefault).ok, true);
});

test('error messages quote no annotation value of a secret path beyond what the user wrote in the key', () => {
  // Annotations never hold secret values, but the path is echoed only where it is the fault.
  const messages = errorsOf(parseAnnotations({ 'vault-courier.io/secret-db': 'secret/data/app', 'vault-courier.io/role': 'bad role' }, context));
  assert.ok(!messages.join().includes('secret/data/app'));
});

test('parseFormat', () => {
  assert.deepEqual(parseFormat('json'), { kind: 'json' });
  assert.deepEqual(parseFormat('env'), { kind: 'env' });
  assert.deepEqual(parseFormat('key:a:b'), { kind: 'key', field: 'a:b' });
  assert.equal(parseFormat('JSON'), undefined);
});

test('editDistance and closest', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
  assert.equal(closest('rol', ['mount-path', 'role', 'rotate']), 'role');
  assert.equal(closest('x', []), undefined);
});
