/**
 * The chart read as text, with no helm needed: the MutatingWebhookConfiguration it renders
 * is the document core builds, the values obey their schema, and every variable the
 * Deployment sets is one parseConfig reads. test/unit/chart-helm.test.ts renders the chart
 * with the real helm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { EVICT_RBAC_RULES } from './evict/rbac.ts';
import {
  buildMutatingWebhookConfiguration,
  buildValidatingWebhookConfiguration,
  checkAuthPath,
  checkRole,
  checkVaultNamespace,
  checkVaultAddr,
  CONFIG_ENV,
  DEFAULT_FAILURE_POLICY,
  DEFAULT_INIT_RESOURCES,
  DEFAULT_SIDECAR_RESOURCES,
  DEFAULT_TIMEOUT_SECONDS,
  parseConfig,
  parseOwnerKinds,
} from '@vault-courier/core';
import { helmValues } from '../../../certs/src/webhook-certificates.ts';

const CHART = path.resolve(import.meta.dirname, '../../../charts/vault-courier');
const read = (file: string) => readFileSync(path.join(CHART, file), 'utf8');
const values = loadYaml<Record<string, Record<string, unknown>>>(read('values.yaml'));

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  $ref?: string;
  enum?: unknown[];
  pattern?: string;
  items?: Schema;
  definitions?: Record<string, Schema>;
}
const schema = JSON.parse(read('values.schema.json')) as Schema;

function resolve(node: Schema): Schema {
  return node.$ref ? (schema.definitions?.[node.$ref.replace('#/definitions/', '')] ?? {}) : node;
}

test('the chart has one template per component', () => {
  const templates = readdirSync(path.join(CHART, 'templates'));
  for (const name of ['_helpers.tpl', 'webhook-deployment.yaml', 'webhook-service.yaml', 'webhook-rbac.yaml', 'webhook-pdb.yaml', 'mutatingwebhookconfiguration.yaml', 'certificate.yaml']) {
    assert.ok(templates.includes(name), `missing templates/${name}`);
  }
});

// Whether values conform is helm's to say (test/unit/chart-helm.test.ts: lint, and every
// refusal with helm's own message); this holds the schema's design: no key goes unchecked.
test('values.schema.json refuses unknown keys everywhere: every object with properties says additionalProperties', () => {
  const walk = (node: Schema, at: string): string[] => {
    const s = resolve(node);
    const here = s.properties && s.additionalProperties === undefined ? [at] : [];
    return [...here, ...Object.entries(s.properties ?? {}).flatMap(([k, child]) => walk(child, `${at}.${k}`))];
  };
  assert.deepEqual(walk(schema, 'values'), [], 'objects with properties must say additionalProperties');
});

test('the chart defaults are the code defaults', () => {
  assert.equal(values.webhook?.failurePolicy, DEFAULT_FAILURE_POLICY);
  assert.equal(values.webhook?.timeoutSeconds, DEFAULT_TIMEOUT_SECONDS);
  assert.deepEqual(values.injected?.initResources, DEFAULT_INIT_RESOURCES);
  assert.deepEqual(values.injected?.sidecarResources, DEFAULT_SIDECAR_RESOURCES);
});

test('the Deployment sets only variables parseConfig reads, and every required one', () => {
  const deployment = read('templates/webhook-deployment.yaml');
  const set = [...deployment.matchAll(/- name: (VAULT_COURIER_[A-Z_]+)/g)].map((m) => m[1]);
  const known: string[] = Object.values(CONFIG_ENV);
  assert.deepEqual(set.filter((name) => !known.includes(name!)), []);
  for (const required of [CONFIG_ENV.tlsCert, CONFIG_ENV.tlsKey, CONFIG_ENV.vaultAddr, CONFIG_ENV.initImage, CONFIG_ENV.sidecarImage, CONFIG_ENV.serviceUrl]) {
    assert.ok(set.includes(required), `${required} is not set by the chart`);
  }
});

/** A minimal render of a `webhooks:` section for release "vault-courier" in namespace "vault-courier" with generated certificates. */
function renderWebhooks(webhooks: string): unknown[] {
  const rendered = webhooks
    .split('\n')
    .filter((line) => !line.trim().startsWith('{{-'))
    .join('\n')
    .replaceAll('{{ $fullname }}', 'vault-courier')
    .replaceAll('{{ $caBundle }}', 'Q0E=')
    .replaceAll('{{ .Release.Namespace | quote }}', '"vault-courier"')
    .replaceAll('{{ .Release.Namespace }}', 'vault-courier')
    .replaceAll('{{ .Values.webhook.failurePolicy }}', String(values.webhook?.failurePolicy))
    .replaceAll('{{ .Values.webhook.timeoutSeconds }}', String(values.webhook?.timeoutSeconds));
  assert.doesNotMatch(rendered, /\{\{/, 'an expression was left unrendered');
  return loadYaml<{ webhooks: unknown[] }>(rendered).webhooks;
}

test('the webhook configurations template renders the documents core builds, mutating then warn-only', () => {
  const template = read('templates/mutatingwebhookconfiguration.yaml');
  const [mutating, validating] = template.slice(template.indexOf('webhooks:')).split('\n---\n');
  const options = { caBundle: 'Q0E=', namespace: 'vault-courier', service: { name: 'vault-courier', namespace: 'vault-courier' } };
  assert.deepEqual(renderWebhooks(mutating ?? ''), JSON.parse(JSON.stringify(buildMutatingWebhookConfiguration(options).webhooks)));
  assert.match(validating ?? '', /^kind: ValidatingWebhookConfiguration$/m);
  assert.deepEqual(renderWebhooks((validating ?? '').slice((validating ?? '').indexOf('webhooks:'))), JSON.parse(JSON.stringify(buildValidatingWebhookConfiguration(options).webhooks)));
});

test('the ClusterRole grants exactly the rules the eviction endpoint needs', () => {
  const documents = read('templates/webhook-rbac.yaml').split(/^---$/m);
  const clusterRole = documents.find((doc) => /^kind: ClusterRole$/m.test(doc));
  assert.ok(clusterRole, 'webhook-rbac.yaml has no ClusterRole');
  const rules = loadYaml<unknown[]>(clusterRole.slice(clusterRole.indexOf('rules:') + 'rules:'.length));
  assert.deepEqual(rules, JSON.parse(JSON.stringify(EVICT_RBAC_RULES)));
});

test('every certificates.source the schema allows is a branch of the templates', () => {
  const sources = resolve(schema.properties?.certificates?.properties?.source ?? {}).enum;
  assert.deepEqual(sources, ['generate', 'cert-manager', 'secret']);
  const templates = readdirSync(path.join(CHART, 'templates')).map((file) => read(`templates/${file}`)).join('\n');
  for (const source of sources ?? []) assert.match(templates, new RegExp(`eq \\.Values\\.certificates\\.source "${source}"`), `no template handles certificates.source=${source}`);
});

// helm installs with them in test/unit/chart-helm.test.ts (secret values, as certs/issue.ts writes them).
test('the values npm run certs writes for the chart are exactly the secret mode', () => {
  const written = loadYaml<Record<string, unknown>>(helmValues({ secretName: 'vault-courier-tls' }, 'Q0E='));
  assert.deepEqual(written, { certificates: { source: 'secret', secretName: 'vault-courier-tls', caBundle: 'Q0E=' } });
});

test('the injected images offer no pullPolicy: the webhook always writes IfNotPresent (containers.ts)', () => {
  assert.equal(resolve(schema.properties?.initImage ?? {}).properties?.pullPolicy, undefined);
  assert.equal(resolve(schema.properties?.sidecarImage ?? {}).properties?.pullPolicy, undefined);
  assert.ok(resolve(schema.properties?.image ?? {}).properties?.pullPolicy, 'the webhook\'s own image keeps its pullPolicy');
  assert.equal(values.initImage?.pullPolicy, undefined);
  assert.equal(values.sidecarImage?.pullPolicy, undefined);
});

test('rotation.evictOwnerKinds: default none, rendered as VAULT_COURIER_EVICT_OWNER_KINDS joined with commas', () => {
  assert.deepEqual(values.rotation?.evictOwnerKinds, []);
  assert.deepEqual(parseConfig({ VAULT_COURIER_TLS_CERT: 'c', VAULT_COURIER_TLS_KEY: 'k', VAULT_COURIER_VAULT_ADDR: 'https://v', VAULT_COURIER_INIT_IMAGE: 'i:1', VAULT_COURIER_SIDECAR_IMAGE: 's:1', VAULT_COURIER_SERVICE_URL: 'https://s' }).evictOwnerKinds, []);
  const deployment = read('templates/webhook-deployment.yaml');
  assert.match(deployment, /with \.Values\.rotation\.evictOwnerKinds \}\}\n\s+- name: VAULT_COURIER_EVICT_OWNER_KINDS\n\s+value: \{\{ join "," \. \| quote \}\}/);
});

