import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certificateConfig } from './pki.ts';

test('certificateConfig: CA, serving and client certificates get only their own extensions', () => {
  const ca = certificateConfig('ca');
  assert.match(ca, /basicConstraints = critical, CA:TRUE/);
  const server = certificateConfig({ name: 's', commonName: 's', usage: 'server', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
  assert.match(server, /CA:FALSE/);
  assert.match(server, /extendedKeyUsage = serverAuth/);
  assert.match(server, /subjectAltName = IP:127.0.0.1, DNS:localhost/);
  const client = certificateConfig({ name: 'c', commonName: 'c', organization: 'system:masters', usage: 'client' });
  assert.match(client, /extendedKeyUsage = clientAuth/);
  assert.doesNotMatch(client, /subjectAltName/);
});
