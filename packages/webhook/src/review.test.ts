import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { applyJsonPatch, type Operation } from '@vault-courier/core';
import { FIXTURE_CONFIG } from '../../../test/helpers/fixture-config.ts';
import { parseAdmissionReview, reviewAdmission, reviewWorkload, type AdmissionRequest } from './review.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../../test/fixtures/admission');
/** UPDATE_GOLDEN=1 rewrites the expected files after a deliberate change; review the diff. */
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function requestOf(file: string): AdmissionRequest {
  const parsed = parseAdmissionReview(JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')));
  assert.ok(parsed.ok, `${file} is not a valid review`);
  return parsed.request;
}

/** What the API server ends up with: the allowed flag, the message, and the patched pod. */
function outcome(request: AdmissionRequest): Record<string, unknown> {
  const { response } = reviewAdmission(request, FIXTURE_CONFIG).review;
  assert.equal(response.uid, request.uid, 'the response must echo the request uid');
  const patch = response.patch === undefined ? [] : (JSON.parse(Buffer.from(response.patch, 'base64').toString()) as Operation[]);
  if (response.patch !== undefined) assert.equal(response.patchType, 'JSONPatch');
  return { allowed: response.allowed, ...(response.status ? { status: response.status } : {}), pod: applyJsonPatch(request.object, patch) };
}

for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.review.json')).sort()) {
  const name = file.replace('.review.json', '');
  test(`golden AdmissionReview: ${name}`, () => {
    const actual = outcome(requestOf(file));
    const expectedFile = path.join(FIXTURES, `${name}.expected.json`);
    if (UPDATE) writeFileSync(expectedFile, `${JSON.stringify(actual, null, 2)}\n`);
    assert.deepEqual(actual, JSON.parse(readFileSync(expectedFile, 'utf8')));
  });
}

test('golden: the no-volumes pod ends up with all four volumes and both containers', () => {
  const { pod } = outcome(requestOf('no-volumes.review.json')) as { pod: { spec: { volumes: { name: string }[]; initContainers: { name: string }[] } } };
  assert.deepEqual(pod.spec.volumes.map((v) => v.name), ['vault-courier-secrets', 'vault-courier-state', 'vault-courier-token', 'vault-courier-evict-token']);
  assert.deepEqual(pod.spec.initContainers.map((c) => c.name), ['vault-courier-init', 'vault-courier-sidecar']);
});

test('golden: the already-injected pod is allowed unchanged, with no patch', () => {
  const { review, outcome: result, reason } = reviewAdmission(requestOf('already-injected.review.json'), FIXTURE_CONFIG);
  assert.equal(result, 'skipped');
  assert.equal(reason, 'already-injected');
  assert.equal(review.response.patch, undefined);
  assert.equal(review.response.allowed, true);
});

test('golden: reinvocation never drops a secret: a secret-* added after injection is refused, saying why', () => {
  const { review, outcome: result } = reviewAdmission(requestOf('late-secret.review.json'), FIXTURE_CONFIG);
  assert.equal(result, 'denied');
  assert.equal(review.response.allowed, false);
  assert.match(review.response.status?.message ?? '', /vault-courier\.io\/secret-cache was added after vault-courier injected this pod .*would start without that secret; .*put the annotation in the pod template/);
});

test('golden: status "injected" on a pod without the injected containers is refused, not admitted without its secrets', () => {
  const { review } = reviewAdmission(requestOf('status-without-containers.review.json'), FIXTURE_CONFIG);
  assert.equal(review.response.allowed, false);
  assert.match(review.response.status?.message ?? '', /has no vault-courier-init container.*remove vault-courier\.io\/status/);
});

test('golden: a Vault path with "?" is refused at admission with the fix', () => {
  const { review } = reviewAdmission(requestOf('vault-path-query.review.json'), FIXTURE_CONFIG);
  assert.equal(review.response.allowed, false);
  assert.match(review.response.status?.message ?? '', /vault-courier\.io\/secret-db contains "\?".*write the plain path/);
});

test('golden: the typo is refused naming each annotation and the fix', () => {
  const { review } = reviewAdmission(requestOf('typo.review.json'), FIXTURE_CONFIG);
  assert.equal(review.response.allowed, false);
  const message = review.response.status?.message ?? '';
  assert.match(message, /vault-courier\.io\/secert-db is not a vault-courier annotation; did you mean vault-courier\.io\/secret-db\?/);
  assert.match(message, /vault-courier\.io\/mount-path must be an absolute path/);
  assert.match(message, /"chekout" \(did you mean "checkout"\?\)/);
});

test('dry-run gets the same answer as a real review', () => {
  const request = requestOf('dry-run.review.json');
  assert.equal(request.dryRun, true);
  const dry = reviewAdmission(request, FIXTURE_CONFIG).review.response;
  const real = reviewAdmission({ ...request, dryRun: false }, FIXTURE_CONFIG).review.response;
  assert.deepEqual(dry, real);
  assert.ok(dry.patch);
});

