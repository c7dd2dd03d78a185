import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readyStatus } from './kube.ts';

test('readyStatus reports every container running and the pod Ready', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const status = readyStatus({ spec: { containers: [{ name: 'app', image: 'app:1' }, { name: 'side' }] } }, now);
  assert.equal(status?.phase, 'Running');
  assert.deepEqual(
    status?.conditions?.map((c) => [c.type, c.status]),
    [['PodScheduled', 'True'], ['Initialized', 'True'], ['ContainersReady', 'True'], ['Ready', 'True']],
  );
  assert.deepEqual(status?.containerStatuses?.map((c) => [c.name, c.ready, c.image]), [['app', true, 'app:1'], ['side', true, '']]);
});
