import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podPhase, podStatus, type ContainerRecord, type ContainerRun, type PodRecord } from './pod-status.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:00:10Z');
const waiting: ContainerRun = { state: 'waiting', reason: 'PodInitializing' };
const running: ContainerRun = { state: 'running', pid: 10, startedAt: t0 };
const exited = (exitCode: number): ContainerRun => ({ state: 'terminated', pid: 10, exitCode, signal: null, startedAt: t0, finishedAt: t1 });

function record(init: ContainerRun | undefined, sidecar: ContainerRun | undefined, app: ContainerRun, extra: Partial<PodRecord> = {}): PodRecord {
  const c = (name: string, kind: ContainerRecord['kind'], current: ContainerRun): ContainerRecord => ({ name, image: `${name}:1`, kind, current, restartCount: 0 });
  const containers = [...(init ? [c('init', 'init', init)] : []), ...(sidecar ? [c('side', 'sidecar', sidecar)] : []), c('app', 'app', app)];
  return { containers, restartPolicy: 'Always', startTime: t0, hostIP: '127.0.0.1', terminating: false, ...extra };
}

const conditions = (r: PodRecord) => Object.fromEntries((podStatus(r, t1, []).conditions ?? []).map((c) => [c.type, c.status]));

test('phase and conditions through a pod life', () => {
  const cases: [string, PodRecord, string, Record<string, string>][] = [
    ['init running', record(running, waiting, waiting), 'Pending', { PodScheduled: 'True', Initialized: 'False', ContainersReady: 'False', Ready: 'False' }],
    ['init failed, will retry', record(exited(1), waiting, waiting), 'Pending', { PodScheduled: 'True', Initialized: 'False', ContainersReady: 'False', Ready: 'False' }],
    ['init failed, restartPolicy Never', record(exited(1), waiting, waiting, { restartPolicy: 'Never' }), 'Failed', { PodScheduled: 'True', Initialized: 'False', ContainersReady: 'False', Ready: 'False' }],
    ['sidecar started, app not yet', record(exited(0), running, waiting), 'Pending', { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'False', Ready: 'False' }],
    ['all running', record(exited(0), running, running), 'Running', { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'True', Ready: 'True' }],
    ['sidecar died: not ready', record(exited(0), exited(1), running), 'Running', { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'False', Ready: 'False' }],
    ['terminating: never ready', record(exited(0), running, running, { terminating: true }), 'Running', { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'False', Ready: 'False' }],
    ['stopped on deletion', record(exited(0), exited(0), exited(0), { terminating: true }), 'Succeeded', { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'False', Ready: 'False' }],
    ['app failed, OnFailure restarts it', record(undefined, undefined, exited(2), { restartPolicy: 'OnFailure' }), 'Running', { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'False', Ready: 'False' }],
    ['app failed, Never', record(undefined, undefined, exited(2), { restartPolicy: 'Never' }), 'Failed', { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'False', Ready: 'False' }],
    ['job done', record(undefined, undefined, exited(0), { restartPolicy: 'Never' }), 'Succeeded', { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'False', Ready: 'False' }],
  ];
  for (const [name, r, phase, want] of cases) {
    assert.equal(podPhase(r), phase, name);
    assert.deepEqual(conditions(r), want, name);
  }
});

test('container statuses: init containers and sidecars apart from app containers, with pid, state and last state', () => {
  const r = record(exited(0), running, running);
  const withRestart: PodRecord = { ...r, containers: r.containers.map((c) => (c.name === 'app' ? { ...c, restartCount: 2, last: exited(137) } : c)) };
  const status = podStatus(withRestart, t1, []);
  assert.deepEqual(
    status.initContainerStatuses?.map((s) => [s.name, s.ready, s.started, Object.keys(s.state ?? {})[0]]),
    [
      ['init', true, false, 'terminated'],
      ['side', true, true, 'running'],
    ],
  );
  const [app] = status.containerStatuses ?? [];
  assert.equal(app?.restartCount, 2);
  assert.equal(app?.containerID, 'process://10');
  assert.equal(app?.lastState?.terminated?.exitCode, 137);
  assert.equal(app?.lastState?.terminated?.reason, 'Error');
});

test('a condition keeps its transition time while its status is unchanged', () => {
  const r = record(exited(0), running, running);
  const before = [{ type: 'Ready', status: 'True', lastTransitionTime: t0 }, { type: 'Initialized', status: 'False', lastTransitionTime: t0 }];
  const byType = Object.fromEntries((podStatus(r, t1, before).conditions ?? []).map((c) => [c.type, c.lastTransitionTime]));
  assert.equal(byType.Ready, t0);
  assert.equal(byType.Initialized, t1);
});