test('envelope: anything but an admission.k8s.io/v1 AdmissionReview is refused with a reason', () => {
  const cases: [unknown, RegExp][] = [
    [null, /not a JSON object/],
    [[], /not a JSON object/],
    [{ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u' } }, /expected an AdmissionReview of apiVersion admission\.k8s\.io\/v1, got kind "AdmissionReview" of apiVersion "admission\.k8s\.io\/v1beta1"/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /no request\.uid/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } }, /no request\.uid/],
  ];
  for (const [body, pattern] of cases) {
    const parsed = parseAdmissionReview(body);
    assert.ok(!parsed.ok);
    assert.match(parsed.reason, pattern);
  }
});

test('requests that are not a pod CREATE are allowed untouched', () => {
  const request = requestOf('no-volumes.review.json');
  for (const variant of [{ ...request, operation: 'UPDATE' }, { ...request, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }, { ...request, subResource: 'ephemeralcontainers' }, { ...request, object: null }]) {
    const result = reviewAdmission(variant, FIXTURE_CONFIG);
    assert.equal(result.outcome, 'ignored');
    assert.deepEqual(result.review.response, { uid: request.uid, allowed: true });
  }
});

const TYPO = { 'vault-courier.io/secert-db': 'database/creds/shop' };

function workloadRequest(kind: string, group: string, object: Record<string, unknown>, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return { uid: 'w-1', kind: { group, version: 'v1', kind }, namespace: 'shop', operation: 'CREATE', object, ...extra };
}

const typoDeployment = { kind: 'Deployment', metadata: { name: 'checkout' }, spec: { template: { metadata: { annotations: TYPO }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } } };

test('a workload warning carries the message the pod webhook refuses that pod template with', () => {
  const warned = reviewWorkload(workloadRequest('Deployment', 'apps', typoDeployment), FIXTURE_CONFIG);
  const pod = { apiVersion: 'v1', kind: 'Pod', ...typoDeployment.spec.template };
  const refused = reviewAdmission({ uid: 'p-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: pod }, FIXTURE_CONFIG);
  assert.equal(refused.review.response.allowed, false);
  assert.deepEqual(warned.review.response, { uid: 'w-1', allowed: true, warnings: [`spec.template: its pods will be refused: ${refused.review.response.status?.message}`] });
  assert.deepEqual({ outcome: warned.outcome, reason: warned.reason, object: warned.object, warnings: warned.warnings }, { outcome: 'warned', reason: 'invalid', object: 'Deployment/checkout', warnings: 1 });
});

const workloadCases: { name: string; request: AdmissionRequest; outcome: string; reason: string }[] = [
  { name: 'UPDATE is reviewed like CREATE', request: workloadRequest('Deployment', 'apps', typoDeployment, { operation: 'UPDATE' }), outcome: 'warned', reason: 'invalid' },
  { name: 'a CronJob in batch', request: workloadRequest('CronJob', 'batch', { metadata: { name: 'n', annotations: TYPO }, spec: { jobTemplate: { spec: { template: {} } } } }), outcome: 'warned', reason: 'misplaced' },
  { name: 'a clean Job', request: workloadRequest('Job', 'batch', { metadata: { name: 'j' }, spec: { template: { metadata: { annotations: { 'vault-courier.io/secret-db': 'a/b' } }, spec: { containers: [{ name: 'c' }] } } } }), outcome: 'skipped', reason: 'clean' },
  { name: 'DELETE', request: workloadRequest('Deployment', 'apps', typoDeployment, { operation: 'DELETE' }), outcome: 'ignored', reason: 'not-a-workload-write' },
  { name: 'a subresource (scale)', request: workloadRequest('Deployment', 'apps', typoDeployment, { subResource: 'scale' }), outcome: 'ignored', reason: 'not-a-workload-write' },
  { name: 'a Deployment of another API group (a CRD named alike)', request: workloadRequest('Deployment', 'example.com', typoDeployment), outcome: 'ignored', reason: 'not-a-workload-write' },
  { name: 'a Pod', request: workloadRequest('Pod', '', { metadata: { annotations: TYPO } }), outcome: 'ignored', reason: 'not-a-workload-write' },
  { name: 'no object', request: workloadRequest('Deployment', 'apps', typoDeployment, { object: null }), outcome: 'ignored', reason: 'not-a-workload-write' },
];

for (const c of workloadCases) {
  test(`reviewWorkload: ${c.name}: always allowed, ${c.outcome}`, () => {
    const result = reviewWorkload(c.request, FIXTURE_CONFIG);
    assert.deepEqual({ outcome: result.outcome, reason: result.reason }, { outcome: c.outcome, reason: c.reason });
    assert.equal(result.review.response.allowed, true);
    assert.equal(result.review.response.patch, undefined);
    assert.equal(result.review.response.warnings?.length ?? 0, result.warnings);
  });
}

test('reviewWorkload fits the warnings to the API server: at most 8, none over 256 runes', () => {
  const annotations = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`vault-courier.io/secret-${'x'.repeat(40)}${i}`, `secret/data/${'y'.repeat(300)}?v=${i}`]));
  const result = reviewWorkload(workloadRequest('Deployment', 'apps', { metadata: { name: 'big' }, spec: { template: { metadata: { annotations }, spec: { containers: [{ name: 'c' }] } } } }), FIXTURE_CONFIG);
  const warnings = result.review.response.warnings ?? [];
  assert.equal(warnings.length, 8);
  for (const w of warnings) assert.ok([...w].length <= 256, `${[...w].length} runes`);
  assert.match(warnings[7]!, /^…and 5 more problems/);
});

test('a hand-made pod the decision code cannot read is refused with BadRequest naming the field, not an internal error', () => {
  const request = requestOf('no-volumes.review.json');
  const pod = request.object as { spec: Record<string, unknown> };
  const cases: [unknown, RegExp][] = [
    [{ ...pod, spec: { ...pod.spec, containers: 'checkout' } }, /request\.object\.spec\.containers must be an array, got a string/],
    [{ ...pod, spec: { ...pod.spec, extra: JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`) as unknown } }, /nested deeper than 100 levels/],
  ];
  for (const [object, message] of cases) {
    const result = reviewAdmission({ ...request, object }, FIXTURE_CONFIG);
    assert.equal(result.outcome, 'denied');
    assert.equal(result.review.response.allowed, false);
    assert.equal(result.review.response.status?.code, 400);
    assert.match(result.review.response.status?.message ?? '', message);
  }
});
