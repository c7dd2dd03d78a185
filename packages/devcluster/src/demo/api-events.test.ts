import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Event } from '@kubernetes/client-node';
import { warningFromEvent } from './api-events.ts';

const event = (type: string, kind: string, name: string, uid = 'e1'): CoreV1Event => ({
  metadata: { uid },
  type,
  reason: 'FailedCreate',
  message: 'pods "demo-app-x" is forbidden: violates PodSecurity "restricted:latest" ',
  involvedObject: { kind, name },
});

for (const [why, input, expected] of [
  ['a Warning about a pod of the workload', event('Warning', 'Pod', 'demo-app-7d9f-abcde'), { kind: 'warning', key: 'e1', object: 'pod/demo-app-7d9f-abcde', reason: 'FailedCreate', message: 'pods "demo-app-x" is forbidden: violates PodSecurity "restricted:latest"' }],
  ['a Warning about its ReplicaSet', event('Warning', 'ReplicaSet', 'demo-app-7d9f'), { kind: 'warning', key: 'e1', object: 'replicaset/demo-app-7d9f', reason: 'FailedCreate', message: 'pods "demo-app-x" is forbidden: violates PodSecurity "restricted:latest"' }],
  ['a Warning about the Deployment itself', event('Warning', 'Deployment', 'demo-app'), { kind: 'warning', key: 'e1', object: 'deployment/demo-app', reason: 'FailedCreate', message: 'pods "demo-app-x" is forbidden: violates PodSecurity "restricted:latest"' }],
  ['a Normal Event', event('Normal', 'Pod', 'demo-app-7d9f-abcde'), undefined],
  ['a Warning about another workload whose name starts the same', event('Warning', 'Pod', 'demo-application-1'), undefined],
  ['a Warning about something else', event('Warning', 'Pod', 'report-xyz'), undefined],
] as const) {
  test(`warningFromEvent: ${why}`, () => assert.deepEqual(warningFromEvent(input, 'demo-app'), expected));
}