/** The schema refuses at install what core's validators refuse at start, for the values a user types. */
/** The schema node at a path of property names. */
function schemaAt(...names: string[]): Schema {
  return names.reduce<Schema>((node, name) => resolve(node).properties?.[name] ?? {}, schema);
}

test('the schema\'s patterns agree with the validators the webhook and its containers share', () => {
  const vault = { addr: schemaAt('vault', 'addr'), authPath: schemaAt('vault', 'authPath'), defaultRole: schemaAt('vault', 'defaultRole'), defaultNamespace: schemaAt('vault', 'defaultNamespace') };
  const kinds = schemaAt('rotation', 'evictOwnerKinds').items;
  const rows: [pattern: string | undefined, check: (text: string) => boolean, samples: string[]][] = [
    [vault.addr.pattern, (t) => checkVaultAddr(t) === undefined, ['https://vault.vault.svc:8200', 'http://127.0.0.1:8200/x', 'https://vault:8200?ns=a', 'https://vault:8200#x', 'https://u:p@vault:8200', 'vault:8200']],
    [vault.authPath.pattern, (t) => checkAuthPath(t) === undefined, ['auth/kubernetes', 'auth/k8s/cluster-1', 'kubernetes', '/auth/kubernetes', 'auth/kubernetes/', 'auth/a b']],
    [vault.defaultRole.pattern, (t) => t === '' || checkRole(t) === undefined, ['', 'app', 'team.app_1@prod', 'my role', '-app']],
    [vault.defaultNamespace.pattern, (t) => t === '' || checkVaultNamespace(t) === undefined, ['', 'team-a', 'org/team-a', 'team-a/', '/team-a', 'team a', 'a//b']],
    [kinds?.pattern, (t) => 'kinds' in parseOwnerKinds(t), ['Rollout', 'argoproj.io/Rollout', 'rollout', 'argoproj.io/v1/Rollout', 'Argo.IO/Rollout', 'Roll-out']],
  ];
  for (const [pattern, check, samples] of rows) {
    assert.ok(pattern, 'a pattern is missing from values.schema.json');
    for (const sample of samples) assert.equal(new RegExp(pattern).test(sample), check(sample), `${JSON.stringify(sample)} against ${pattern}`);
  }
});

