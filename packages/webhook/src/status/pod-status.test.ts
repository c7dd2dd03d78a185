import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Namespace, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { blockingBudgets, optedInAt, podStatusLine, type PodLine, type WebhookFacts } from './pod-status.ts';

const LABELLED_AT = '2026-12-01T09:00:00.000Z';
const D = '2026-12-01T10:15:00.000Z';
const E = '2026-12-01T10:20:00.000Z';

function namespace(name: string, optedIn: boolean, labelTime = LABELLED_AT): V1Namespace {
  return {
    metadata: {
      name,
      labels: { 'kubernetes.io/metadata.name': name, ...(optedIn ? { 'vault-courier.io/inject': 'enabled' } : {}) },
      managedFields: [
        { manager: 'kube-apiserver', operation: 'Update', time: new Date('2026-12-01T08:00:00Z'), fieldsV1: { 'f:metadata': { 'f:labels': { 'f:kubernetes.io/metadata.name': {} } } } },
        ...(optedIn ? [{ manager: 'kubectl-label', operation: 'Update', time: new Date(labelTime), fieldsV1: { 'f:metadata': { 'f:labels': { 'f:vault-courier.io/inject': {} } } } }] : []),
      ],
    },
  };
}

interface PodOptions {
  ns?: string;
  annotations?: Record<string, string>;
  created?: string;
  labels?: Record<string, string>;
  sidecar?: boolean;
  condition?: { reason: string; message: string };
}

function pod(name: string, o: PodOptions = {}): V1Pod {
  return {
    metadata: { name, namespace: o.ns ?? 'shop', creationTimestamp: new Date(o.created ?? '2026-12-01T09:30:00Z'), labels: o.labels ?? { app: 'api' }, annotations: o.annotations ?? {} },
    spec: { containers: [{ name: 'app' }], initContainers: o.sidecar ? [{ name: 'vault-courier-init' }, { name: 'vault-courier-sidecar' }] : [] },
    status: { conditions: [{ type: 'Ready', status: 'True' }, ...(o.condition ? [{ type: 'vault-courier.io/Rotation', status: 'True', ...o.condition }] : [])] },
  };
}

const ASKS = { 'vault-courier.io/secret-db': 'database/creds/app', 'vault-courier.io/secret-api': 'secret/data/api', 'vault-courier.io/role': 'app' };
const INJECTED = { ...ASKS, 'vault-courier.io/status': 'injected' };
const REGISTERED: WebhookFacts = {
  state: 'registered',
  failurePolicy: 'Fail',
  namespaceSelector: { matchExpressions: [{ key: 'vault-courier.io/inject', operator: 'In', values: ['enabled'] }, { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'vault-courier'] }] },
};
const budget = (name: string, allowed: number, selector: V1PodDisruptionBudget['spec'] = { selector: { matchLabels: { app: 'api' } } }, ns = 'shop'): V1PodDisruptionBudget => ({ metadata: { name, namespace: ns }, spec: selector, status: { disruptionsAllowed: allowed, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 } });

type Want = { kind: 'none' } | { kind: 'not-injected'; why: string; message: RegExp } | { kind: 'injected'; fields: Record<string, unknown> };

