import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterMounts } from './footprint.ts';

const footprint = { dir: '/tmp/vault-courier-devcluster-abc', netnsPath: '/run/netns/vault-courier-abc', cgroupName: 'vault-courier-abc' };

function mountinfo(points: string[]): string {
  return points.map((p, i) => `${100 + i} 1 0:${i} / ${p} rw,relatime shared:1 - tmpfs tmpfs rw`).join('\n');
}

test("clusterMounts: the cluster's mounts and its namespace file, deepest first, nobody else's", () => {
  const mounts = clusterMounts(
    footprint,
    mountinfo([
      '/',
      '/tmp/vault-courier-devcluster-abc/kubelet/root',
      '/tmp/vault-courier-devcluster-abc/kubelet/root/pods/u/volumes/kubernetes.io~empty-dir/vault-courier-secrets',
      '/tmp/vault-courier-devcluster-abcdef/kubelet/root',
      '/run/netns/vault-courier-abc',
      '/run/netns/vault-courier-other',
      '/tmp/vault-courier-devcluster-abc/with\\040space',
    ]),
  );
  assert.deepEqual(mounts, [
    '/tmp/vault-courier-devcluster-abc/kubelet/root/pods/u/volumes/kubernetes.io~empty-dir/vault-courier-secrets',
    '/tmp/vault-courier-devcluster-abc/kubelet/root',
    '/tmp/vault-courier-devcluster-abc/with space',
    '/run/netns/vault-courier-abc',
  ]);
});
