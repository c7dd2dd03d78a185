import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { parseOwnerKinds, type OwnerKind } from '../contract/owner-kinds.ts';
import { controllerOwner, decideRotation } from './rotation-policy.ts';

const ROLLOUT: readonly OwnerKind[] = [{ group: 'argoproj.io', kind: 'Rollout' }];

/** Who is evicted is an allowlist: the old rule spared only no-owner and Job pods, and evicted the rest. */
const ROWS: { name: string; owner: [apiVersion: string | undefined, kind: string] | undefined; rotate?: boolean; kinds?: readonly OwnerKind[]; want: 'evict' | 'warn' }[] = [
  { name: 'ReplicaSet', owner: ['apps/v1', 'ReplicaSet'], want: 'evict' },
  { name: 'StatefulSet', owner: ['apps/v1', 'StatefulSet'], want: 'evict' },
  { name: 'DaemonSet', owner: ['apps/v1', 'DaemonSet'], want: 'evict' },
  { name: 'ReplicationController', owner: ['v1', 'ReplicationController'], want: 'evict' },
  { name: 'Job', owner: ['batch/v1', 'Job'], want: 'warn' },
  { name: 'no owner', owner: undefined, want: 'warn' },
  { name: 'Workflow (argoproj.io)', owner: ['argoproj.io/v1alpha1', 'Workflow'], want: 'warn' },
  { name: 'TaskRun (tekton.dev)', owner: ['tekton.dev/v1', 'TaskRun'], want: 'warn' },
  { name: 'SparkApplication', owner: ['sparkoperator.k8s.io/v1beta2', 'SparkApplication'], want: 'warn' },
  { name: 'a kind from the setting (group/Kind)', owner: ['argoproj.io/v1alpha1', 'Rollout'], kinds: ROLLOUT, want: 'evict' },
  { name: 'a kind from the setting (Kind, any group)', owner: ['apps.kruise.io/v1alpha1', 'CloneSet'], kinds: [{ group: undefined, kind: 'CloneSet' }], want: 'evict' },
  { name: 'the setting\'s kind in another group', owner: ['example.com/v1', 'Rollout'], kinds: ROLLOUT, want: 'warn' },
  { name: 'a ReplicaSet kind of another group', owner: ['example.com/v1', 'ReplicaSet'], want: 'warn' },
  { name: 'Job named in the setting', owner: ['batch/v1', 'Job'], kinds: [{ group: 'batch', kind: 'Job' }], want: 'evict' },
  { name: 'ReplicaSet with rotate "false"', owner: ['apps/v1', 'ReplicaSet'], rotate: false, want: 'warn' },
  { name: 'older pod: kind known, group not', owner: [undefined, 'StatefulSet'], want: 'evict' },
];

for (const row of ROWS) {
  test(`decideRotation: ${row.name} → ${row.want}`, () => {
    const owner = row.owner === undefined ? undefined : { apiVersion: row.owner[0], kind: row.owner[1] };
    const decision = decideRotation({ rotate: row.rotate ?? true, owner, evictOwnerKinds: row.kinds ?? [] });
    assert.equal(decision.mode, row.want, decision.why);
    assert.ok(decision.why.length > 0);
  });
}

test('decideRotation: the reasons the sidecar logs', () => {
  assert.equal(decideRotation({ rotate: true, owner: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow' }, evictOwnerKinds: [] }).why, 'its controller argoproj.io/Workflow is not one vault-courier evicts (add it to VAULT_COURIER_EVICT_OWNER_KINDS if it recreates evicted pods)');
  assert.equal(decideRotation({ rotate: true, owner: { apiVersion: 'batch/v1', kind: 'Job' }, evictOwnerKinds: [] }).why, 'a Job owns the pod, and evicting it would fail or restart the work');
});

test('controllerOwner: only the ownerReference with controller: true', () => {
  const pod: V1Pod = { metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'Other', name: 'a', uid: '1' }, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'b', uid: '2', controller: true }] } };
  assert.deepEqual(controllerOwner(pod), { apiVersion: 'apps/v1', kind: 'ReplicaSet' });
  assert.equal(controllerOwner({ metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'Other', name: 'a', uid: '1' }] } }), undefined);
});

const PARSE: { text: string; want: readonly OwnerKind[] | RegExp }[] = [
  { text: '', want: [] },
  { text: 'Rollout', want: [{ group: undefined, kind: 'Rollout' }] },
  { text: ' argoproj.io/Rollout , CloneSet ', want: [{ group: 'argoproj.io', kind: 'Rollout' }, { group: undefined, kind: 'CloneSet' }] },
  { text: 'Rollout,', want: /empty entry/ },
  { text: 'argoproj.io/v1alpha1/Rollout', want: /without the version/ },
  { text: 'Argoproj.IO/Rollout', want: /is not an API group/ },
  { text: 'rollout', want: /starting with a capital letter \(e\.g\. "Rollout"\)/ },
  { text: 'Roll-out', want: /is not a kind/ },
];

for (const row of PARSE) {
  test(`parseOwnerKinds(${JSON.stringify(row.text)})`, () => {
    const parsed = parseOwnerKinds(row.text);
    if (row.want instanceof RegExp) {
      assert.ok('problem' in parsed);
      assert.match(parsed.problem, row.want);
    } else {
      assert.deepEqual('kinds' in parsed ? parsed.kinds : parsed, row.want);
    }
  });
}
