import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { buildReport, formatDuration, formatJson, formatTable, formatWhen, type ClusterFacts } from './status-report.ts';

const NOW = Date.parse('2026-12-01T10:10:00Z');

test('formatDuration and formatWhen: readable at a glance, past and future', () => {
  const rows: [number, string][] = [[0, '0s'], [12_400, '12s'], [245_000, '4m05s'], [7_380_000, '2h03m'], [90_000_000, '1d01h']];
  for (const [ms, want] of rows) assert.equal(formatDuration(ms), want, String(ms));
  assert.equal(formatWhen('2026-12-01T10:14:05.000Z', NOW), '2026-12-01T10:14:05Z (in 4m05s)');
  assert.equal(formatWhen('2026-12-01T10:09:48.000Z', NOW), '2026-12-01T10:09:48Z (12s ago)');
  assert.equal(formatWhen(null, NOW), '-');
});

function pod(ns: string, name: string, annotations: Record<string, string>, message?: string): V1Pod {
  return {
    metadata: { namespace: ns, name, labels: { app: name }, annotations, creationTimestamp: new Date('2026-12-01T10:00:00Z') },
    spec: { containers: [{ name: 'app' }] },
    status: { conditions: message === undefined ? [] : [{ type: 'vault-courier.io/Rotation', status: 'True', reason: 'Scheduled', message }] },
  };
}

const facts: ClusterFacts = {
  pods: [
    pod('shop', 'web-2', { 'vault-courier.io/secret-db': 'database/creds/app', 'vault-courier.io/status': 'injected' }, 'deadline=2026-12-01T10:14:05.000Z; earliestExpiry=2026-12-01T10:15:00.000Z; lease=secret db (database/creds/app)'),
    pod('shop', 'web-1', { 'vault-courier.io/secret-db': 'database/creds/app', 'vault-courier.io/status': 'injected' }, 'deadline=2026-12-01T10:12:00.000Z; earliestExpiry=2026-12-01T10:15:00.000Z; lease=secret db (database/creds/app)'),
    pod('plain', 'legacy', { 'vault-courier.io/secret-db': 'database/creds/app' }),
    pod('shop', 'nginx', {}),
  ],
  namespaces: [{ metadata: { name: 'shop', labels: { 'vault-courier.io/inject': 'enabled' } } }, { metadata: { name: 'plain', labels: {} } }],
  budgets: [{ metadata: { namespace: 'shop', name: 'web' }, spec: { selector: { matchLabels: { app: 'web-1' } } }, status: { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 } }],
  webhook: { state: 'registered', failurePolicy: 'Fail', namespaceSelector: { matchLabels: { 'vault-courier.io/inject': 'enabled' } } },
};

test('the table: injected pods sorted, deadlines with their distance, the blocking budget; then the never-injected with why', () => {
  const text = formatTable(buildReport(facts, null), NOW);
  assert.equal(
    text,
    [
      'NAMESPACE   POD     SECRETS   EARLIEST-EXPIRY                   DEADLINE                          ROTATION    BLOCKED-BY',
      'shop        web-1   db        2026-12-01T10:15:00Z (in 5m00s)   2026-12-01T10:12:00Z (in 2m00s)   Scheduled   web',
      'shop        web-2   db        2026-12-01T10:15:00Z (in 5m00s)   2026-12-01T10:14:05Z (in 4m05s)   Scheduled   -',
      '',
      'Never injected: 1 pod(s) ask for secrets but have no vault-courier.io/status: injected',
      'NAMESPACE   POD      SECRETS   WHY',
      'plain       legacy   db        namespace plain is not opted in: kubectl label namespace plain vault-courier.io/inject=enabled, then delete the pod (or restart its Deployment/StatefulSet) so it is admitted again',
      '',
    ].join('\n'),
  );
});

test('an empty namespace says so', () => {
  assert.equal(formatTable(buildReport({ ...facts, pods: [] }, 'shop'), NOW), 'No injected pods in namespace shop.\n');
});

test('-o json: the documented shape, stable keys', () => {
  const json = JSON.parse(formatJson(buildReport(facts, 'shop'))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json), ['apiVersion', 'kind', 'namespace', 'injected', 'notInjected']);
  assert.equal(json.apiVersion, 'vault-courier.io/v1alpha1');
  assert.equal(json.kind, 'StatusReport');
  const [first] = json.injected as Record<string, unknown>[];
  assert.deepEqual(Object.keys(first ?? {}), ['namespace', 'pod', 'secrets', 'rotation', 'deadline', 'earliestExpiry', 'lease', 'blockedBy', 'lastBlockedBy', 'problem']);
  assert.deepEqual(first, {
    namespace: 'shop',
    pod: 'web-1',
    secrets: ['db'],
    blockedBy: ['web'],
    rotation: 'Scheduled',
    deadline: '2026-12-01T10:12:00.000Z',
    earliestExpiry: '2026-12-01T10:15:00.000Z',
    lease: 'secret db (database/creds/app)',
    lastBlockedBy: [],
    problem: null,
  });
  assert.deepEqual(Object.keys((json.notInjected as Record<string, unknown>[])[0] ?? {}), ['namespace', 'pod', 'secrets', 'why', 'message']);
});
