import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { afterStream, isLater, logsToFollow, splitTimestamp } from './container-logs.ts';

const status = (name: string, id: string | undefined, state: V1ContainerStatus['state']): V1ContainerStatus => ({ name, containerID: id, state, image: 'i', imageID: '', ready: false, restartCount: 0 });
const pod = (init: V1ContainerStatus[], main: V1ContainerStatus[]): V1Pod => ({ metadata: { name: 'p', uid: 'u' }, status: { initContainerStatuses: init, containerStatuses: main } });
const running = { running: { startedAt: new Date() } };
const terminated = { terminated: { exitCode: 0 } };
const waiting = { waiting: { reason: 'PodInitializing' } };

for (const [why, input, following, expected] of [
  ['nothing started yet', pod([status('vault-courier-init', undefined, waiting)], [status('app', undefined, waiting)]), [], []],
  ['init done, sidecar running, app created but waiting', pod([status('vault-courier-init', 'c://1', terminated), status('vault-courier-sidecar', 'c://2', running)], [status('app', 'c://3', waiting)]), [], [{ container: 'vault-courier-init', containerId: 'c://1' }, { container: 'vault-courier-sidecar', containerId: 'c://2' }]],
  ['already followed ones are left out', pod([status('vault-courier-init', 'c://1', terminated)], [status('app', 'c://3', running)]), ['c://1'], [{ container: 'app', containerId: 'c://3' }]],
  ['a restarted container is a new ID to follow', pod([], [status('app', 'c://4', running)]), ['c://3'], [{ container: 'app', containerId: 'c://4' }]],
] as const) {
  test(`logsToFollow: ${why}`, () => assert.deepEqual(logsToFollow(input, new Set(following)), expected));
}

for (const [line, expected] of [
  ['2026-12-01T10:00:00.123456789Z {"msg":"x"}', { time: '2026-12-01T10:00:00.123456789Z', text: '{"msg":"x"}' }],
  ['2026-12-01T10:00:00Z plain text with spaces', { time: '2026-12-01T10:00:00Z', text: 'plain text with spaces' }],
  ['2026-12-01T10:00:00.5Z', { time: '2026-12-01T10:00:00.5Z', text: '' }],
  ['{"msg":"no timestamp"}', undefined],
  ['', undefined],
] as const) {
  test(`splitTimestamp: ${JSON.stringify(line)}`, () => assert.deepEqual(splitTimestamp(line), expected));
}

for (const [a, b, expected] of [
  ['2026-12-01T10:00:00.5Z', '2026-12-01T10:00:00.499999999Z', true],
  ['2026-12-01T10:00:00.5Z', '2026-12-01T10:00:00.500000000Z', false],
  ['2026-12-01T10:00:00Z', '2026-12-01T10:00:00.000000001Z', false],
  ['2026-12-01T10:00:01Z', '2026-12-01T10:00:00.999999999Z', true],
] as const) {
  test(`isLater(${a}, ${b}) = ${expected}: trailing zeros cut, nanoseconds compared`, () => assert.equal(isLater(a, b), expected));
}

const one = (state: V1ContainerStatus['state'], id = 'c://1') => pod([], [status('app', id, state)]);
for (const [why, outcome, input, deleted, expected] of [
  ['the API has no such pod any more', 'gone', one(running), false, 'done'],
  ['never seen by the watch', 'ended', undefined, false, 'done'],
  ['the container terminated: its log is complete', 'ended', one(terminated), false, 'done'],
  ['the container restarted under a new ID', 'ended', one(running, 'c://2'), false, 'done'],
  ['ended while it still runs (a dropped stream): resume', 'ended', one(running), false, 'resume'],
  ['failed while it still runs: resume', 'failed', one(running), false, 'resume'],
  ['deleted but the stream ended as it ran: resume until the API says gone', 'ended', one(running), true, 'resume'],
  ['deleted and the stream failed: nothing more to read', 'failed', one(running), true, 'done'],
] as const) {
  test(`afterStream: ${why}`, () => assert.equal(afterStream(outcome, input, 'c://1', deleted), expected));
}
