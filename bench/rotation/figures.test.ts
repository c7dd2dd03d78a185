import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditRequestsByPath, counterDelta, cpuJiffies, mostUnavailable, parseRotationArgs, samplesOf, usesAfterExpiry } from './figures.ts';

test('parseRotationArgs: defaults, overrides, and each bad argument named', () => {
  for (const [args, expected] of [
    [[], { replicas: 20, dbTtlSeconds: 60, timeoutSeconds: 480 }],
    [['--replicas=3', '--ttl=300'], { replicas: 3, dbTtlSeconds: 300, timeoutSeconds: 1440 }],
    [['--timeout=90'], { replicas: 20, dbTtlSeconds: 60, timeoutSeconds: 90 }],
    [['--replicas=0'], '--replicas=0: between 1 and 100'],
    [['--ttl=10'], "--ttl=10: at least 20 (the pod's grace period and the safety margin take 10 s)"],
    [['--timeout=30'], '--timeout=30: at least the TTL (60)'],
    [['--replicas'], 'unknown or malformed argument "--replicas"'],
    [['--pods=3'], 'unknown or malformed argument "--pods=3"'],
  ] as const) {
    assert.deepEqual(parseRotationArgs(args), expected, args.join(' '));
  }
});

test('samplesOf and counterDelta: one metric’s samples, and what each key gained', () => {
  const before = samplesOf('# HELP x\nx_total{verb="GET",resource="pods"} 3\nx_total{verb="POST",resource="pods",subresource="eviction"} 1\ny_total 9\n', 'x_total');
  const after = samplesOf('x_total{verb="GET",resource="pods"} 5\nx_total{verb="POST",resource="pods",subresource="eviction"} 1\nx_total{verb="PATCH",resource="events"} 2\n', 'x_total');
  assert.deepEqual(before[1]?.labels, { verb: 'POST', resource: 'pods', subresource: 'eviction' });
  assert.deepEqual([...counterDelta(before, after, (s) => `${s.labels.verb} ${s.labels.resource}`)], [
    ['GET pods', 2],
    ['PATCH events', 2],
  ]);
});

test('auditRequestsByPath: request entries inside the window, by path', () => {
  const line = (type: string, time: string, path: string) => JSON.stringify({ type, time, request: { path } });
  const lines = [
    line('request', '2026-12-01T10:00:01Z', 'auth/kubernetes/login'),
    line('response', '2026-12-01T10:00:01Z', 'auth/kubernetes/login'),
    line('request', '2026-12-01T10:00:02Z', 'database/creds/demo'),
    line('request', '2026-12-01T10:00:09Z', 'database/creds/demo'),
    'not json',
  ];
  assert.deepEqual([...auditRequestsByPath(lines, Date.parse('2026-12-01T10:00:00Z'), Date.parse('2026-12-01T10:00:05Z'))], [
    ['auth/kubernetes/login', 1],
    ['database/creds/demo', 1],
  ]);
});

test('usesAfterExpiry, mostUnavailable, cpuJiffies', () => {
  const expiry = new Map([['u1', 100]]);
  assert.deepEqual(usesAfterExpiry([{ user: 'u1', atMs: 100 }, { user: 'u1', atMs: 101 }, { user: 'u2', atMs: 999 }], expiry), [{ user: 'u1', atMs: 101 }]);
  assert.equal(mostUnavailable([20, 19, 20, 18], 20), 2);
  assert.equal(mostUnavailable([], 20), 0);
  assert.deepEqual(cpuJiffies('cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 1 2 3\n'), { busy: 15, total: 100 });
});
