import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCourierError } from '@vault-courier/core';
import { parseVersions, resolveBinaries } from './binaries.ts';

test('parseVersions reads KEY=value lines and skips comments', () => {
  assert.deepEqual(parseVersions('# comment\nETCD_VERSION=v3.6.16\n\n KUBE_VERSION=v1.36.3 \nnot a line\n'), { ETCD_VERSION: 'v3.6.16', KUBE_VERSION: 'v1.36.3' });
});

test('resolveBinaries places each binary under <cache>/<component>-<version>', () => {
  const binaries = resolveBinaries({ ETCD_VERSION: 'v3.6.16', KUBE_VERSION: 'v1.36.3', VAULT_VERSION: 'v1.14.8' }, '/cache');
  assert.equal(binaries.etcd, '/cache/etcd-v3.6.16/etcd');
  assert.equal(binaries.kubeApiserver, '/cache/kubernetes-v1.36.3/kube-apiserver');
  assert.equal(binaries.kubeControllerManager, '/cache/kubernetes-v1.36.3/kube-controller-manager');
  assert.equal(binaries.vault, '/cache/vault-v1.14.8/vault');
});

test('resolveBinaries names the missing version key', () => {
  assert.throws(() => resolveBinaries({ ETCD_VERSION: 'v3.6.16' }, '/cache'), (err: unknown) => isCourierError(err, 'config') && err.message.includes('KUBE_VERSION'));
});
