import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitAdmissionWarnings, MAX_WARNINGS, WARNING_MAX_RUNES, workloadWarnings, type WorkloadWarning } from './workload-warnings.ts';
import { shouldInject } from './decide.ts';
import { formatAnnotationErrors } from '../contract/annotations.ts';

const config = { defaultRole: 'app' };
const CANARY = 'CANARY-7f3a9c-not-for-warnings';
const SECRET = { 'vault-courier.io/secret-db': 'database/creds/app' };

type Annotations = Record<string, string> | undefined;

function template(annotations: Annotations) {
  return { metadata: { labels: { app: 'web' }, ...(annotations ? { annotations } : {}) }, spec: { containers: [{ name: 'web', image: 'web:1', env: [{ name: 'PASSWORD', value: CANARY }] }] } };
}

function deployment(own: Annotations, onTemplate: Annotations): Record<string, unknown> {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', ...(own ? { annotations: own } : {}) }, spec: { selector: { matchLabels: { app: 'web' } }, template: template(onTemplate) } };
}

function cronJob(own: Annotations, onTemplate: Annotations): Record<string, unknown> {
  return { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', ...(own ? { annotations: own } : {}) }, spec: { schedule: '@daily', jobTemplate: { spec: { template: template(onTemplate) } } } };
}

const typoRefusal = 'vault-courier: invalid annotations: vault-courier.io/secert-db is not a vault-courier annotation; did you mean vault-courier.io/secret-db?';

const table: { name: string; kind: string; object: Record<string, unknown>; expect: WorkloadWarning[] }[] = [
  { name: 'annotations on the pod template: nothing to say', kind: 'Deployment', object: deployment(undefined, SECRET), expect: [] },
  { name: 'no vault-courier annotation anywhere', kind: 'Deployment', object: deployment({ 'example.com/x': 'y' }, { 'example.com/y': 'z' }), expect: [] },
  {
    name: 'one annotation on the Deployment itself',
    kind: 'Deployment',
    object: deployment(SECRET, undefined),
    expect: [{ kind: 'misplaced', text: 'metadata.annotations: vault-courier annotation vault-courier.io/secret-db is on the Deployment itself, where vault-courier never looks; move it to spec.template.metadata.annotations' }],
  },
  {
    name: 'six on the StatefulSet-shaped object: four named, two counted, sorted',
    kind: 'StatefulSet',
    object: { kind: 'StatefulSet', metadata: { annotations: Object.fromEntries(['secret-f', 'secret-e', 'secret-d', 'secret-c', 'secret-b', 'secret-a'].map((k) => [`vault-courier.io/${k}`, 'x/y'])) }, spec: { template: template(undefined) } },
    expect: [
      {
        kind: 'misplaced',
        text: 'metadata.annotations: vault-courier annotations vault-courier.io/secret-a, vault-courier.io/secret-b, vault-courier.io/secret-c, vault-courier.io/secret-d and 2 more are on the StatefulSet itself, where vault-courier never looks; move them to spec.template.metadata.annotations',
      },
    ],
  },
  { name: 'a typo on the template: the refusal each pod would get', kind: 'Deployment', object: deployment(undefined, { 'vault-courier.io/secert-db': 'x/y' }), expect: [{ kind: 'invalid', text: `spec.template: its pods will be refused: ${typoRefusal}` }] },
  {
    name: 'a CronJob: its template is under jobTemplate, and both mistakes at once, misplaced first',
    kind: 'CronJob',
    object: cronJob({ 'vault-courier.io/role': 'app' }, { 'vault-courier.io/secert-db': 'x/y' }),
    expect: [
      { kind: 'misplaced', text: 'metadata.annotations: vault-courier annotation vault-courier.io/role is on the CronJob itself, where vault-courier never looks; move it to spec.jobTemplate.spec.template.metadata.annotations' },
      { kind: 'invalid', text: `spec.jobTemplate.spec.template: its pods will be refused: ${typoRefusal}` },
    ],
  },
  {
    name: 'two problems: two warnings, in the order of the refusal',
    kind: 'Job',
    object: { kind: 'Job', spec: { template: template({ ...SECRET, 'vault-courier.io/mount-path': 'relative', 'vault-courier.io/containers': 'nope' }) } },
    expect: [
      { kind: 'invalid', text: 'spec.template: its pods will be refused: vault-courier: invalid annotations: vault-courier.io/containers names no container of this pod: "nope" (did you mean "web"?); the pod\'s containers are: web' },
      { kind: 'invalid', text: 'spec.template: its pods will be refused: vault-courier: invalid annotations: vault-courier.io/mount-path must be an absolute path (starting with "/"), e.g. "/vault/secrets"; got "relative"' },
    ],
  },
  {
    name: 'a template annotation that does not parse: the pod webhook\'s refusal, before any pod',
    kind: 'Deployment',
    object: deployment(undefined, { ...SECRET, 'vault-courier.io/template-db': '{{#user}}x' }),
    expect: [
      {
        kind: 'invalid',
        text: 'spec.template: its pods will be refused: vault-courier: invalid annotations: vault-courier.io/template-db is not a valid template (Unclosed section "user" at 10; positions count characters from 0): sections are not supported: write {{field}} for each field',
      },
    ],
  },
  { name: 'opted out on the template: the pods are left alone, so is the workload', kind: 'DaemonSet', object: { kind: 'DaemonSet', spec: { template: template({ 'vault-courier.io/secert-db': 'x', 'vault-courier.io/inject': 'false' }) } }, expect: [] },
  { name: 'courier annotations but no secret: pods pass unchanged, no warning', kind: 'ReplicaSet', object: { kind: 'ReplicaSet', spec: { template: template({ 'vault-courier.io/rotate': 'false' }) } }, expect: [] },
  { name: 'a workload without a template: only its own metadata', kind: 'Deployment', object: { kind: 'Deployment', metadata: { annotations: SECRET } }, expect: [{ kind: 'misplaced', text: 'metadata.annotations: vault-courier annotation vault-courier.io/secret-db is on the Deployment itself, where vault-courier never looks; move it to spec.template.metadata.annotations' }] },
  { name: 'not a workload kind', kind: 'Service', object: { kind: 'Service', metadata: { annotations: SECRET } }, expect: [] },
];

for (const c of table) {
  test(`workloadWarnings: ${c.name}`, () => {
    assert.deepEqual(workloadWarnings(c.kind, c.object, config), c.expect);
  });
}

test('the template warning carries exactly the message the pod would be refused with', () => {
  const annotations = { ...SECRET, 'vault-courier.io/format-db': 'yaml' };
  const decision = shouldInject({ metadata: { annotations }, spec: template(undefined).spec }, config);
  assert.ok(!decision.inject && decision.reason === 'invalid');
  const [warning] = workloadWarnings('Deployment', deployment(undefined, annotations), config);
  assert.equal(warning?.text, `spec.template: its pods will be refused: ${formatAnnotationErrors(decision.errors)}`);
});

test('no warning echoes an annotation value of the workload or anything of the pod spec (canary)', () => {
  const object = deployment({ 'vault-courier.io/secret-db': CANARY, 'vault-courier.io/role': CANARY }, { 'vault-courier.io/secert-db': 'x/y', 'vault-courier.io/rol': 'app' });
  const warnings = workloadWarnings('Deployment', object, config);
  assert.equal(warnings.length, 3);
  for (const w of warnings) assert.ok(!w.text.includes(CANARY), w.text);
});

const long = 'x'.repeat(WARNING_MAX_RUNES + 40);
const fitTable: { name: string; input: string[]; expect: string[] }[] = [
  { name: 'short warnings pass unchanged', input: ['a', 'b'], expect: ['a', 'b'] },
  { name: 'exactly the limit passes unchanged', input: ['y'.repeat(WARNING_MAX_RUNES)], expect: ['y'.repeat(WARNING_MAX_RUNES)] },
  { name: 'longer: cut to the limit, ending in an ellipsis', input: [long], expect: [`${'x'.repeat(WARNING_MAX_RUNES - 1)}…`] },
  { name: 'runes, not UTF-16 units, are counted (as Go does)', input: ['🔑'.repeat(WARNING_MAX_RUNES)], expect: ['🔑'.repeat(WARNING_MAX_RUNES)] },
  { name: 'control characters, which make the API server drop a warning, become spaces', input: ['a\nb\tc\u0000d'], expect: ['a b c d'] },
  { name: 'at most the cap, the last saying how many more', input: Array.from({ length: MAX_WARNINGS + 3 }, (_, i) => `w${i}`), expect: [...Array.from({ length: MAX_WARNINGS - 1 }, (_, i) => `w${i}`), '…and 4 more problems; vault-courier render -f <manifest> prints them all'] },
  { name: 'exactly the cap: all kept', input: Array.from({ length: MAX_WARNINGS }, (_, i) => `w${i}`), expect: Array.from({ length: MAX_WARNINGS }, (_, i) => `w${i}`) },
];

for (const c of fitTable) {
  test(`fitAdmissionWarnings: ${c.name}`, () => {
    const fitted = fitAdmissionWarnings(c.input);
    assert.deepEqual(fitted, c.expect);
    for (const w of fitted) assert.ok([...w].length <= WARNING_MAX_RUNES);
    // Within the API server's 4096-rune budget even at the worst case, with half to spare.
    assert.ok(MAX_WARNINGS * WARNING_MAX_RUNES <= 4096 / 2);
  });
}

test('a pod template the decision cannot read is one warning naming the field, not a TypeError', () => {
  const deployment = (spec: unknown) => ({ metadata: { name: 'web' }, spec: { template: { metadata: { annotations: { 'vault-courier.io/secret-db': 'database/creds/app' } }, spec } } });
  assert.deepEqual(workloadWarnings('Deployment', deployment({ containers: 'app' }), config), [{ kind: 'invalid', text: 'request.object.spec.template.spec.containers must be an array, got a string' }]);
  const cron = { spec: { jobTemplate: { spec: { template: { metadata: { annotations: { 'vault-courier.io/role': 7 } } } } } } };
  assert.deepEqual(workloadWarnings('CronJob', cron, config), [{ kind: 'invalid', text: 'request.object.spec.jobTemplate.spec.template.metadata.annotations["vault-courier.io/role"] must be a string, got a number' }]);
});
