import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { podAction } from './process-runner.ts';
import { restartBackoffMs, shouldRestart } from './pod-worker.ts';
import { tokenRefreshDelayMs } from './volumes.ts';
import { exitCodeFor } from './container-process.ts';

test('podAction: binds unscheduled pods of the default scheduler, runs its own, ignores the rest', () => {
  const pod = (spec: Partial<NonNullable<V1Pod['spec']>>, deleting = false): V1Pod => ({
    metadata: { name: 'p', ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { containers: [], ...spec },
  });
  const cases: [string, V1Pod, string][] = [
    ['unscheduled', pod({}), 'bind'],
    ['unscheduled, default-scheduler named', pod({ schedulerName: 'default-scheduler' }), 'bind'],
    ['another scheduler', pod({ schedulerName: 'other' }), 'ignore'],
    ['unscheduled and being deleted', pod({}, true), 'ignore'],
    ['ours', pod({ nodeName: 'runner' }), 'run'],
    ['ours, being deleted', pod({ nodeName: 'runner' }, true), 'run'],
    ['another node', pod({ nodeName: 'devcluster-node' }), 'ignore'],
  ];
  for (const [name, p, want] of cases) assert.equal(podAction(p, 'runner'), want, name);
});

test('shouldRestart follows the restartPolicy; a sidecar always restarts', () => {
  const cases: [string, 'init' | 'sidecar' | 'app', string, number, boolean][] = [
    ['sidecar, Never', 'sidecar', 'Never', 0, true],
    ['app, Always, exit 0', 'app', 'Always', 0, true],
    ['init, Always, exit 0', 'init', 'Always', 0, false],
    ['init, Always, exit 1', 'init', 'Always', 1, true],
    ['app, OnFailure, exit 0', 'app', 'OnFailure', 0, false],
    ['app, OnFailure, exit 1', 'app', 'OnFailure', 1, true],
    ['app, Never, exit 1', 'app', 'Never', 1, false],
  ];
  for (const [name, kind, policy, code, want] of cases) assert.equal(shouldRestart({ kind }, policy, code), want, name);
});

test('crash-loop backoff doubles up to its cap', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 30].map(restartBackoffMs), [1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000]);
});

test('a projected token is refreshed at 80% of its lifetime', () => {
  assert.equal(tokenRefreshDelayMs(0, 600_000), 480_000);
  assert.equal(tokenRefreshDelayMs(1_000, 1_000), 0);
});

test('a process ended by a signal exits with 128 + its number, as a container runtime reports', () => {
  assert.equal(exitCodeFor(3, null), 3);
  assert.equal(exitCodeFor(null, 'SIGKILL'), 137);
  assert.equal(exitCodeFor(null, 'SIGTERM'), 143);
});
