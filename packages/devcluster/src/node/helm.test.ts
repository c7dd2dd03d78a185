import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chartValues } from './helm.ts';

test('chartValues: the locally built images, never pulled, and the cluster Vault', () => {
  assert.deepEqual(chartValues({ vaultAddr: 'http://10.250.0.1:8200', replicas: 2 }), {
    replicaCount: 2,
    'image.repository': 'vault-courier/webhook',
    'image.tag': 'dev',
    'image.pullPolicy': 'Never',
    'initImage.repository': 'vault-courier/init',
    'initImage.tag': 'dev',
    'sidecarImage.repository': 'vault-courier/sidecar',
    'sidecarImage.tag': 'dev',
    'vault.addr': 'http://10.250.0.1:8200',
  });
  assert.equal(chartValues({ vaultAddr: 'x', replicas: 1, extra: { 'webhook.logLevel': 'debug' } })['webhook.logLevel'], 'debug');
});