const rows: { name: string; pod: V1Pod; ns?: V1Namespace; budgets?: V1PodDisruptionBudget[]; webhook?: WebhookFacts; want: Want }[] = [
  { name: 'a pod that asks for nothing', pod: pod('web'), want: { kind: 'none' } },
  { name: 'a role alone asks for no secret', pod: pod('web', { annotations: { 'vault-courier.io/role': 'app' } }), want: { kind: 'none' } },
  { name: 'opted out inside an opted-in namespace', pod: pod('web', { annotations: { ...ASKS, 'vault-courier.io/inject': 'false' } }), want: { kind: 'none' } },
  {
    name: 'its namespace never opted in: the label to set',
    pod: pod('api', { annotations: ASKS }),
    ns: namespace('shop', false),
    want: { kind: 'not-injected', why: 'namespace-not-opted-in', message: /^namespace shop is not opted in: kubectl label namespace shop vault-courier\.io\/inject=enabled, then delete the pod/ },
  },
  {
    name: 'created before the namespace opted in (the label manager time)',
    pod: pod('api', { annotations: ASKS, created: '2026-12-01T08:30:00Z' }),
    want: { kind: 'not-injected', why: 'created-before-opt-in', message: /^created 2026-12-01T08:30:00\.000Z, before namespace shop opted in \(its vault-courier\.io\/inject label was set at 2026-12-01T09:00:00\.000Z\)/ },
  },
  {
    name: 'opted in before it was created, failurePolicy Ignore: admitted while the webhook was down',
    pod: pod('api', { annotations: ASKS }),
    webhook: { ...REGISTERED, failurePolicy: 'Ignore' },
    want: { kind: 'not-injected', why: 'admitted-without-webhook', message: /webhook was down or unreachable and its failurePolicy is Ignore/ },
  },
  { name: 'failurePolicy Fail now: it was not registered, or Ignore then', pod: pod('api', { annotations: ASKS }), want: { kind: 'not-injected', why: 'admitted-without-webhook', message: /not registered yet, or was down while its failurePolicy was Ignore \(it is Fail now\)/ } },
  { name: 'no webhook registered at all', pod: pod('api', { annotations: ASKS }), webhook: { state: 'absent' }, want: { kind: 'not-injected', why: 'webhook-not-registered', message: /install the chart/ } },
  { name: 'the registration cannot be read', pod: pod('api', { annotations: ASKS }), webhook: { state: 'unknown' }, want: { kind: 'not-injected', why: 'admitted-without-webhook', message: /down with failurePolicy Ignore, or not registered yet/ } },
  { name: "the webhook's own namespace is excluded even when labelled", pod: pod('api', { ns: 'vault-courier', annotations: ASKS }), ns: namespace('vault-courier', true), want: { kind: 'not-injected', why: 'namespace-excluded', message: /excluded by the webhook's namespaceSelector/ } },
  {
    name: 'injected, the sidecar reported: secrets, deadline, expiry',
    pod: pod('api', { annotations: INJECTED, sidecar: true, condition: { reason: 'Scheduled', message: `deadline=${D}; earliestExpiry=${E}; lease=secret db (database/creds/app)` } }),
    budgets: [budget('api', 1)],
    want: { kind: 'injected', fields: { secrets: ['api', 'db'], rotation: 'Scheduled', deadline: D, earliestExpiry: E, lease: 'secret db (database/creds/app)', blockedBy: [], lastBlockedBy: [], problem: null } },
  },
  {
    name: 'injected, a budget allowing no disruption selects it: blocked by it (client side)',
    pod: pod('api', { annotations: INJECTED, condition: { reason: 'Scheduled', message: `deadline=${D}; earliestExpiry=${E}` } }),
    budgets: [budget('api', 0), budget('other', 0, { selector: { matchLabels: { app: 'web' } } }), budget('elsewhere', 0, undefined, 'billing')],
    want: { kind: 'injected', fields: { rotation: 'Scheduled', blockedBy: ['api'] } },
  },
  {
    name: 'the last eviction was blocked (the condition names the budget)',
    pod: pod('api', { annotations: INJECTED, condition: { reason: 'EvictionBlocked', message: `deadline=${D}; earliestExpiry=${E}; blockedBy=api` } }),
    budgets: [budget('api', 0)],
    want: { kind: 'injected', fields: { rotation: 'EvictionBlocked', blockedBy: ['api'], lastBlockedBy: ['api'], deadline: D } },
  },
  { name: 'injected, no report yet (a sidecar starting, or older than the condition)', pod: pod('api', { annotations: INJECTED }), want: { kind: 'injected', fields: { rotation: 'NotReported', deadline: null, earliestExpiry: null } } },
  { name: 'the sidecar container alone counts as injected', pod: pod('api', { annotations: ASKS, sidecar: true }), want: { kind: 'injected', fields: { rotation: 'NotReported' } } },
  { name: 'an unreadable condition is shown, not guessed', pod: pod('api', { annotations: INJECTED, condition: { reason: 'Scheduled', message: 'deadline=soon' } }), want: { kind: 'injected', fields: { rotation: 'Unreadable', deadline: null, problem: 'condition vault-courier.io/Rotation: deadline=soon is not an ISO 8601 UTC time' } } },
];

function assertLine(got: PodLine | undefined, want: Want): void {
  if (want.kind === 'none') return assert.equal(got, undefined);
  assert.equal(got?.kind, want.kind);
  if (want.kind === 'not-injected' && got?.kind === 'not-injected') {
    assert.equal(got.line.why, want.why);
    assert.match(got.line.message, want.message);
    assert.deepEqual(got.line.secrets, ['api', 'db']);
  }
  if (want.kind === 'injected' && got?.kind === 'injected') {
    for (const [k, v] of Object.entries(want.fields)) assert.deepEqual(got.line[k as keyof typeof got.line], v, k);
  }
}

for (const row of rows) {
  test(`podStatusLine: ${row.name}`, () => {
    const ns = row.ns ?? namespace(row.pod.metadata?.namespace ?? 'shop', true);
    assertLine(podStatusLine(row.pod, ns, row.budgets ?? [], row.webhook ?? REGISTERED), row.want);
  });
}

test('blockingBudgets: a budget with disruptions left does not block; an empty selector selects every pod; an absent one none', () => {
  const p = pod('api', { annotations: INJECTED });
  assert.deepEqual(blockingBudgets(p, [budget('z-all', 0, { selector: {} }), budget('a-some', 1), budget('none', 0, {})]), ['z-all']);
});

test('optedInAt: the latest time of a manager owning the label; undefined when none does', () => {
  const ns = namespace('shop', true);
  ns.metadata?.managedFields?.push({ manager: 'kubectl-client-side-apply', operation: 'Update', time: new Date('2026-12-01T09:10:00Z'), fieldsV1: { 'f:metadata': { 'f:labels': { 'f:vault-courier.io/inject': {} } } } });
  assert.equal(optedInAt(ns), '2026-12-01T09:10:00.000Z');
  assert.equal(optedInAt(namespace('plain', false)), undefined);
  assert.equal(optedInAt({ metadata: { name: 'x' } }), undefined);
});
