import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { applyJsonPatch, type Operation } from '@vault-courier/core';
import { MINIMAL_CONFIG } from '../../../test/helpers/fixture-config.ts';
import { renderManifest } from './render-manifest.ts';
import { reviewAdmission } from './review.ts';

const config = MINIMAL_CONFIG;

const template = { metadata: { labels: { app: 'web' }, annotations: { 'vault-courier.io/secret-db': 'database/creds/web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } };

function deployment(): Record<string, unknown> {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, template: structuredClone(template) } };
}

test('a Deployment template is rendered exactly as the webhook mutates the ReplicaSet pod', () => {
  const rendered = renderManifest([deployment()], config);
  assert.deepEqual(rendered.injected, ['Deployment/web']);
  const renderedTemplate = (rendered.documents[0] as { spec: { template: V1Pod } }).spec.template;
  const ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u', controller: true }];
  const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { ...structuredClone(template.metadata), ownerReferences }, spec: structuredClone(template.spec) };
  const { review } = reviewAdmission({ uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: pod }, config);
  const admitted = applyJsonPatch(pod, JSON.parse(Buffer.from(review.response.patch!, 'base64').toString()) as Operation[]);
  const { ownerReferences: _, ...metadata } = admitted.metadata!;
  assert.deepEqual(renderedTemplate, { metadata, spec: admitted.spec });
});

test('CronJob templates are found; other objects and unannotated pods pass through; refusals are reported', () => {
  const cronJob = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' }, spec: { schedule: '@daily', jobTemplate: { spec: { template: structuredClone(template) } } } };
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' } };
  const plainPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { containers: [{ name: 'c' }] } };
  const typo = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'typo', annotations: { 'vault-courier.io/rol': 'x' } }, spec: { containers: [{ name: 'c' }] } };
  const rendered = renderManifest([cronJob, service, plainPod, typo], config);
  assert.deepEqual(rendered.injected, ['CronJob/nightly']);
  const env = (rendered.documents[0] as { spec: { jobTemplate: { spec: { template: V1Pod } } } }).spec.jobTemplate.spec.template.spec!.initContainers![0]!.env!;
  assert.equal(env.find((e) => e.name === 'VAULT_COURIER_OWNER_KIND')?.value, 'Job');
  assert.deepEqual(rendered.documents.slice(1), [service, plainPod, typo]);
  assert.deepEqual(rendered.problems, ['Pod/typo: vault-courier: invalid annotations: vault-courier.io/rol is not a vault-courier annotation; did you mean vault-courier.io/role?']);
  assert.deepEqual(rendered.warnings, [], 'a Pod is refused, never warned; the CronJob is fine');
});

test('render says what the warn-only webhook says: misplaced annotations and an invalid template, named by object, and the refusal', () => {
  const misplaced = { ...deployment(), metadata: { name: 'web', annotations: { 'vault-courier.io/role': 'web' } } };
  const invalid = { ...deployment(), metadata: { name: 'broken' }, spec: { template: { metadata: { annotations: { 'vault-courier.io/secert-db': 'a/b' } }, spec: template.spec } } };
  const rendered = renderManifest([misplaced, invalid], config);
  const refusal = 'vault-courier: invalid annotations: vault-courier.io/secert-db is not a vault-courier annotation; did you mean vault-courier.io/secret-db?';
  assert.deepEqual(rendered.warnings, [
    'Deployment/web: metadata.annotations: vault-courier annotation vault-courier.io/role is on the Deployment itself, where vault-courier never looks; move it to spec.template.metadata.annotations',
    `Deployment/broken: spec.template: its pods will be refused: ${refusal}`,
  ]);
  assert.deepEqual(rendered.problems, [`Deployment/broken: ${refusal}`]);
  // The misplaced annotation changes nothing: the template is rendered as without it.
  assert.deepEqual((rendered.documents[0] as { spec: unknown }).spec, (renderManifest([deployment()], config).documents[0] as { spec: unknown }).spec);
});

test('the CLI prints the rendered YAML, the warnings kubectl apply would print, and exits 1 with the refusal on stderr', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vault-courier-render-'));
  try {
    const file = path.join(dir, 'm.yaml');
    const misplaced = { ...deployment(), metadata: { name: 'web', annotations: { 'vault-courier.io/role': 'web' } } };
    writeFileSync(file, `${JSON.stringify(misplaced)}\n---\n{"apiVersion":"v1","kind":"Pod","metadata":{"name":"typo","annotations":{"vault-courier.io/secert-x":"a/b"}},"spec":{"containers":[{"name":"c"}]}}\n`);
    const cli = path.join(import.meta.dirname, 'render-cli.ts');
    const result = spawnSync(process.execPath, [cli, 'render', '-f', file, '--default-role', 'web'], { encoding: 'utf8' });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stdout, /name: vault-courier-init/);
    assert.match(result.stdout, /name: vault-courier-sidecar\n/);
    assert.match(result.stderr, /refused: Pod\/typo: .*did you mean vault-courier\.io\/secret-x\?/);
    assert.match(result.stderr, /^Warning: Deployment\/web: metadata\.annotations: vault-courier annotation vault-courier\.io\/role is on the Deployment itself/m);
    const usage = spawnSync(process.execPath, [cli], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: vault-courier render/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('render shows a template and the Vault namespace in the injected environment, and refuses a template that does not parse, naming the annotation', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vault-courier-render-'));
  try {
    const file = path.join(dir, 'm.yaml');
    const url = 'postgresql://{{username}}:{{password}}@db:5432/app';
    const good = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'url', annotations: { 'vault-courier.io/secret-db': 'database/creds/web', 'vault-courier.io/template-db': url } }, spec: { containers: [{ name: 'c', image: 'c:1' }] } };
    const bad = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'broken', annotations: { 'vault-courier.io/secret-db': 'database/creds/web', 'vault-courier.io/template-db': '{{#username}}x{{/username}}', 'vault-courier.io/namespace': 'team a' } }, spec: { containers: [{ name: 'c' }] } };
    writeFileSync(file, `${JSON.stringify(good)}\n---\n${JSON.stringify(bad)}\n`);
    const cli = path.join(import.meta.dirname, 'render-cli.ts');
    const result = spawnSync(process.execPath, [cli, 'render', '-f', file, '--default-role', 'web', '--default-vault-namespace', 'org/team-a'], { encoding: 'utf8' });
    assert.equal(result.status, 1, result.stderr);
    const [pod] = renderManifest([good], { ...config, defaultVaultNamespace: 'org/team-a' }).documents as readonly V1Pod[];
    const env = Object.fromEntries((pod?.spec?.initContainers?.[0]?.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.VAULT_COURIER_VAULT_NAMESPACE, 'org/team-a');
    assert.deepEqual(JSON.parse(env.VAULT_COURIER_SECRETS ?? '[]'), [{ name: 'db', path: 'database/creds/web', format: { kind: 'template', template: url } }]);
    assert.match(result.stdout, /VAULT_COURIER_VAULT_NAMESPACE\n\s+value: org\/team-a/);
    assert.ok(result.stdout.includes(JSON.stringify(url).slice(1, -1)), 'the template is shown in the rendered pod');
    assert.match(result.stderr, /refused: Pod\/broken: vault-courier: invalid annotations: vault-courier\.io\/namespace "team a" is not a Vault namespace path.*; vault-courier\.io\/template-db has a section \(\{\{#username\}\} at character 0\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
