/**
 * The dev cluster's PKI, read back with node:crypto: what the API server and its clients
 * rely on (a CA, a serving certificate for its names, a client certificate whose O and CN
 * Kubernetes reads as group and user), and a TLS handshake both ways under that CA.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { createCertificateAuthority, createServiceAccountSigningKey, issueCertificate, type CertificateFiles } from './pki.ts';

const DAY_MS = 86_400_000;
let dir: string;
let ca: CertificateFiles;
let serving: CertificateFiles;
let admin: CertificateFiles;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vault-courier-pki-'));
  ca = await createCertificateAuthority(dir);
  // The requests cluster.ts makes.
  serving = await issueCertificate(dir, ca, { name: 'kube-apiserver', commonName: 'kube-apiserver', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost', 'kubernetes.default.svc'], usage: 'server' });
  admin = await issueCertificate(dir, ca, { name: 'admin', commonName: 'vault-courier-admin', organization: 'system:masters', usage: 'client' });
});
after(() => rm(dir, { recursive: true, force: true }));

test('every pair is written to <dir>/<name>.crt|.key, the returned PEM is the file, keys are 0600', async () => {
  for (const [files, name] of [[ca, 'ca'], [serving, 'kube-apiserver'], [admin, 'admin']] as const) {
    assert.equal(files.certPath, join(dir, `${name}.crt`));
    assert.equal(files.keyPath, join(dir, `${name}.key`));
    assert.equal(await readFile(files.certPath, 'utf8'), files.certPem);
    assert.equal(await readFile(files.keyPath, 'utf8'), files.keyPem);
    assert.match(files.certPem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    assert.match(files.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal((await stat(files.keyPath)).mode & 0o777, 0o600, `${name}.key`);
  }
});

test('the CA: self-signed CA:TRUE, ECDSA P-256, a week, the default name or the one given', async () => {
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.ca, true);
  assert.equal(cert.subject, 'CN=vault-courier-devcluster-ca');
  assert.ok(cert.verify(cert.publicKey));
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(Math.round((cert.validToDate.getTime() - Date.now()) / DAY_MS), 7);
  const named = await createCertificateAuthority(await mkdtemp(join(dir, 'named-')), 'vault-courier-test-ca');
  assert.equal(new X509Certificate(named.certPem).subject, 'CN=vault-courier-test-ca');
});

test('the serving certificate: its IPs and DNS names, serverAuth only, signed by the CA, never outliving it', () => {
  const cert = new X509Certificate(serving.certPem);
  const authority = new X509Certificate(ca.certPem);
  assert.equal(cert.subject, 'CN=kube-apiserver');
  assert.equal(cert.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost, DNS:kubernetes.default.svc');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(cert.ca, false);
  assert.ok(cert.checkIssued(authority) && cert.verify(authority.publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(serving.keyPem)));
  assert.ok(cert.validToDate <= authority.validToDate);
  assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
});

test('the client certificate: O is the group, CN the user; clientAuth only, no SANs', () => {
  const cert = new X509Certificate(admin.certPem);
  assert.equal(cert.subject, 'O=system:masters\nCN=vault-courier-admin');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  assert.equal(cert.subjectAltName, undefined);
  assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
});

test('mutual TLS under the CA: the server is trusted at 127.0.0.1, and sees the client as group system:masters, user vault-courier-admin', async () => {
  let peer: ReturnType<TLSSocket['getPeerCertificate']> | undefined;
  const server = createServer({ cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (socket) => {
    peer = socket.getPeerCertificate();
    socket.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, cert: admin.certPem, key: admin.keyPem }, () => socket.once('data', (data: Buffer) => resolve(data.toString())));
      socket.once('error', reject);
    });
    assert.equal(answer, 'ok');
    assert.equal(peer?.subject.O, 'system:masters');
    assert.equal(peer.subject.CN, 'vault-courier-admin');
  } finally {
    server.close();
  }
});

test('a client certificate is refused as a server, a serving certificate as a client', async () => {
  const server = createServer({ cert: admin.certPem, key: admin.keyPem }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, checkServerIdentity: () => undefined }, () => resolve());
        socket.once('error', reject);
      }),
      /unsuitable certificate purpose|UNSUITABLE/i,
    );
  } finally {
    server.close();
  }
});

test('the service-account signing key: RSA 2048, PKCS #8 private (0600) and SPKI public of one pair', async () => {
  const keys = await createServiceAccountSigningKey(dir);
  assert.equal(keys.privateKeyPath, join(dir, 'service-account.key'));
  assert.equal(keys.publicKeyPath, join(dir, 'service-account.pub'));
  const privateKey = createPrivateKey(await readFile(keys.privateKeyPath, 'utf8'));
  const publicKey = createPublicKey(await readFile(keys.publicKeyPath, 'utf8'));
  assert.equal(privateKey.asymmetricKeyType, 'rsa');
  assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(createPublicKey(privateKey).equals(publicKey));
  assert.equal((await stat(keys.privateKeyPath)).mode & 0o777, 0o600);
});

test('a CA key that does not belong to the CA certificate is refused before anything is written', async () => {
  const other = await createCertificateAuthority(await mkdtemp(join(dir, 'other-')));
  await assert.rejects(issueCertificate(dir, { ...ca, keyPem: other.keyPem }, { name: 'never', commonName: 'never', usage: 'server' }), /the CA key does not belong to the CA certificate/);
  await assert.rejects(stat(join(dir, 'never.crt')), { code: 'ENOENT' });
});
