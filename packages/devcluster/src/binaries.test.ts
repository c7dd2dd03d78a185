import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCourierError } from '@vault-courier/core';
import { parseVersions, resolveBinaries } from './binaries.ts';

test('parseVersions reads KEY=value lines and skips comments', () => {
  assert.deepEqual(parseVersions('# comment\nETCD_VERSION=v3.6.16\n\n KUBE_VERSION=v1.36.3 \nnot a line\n'), { ETCD_VERSION: 'v3.6.16', KUBE_VERSION: 'v1.36.3' });
});

test('resolveBinaries places each binary under <cache>/<component>-<version>', () => {
  const binaries = resolveBinaries(
    { ETCD_VERSION: 'v3.6.16', KUBE_VERSION: 'v1.36.3', VAULT_VERSION: 'v1.14.8', CONTAINERD_VERSION: 'v2.4.2', CRICTL_VERSION: 'v1.37.0', COREDNS_VERSION: 'v1.15.0', HELM_VERSION: 'v3.22.0' },
    '/cache',
  );
  assert.equal(binaries.etcd, '/cache/etcd-v3.6.16/etcd');
  assert.equal(binaries.kubeApiserver, '/cache/kubernetes-v1.36.3/kube-apiserver');
  assert.equal(binaries.kubeControllerManager, '/cache/kubernetes-v1.36.3/kube-controller-manager');
  assert.equal(binaries.vault, '/cache/vault-v1.14.8/vault');
  assert.equal(binaries.kubelet, '/cache/kubernetes-v1.36.3/kubelet');
  assert.equal(binaries.kubectl, '/cache/kubernetes-v1.36.3/kubectl');
  assert.equal(binaries.containerdBin, '/cache/containerd-v2.4.2');
  assert.equal(binaries.crictl, '/cache/crictl-v1.37.0/crictl');
  assert.equal(binaries.coredns, '/cache/coredns-v1.15.0/coredns');
  assert.equal(binaries.helm, '/cache/helm-v3.22.0/helm');
});

test('resolveBinaries names the missing version key', () => {
  assert.throws(() => resolveBinaries({ ETCD_VERSION: 'v3.6.16' }, '/cache'), (err: unknown) => isCourierError(err, 'config') && err.message.includes('KUBE_VERSION'));
});
