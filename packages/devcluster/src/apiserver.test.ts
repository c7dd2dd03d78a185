import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiServerArgs } from './apiserver.ts';

test('apiServerArgs: loopback only, RBAC, and an issuer equal to the serving URL', () => {
  const args = apiServerArgs({
    port: 6443,
    etcdUrl: 'http://127.0.0.1:2379',
    certDir: '/d',
    files: { caCertPath: 'ca', servingCertPath: 'crt', servingKeyPath: 'key', serviceAccountPublicKeyPath: 'pub', serviceAccountPrivateKeyPath: 'priv' },
  });
  for (const flag of [
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    '--secure-port=6443',
    '--service-account-issuer=https://127.0.0.1:6443',
    '--service-account-jwks-uri=https://127.0.0.1:6443/openid/v1/jwks',
    '--service-account-signing-key-file=priv',
    '--client-ca-file=ca',
  ]) {
    assert.ok(args.includes(flag), flag);
  }
  assert.ok(args.some((a) => a.startsWith('--authorization-mode=') && a.includes('RBAC')));
  // The default admission plugins (MutatingAdmissionWebhook among them) stay on.
  assert.ok(!args.some((a) => a.startsWith('--disable-admission-plugins') || a.startsWith('--enable-admission-plugins')));
});