/**
 * The README's Values table names every value of values.yaml. A value is a leaf: a scalar,
 * a list, an empty map (nodeSelector: {}), or a map of Kubernetes' own shape, documented
 * as one row (requests/limits: a ResourceRequirements).
 */
function valuePaths(node: unknown, at: string): string[] {
  const isMap = typeof node === 'object' && node !== null && !Array.isArray(node);
  if (!isMap) return [at];
  const keys = Object.keys(node);
  if (keys.length === 0 || keys.every((k) => ['requests', 'limits', 'claims'].includes(k))) return [at];
  return keys.flatMap((k) => valuePaths((node as Record<string, unknown>)[k], at === '' ? k : `${at}.${k}`));
}

/** The Values table's rows: value path → its default cell. */
function readmeValueTable(): Map<string, string> {
  const readme = read('README.md');
  const section = /^## Values\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  assert.ok(section, 'charts/vault-courier/README.md has no "## Values" section');
  return new Map([...section.matchAll(/^\| `([^`]+)` \| ([^|]*) \|/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

function readmeValueRows(): string[] {
  return [...readmeValueTable().keys()];
}

function valueAt(path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], values);
}

/** What the default cell must show: the value itself in backticks, or each quantity of a resource map. */
function defaultProblem(path: string, cell: string): string | undefined {
  const value = valueAt(path);
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    const quantities = Object.values(value as Record<string, Record<string, string>>).flatMap((m) => Object.entries(m).map(([k, v]) => `${k}: ${v}`));
    const missing = quantities.filter((q) => !cell.includes(q));
    return missing.length > 0 ? `${path}: the README default lacks ${missing.join(', ')}` : undefined;
  }
  const shown = typeof value === 'string' ? (value === '' ? '""' : value) : JSON.stringify(value);
  return cell.startsWith(`\`${shown}\``) ? undefined : `${path}: the README default "${cell}" does not start with \`${shown}\``;
}

test('the chart README documents every value of values.yaml, and no value that is not there', () => {
  const paths = valuePaths(values, '');
  const rows = readmeValueRows();
  assert.deepEqual(paths.filter((p) => !rows.includes(p)), [], 'values missing from the README table (charts/vault-courier/README.md, "## Values")');
  assert.deepEqual(rows.filter((r) => !paths.includes(r)), [], 'README rows naming no value of values.yaml');
});

test('the chart README shows the default of each value as values.yaml has it', () => {
  const table = readmeValueTable();
  assert.deepEqual([...table].map(([path, cell]) => defaultProblem(path, cell)).filter((p) => p !== undefined), []);
});

test('valuePaths: leaves, lists, empty maps and resource maps', () => {
  assert.deepEqual(valuePaths({ a: 1, b: { c: '', d: { e: [] } }, f: {}, g: { requests: { cpu: '1m' } } }, ''), ['a', 'b.c', 'b.d.e', 'f', 'g']);
});
