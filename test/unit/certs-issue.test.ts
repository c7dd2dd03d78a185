/**
 * certs/issue.ts for real: the files it writes, read back with @peculiar/x509 and with
 * node:crypto, and the serving certificate used in a TLS handshake under its CA.
 */
// The X.509 library needs the Reflect metadata API before it loads (see certs/src/x509.ts).
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, createServer } from 'node:tls';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { loadYaml } from '@kubernetes/client-node';
import { issueWebhookCertificates, OUTPUT_FILES, type IssueOptions } from '../../certs/issue.ts';
import { createCa, issueLeaf, loadCa, validityFrom } from '../../certs/src/x509.ts';

const ISSUE_TS = path.resolve(import.meta.dirname, '../../certs/issue.ts');
const DAY_MS = 86_400_000;
let dir: string;
const options = (out: string, extra: Partial<IssueOptions> = {}): IssueOptions => ({ service: 'vault-courier', namespace: 'security', days: 30, caDays: 400, out, secretName: 'vault-courier-tls', ...extra });
const read = (out: string, name: string) => readFile(path.join(out, name), 'utf8');
/** Plain data: loadYaml builds the client's model classes for Kubernetes kinds. */
const parseYaml = <T>(text: string): T => JSON.parse(JSON.stringify(loadYaml(text))) as T;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vault-courier-certs-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('issueWebhookCertificates writes exactly the documented files, private ones 0600', async () => {
  const out = path.join(dir, 'files');
  await issueWebhookCertificates(options(out));
  assert.deepEqual((await readdir(out)).sort(), Object.values(OUTPUT_FILES).sort());
  for (const name of Object.values(OUTPUT_FILES)) {
    const mode = (await stat(path.join(out, name))).mode & 0o777;
    const isPrivate = [OUTPUT_FILES.key, OUTPUT_FILES.caKey, OUTPUT_FILES.secret].some((n) => n === name);
    assert.equal(mode, isPrivate ? 0o600 : 0o644, `${name}: mode ${mode.toString(8)}`);
  }
  assert.equal((await stat(out)).mode & 0o777, 0o700, 'the directory holds keys: owner only');
  assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith('.')), [], 'no staging directory left behind');
});

test('the serving certificate, read by node:crypto: SANs, EKU, validity, signed by the CA, matches its key', async () => {
  const out = path.join(dir, 'node-crypto');
  const now = new Date();
  await issueWebhookCertificates(options(out), now);
  const ca = new X509Certificate(await read(out, OUTPUT_FILES.caCert));
  const leaf = new X509Certificate(await read(out, OUTPUT_FILES.cert));
  assert.equal(leaf.subjectAltName, 'DNS:vault-courier.security.svc, DNS:vault-courier.security.svc.cluster.local, DNS:vault-courier.security, DNS:vault-courier');
  assert.equal(leaf.subject, 'CN=vault-courier.security.svc');
  assert.equal(leaf.issuer, ca.subject);
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'node:crypto names the extended key usage keyUsage: serverAuth only');
  assert.equal(leaf.ca, false);
  assert.equal(ca.ca, true);
  assert.ok(leaf.checkIssued(ca));
  assert.ok(leaf.verify(ca.publicKey), 'the leaf is signed by the CA');
  assert.ok(ca.verify(ca.publicKey), 'the CA is self-signed');
  assert.ok(leaf.checkPrivateKey(createPrivateKey(await read(out, OUTPUT_FILES.key))));
  assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(leaf.validFromDate <= now && leaf.validFromDate.getTime() > now.getTime() - 10 * 60_000, 'valid from a few minutes before now');
  assert.equal(Math.round((leaf.validToDate.getTime() - now.getTime()) / DAY_MS), 30);
  assert.equal(Math.round((ca.validToDate.getTime() - now.getTime()) / DAY_MS), 400);
  assert.ok(ca.validToDate > leaf.validToDate, 'the CA outlives the leaf');
  assert.ok(leaf.checkHost('vault-courier.security.svc'));
  assert.equal(leaf.checkHost('other.security.svc'), undefined);
});

async function peculiarPair(name: string): Promise<{ ca: x509.X509Certificate; leaf: x509.X509Certificate }> {
  const out = path.join(dir, name);
  await issueWebhookCertificates(options(out));
  return { ca: new x509.X509Certificate(await read(out, OUTPUT_FILES.caCert)), leaf: new x509.X509Certificate(await read(out, OUTPUT_FILES.cert)) };
}

test('the CA, read by @peculiar/x509: critical CA:TRUE, critical keyCertSign and cRLSign', async () => {
  const { ca } = await peculiarPair('peculiar-ca');
  const constraints = ca.getExtension(x509.BasicConstraintsExtension);
  assert.equal(constraints?.ca, true);
  assert.equal(constraints.critical, true);
  const usages = ca.getExtension(x509.KeyUsagesExtension);
  assert.equal(usages?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
  assert.equal(usages.critical, true);
  assert.ok(await ca.isSelfSigned());
});

test('the serving certificate, read by @peculiar/x509: critical CA:FALSE and digitalSignature, serverAuth, SANs, chain', async () => {
  const { ca, leaf } = await peculiarPair('peculiar-leaf');
  const constraints = leaf.getExtension(x509.BasicConstraintsExtension);
  assert.equal(constraints?.ca, false);
  assert.equal(constraints.critical, true);
  const usages = leaf.getExtension(x509.KeyUsagesExtension);
  assert.equal(usages?.usages, x509.KeyUsageFlags.digitalSignature, 'an EC key: digitalSignature, no keyEncipherment');
  assert.equal(usages.critical, true);
  assert.deepEqual([...(leaf.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])], [x509.ExtendedKeyUsage.serverAuth]);
  const sans = leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON();
  assert.deepEqual(sans, ['vault-courier.security.svc', 'vault-courier.security.svc.cluster.local', 'vault-courier.security', 'vault-courier'].map((value) => ({ type: 'dns', value })));
  assert.equal(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
  assert.ok(await leaf.verify({ publicKey: ca.publicKey, date: new Date() }));
  const chain = await new x509.X509ChainBuilder({ certificates: [ca] }).build(leaf);
  assert.deepEqual([...chain].map((c) => c.subject), [leaf.subject, ca.subject]);
});

test('a TLS client that trusts only ca.crt accepts the server for <service>.<namespace>.svc', async () => {
  const out = path.join(dir, 'handshake');
  await issueWebhookCertificates(options(out));
  const server = createServer({ cert: await read(out, OUTPUT_FILES.cert), key: await read(out, OUTPUT_FILES.key) }, (socket) => socket.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const ca = await read(out, OUTPUT_FILES.caCert);
  const handshake = (servername: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ca }, () => socket.once('data', (data: Buffer) => resolve(data.toString())));
      socket.once('error', reject);
    });
  try {
    assert.equal(await handshake('vault-courier.security.svc'), 'ok');
    await assert.rejects(handshake('vault-courier.other.svc'), /ERR_TLS_CERT_ALTNAME_INVALID|does not match/);
  } finally {
    server.close();
  }
});

test('secret.yaml is a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt; the caBundle file and the values agree', async () => {
  const out = path.join(dir, 'manifests');
  const issued = await issueWebhookCertificates(options(out));
  const secret = parseYaml<{ apiVersion: string; kind: string; type: string; metadata: { name: string; namespace: string }; data: Record<string, string> }>(await read(out, OUTPUT_FILES.secret));
  assert.equal(secret.apiVersion, 'v1');
  assert.equal(secret.kind, 'Secret');
  assert.equal(secret.type, 'kubernetes.io/tls');
  assert.deepEqual(secret.metadata, { name: 'vault-courier-tls', namespace: 'security', labels: { 'app.kubernetes.io/part-of': 'vault-courier' } });
  assert.deepEqual(Object.keys(secret.data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  const decoded = (key: string) => Buffer.from(secret.data[key] ?? '', 'base64').toString('utf8');
  assert.equal(decoded('tls.crt'), await read(out, OUTPUT_FILES.cert));
  assert.equal(decoded('tls.key'), await read(out, OUTPUT_FILES.key));
  assert.equal(decoded('ca.crt'), await read(out, OUTPUT_FILES.caCert));

  const caBundle = (await read(out, OUTPUT_FILES.caBundle)).trim();
  assert.equal(caBundle, issued.caBundle);
  assert.equal(Buffer.from(caBundle, 'base64').toString('utf8'), await read(out, OUTPUT_FILES.caCert));
  assert.deepEqual(parseYaml(await read(out, OUTPUT_FILES.helmValues)), { certificates: { source: 'secret', secretName: 'vault-courier-tls', caBundle } });
});

test('--ca renews the serving certificate under the same CA: the caBundle stays the same', async () => {
  const first = path.join(dir, 'renew-1');
  const second = path.join(dir, 'renew-2');
  await issueWebhookCertificates(options(first));
  await issueWebhookCertificates(options(second, { caDir: first, days: 60 }));
  assert.equal(await read(second, OUTPUT_FILES.caBundle), await read(first, OUTPUT_FILES.caBundle));
  assert.equal(await read(second, OUTPUT_FILES.caKey), await read(first, OUTPUT_FILES.caKey));
  const ca = new X509Certificate(await read(first, OUTPUT_FILES.caCert));
  const renewed = new X509Certificate(await read(second, OUTPUT_FILES.cert));
  assert.notEqual(renewed.serialNumber, new X509Certificate(await read(first, OUTPUT_FILES.cert)).serialNumber);
  assert.ok(renewed.verify(ca.publicKey));
  await assert.rejects(issueWebhookCertificates(options(path.join(dir, 'renew-3'), { caDir: first, days: 500 })), /^CourierError: --days 500: the certificate would outlive the CA in .*renew-1 .*lower --days or issue a new CA/);
});

test('refusals name the flag and the fix, and leave nothing half-written', async () => {
  const taken = path.join(dir, 'taken');
  await mkdir(taken);
  await writeFile(path.join(taken, 'keep.txt'), 'mine');
  await assert.rejects(issueWebhookCertificates(options(taken)), /--out .*taken exists and holds files \(keep\.txt\); give a new directory/);
  assert.deepEqual(await readdir(taken), ['keep.txt']);

  const empty = path.join(dir, 'empty');
  await mkdir(empty);
  await issueWebhookCertificates(options(empty));
  assert.equal((await readdir(empty)).length, Object.keys(OUTPUT_FILES).length, 'an empty directory is used');

  await assert.rejects(issueWebhookCertificates(options(path.join(dir, 'no', 'such', 'parent'))), /--out .*parent: cannot create a directory beside it \(ENOENT\); create .* first/);
  await assert.rejects(issueWebhookCertificates(options(path.join(dir, 'x'), { caDir: path.join(dir, 'nowhere') })), /--ca .*nowhere: cannot read ca\.crt and ca\.key there \(ENOENT\)/);
  assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith('.')), [], 'no staging directory left behind');
});

test('a wrong CA directory is refused without quoting the key', async () => {
  const a = path.join(dir, 'ca-a');
  const b = path.join(dir, 'ca-b');
  await Promise.all([issueWebhookCertificates(options(a)), issueWebhookCertificates(options(b))]);
  const mixed = path.join(dir, 'ca-mixed');
  await mkdir(mixed);
  await writeFile(path.join(mixed, 'ca.crt'), await read(a, OUTPUT_FILES.caCert));
  await writeFile(path.join(mixed, 'ca.key'), await read(b, OUTPUT_FILES.caKey));
  await assert.rejects(issueWebhookCertificates(options(path.join(dir, 'm-out'), { caDir: mixed })), /--ca .*ca-mixed: the CA key does not belong to the CA certificate/);

  const notCa = path.join(dir, 'not-a-ca');
  await mkdir(notCa);
  await writeFile(path.join(notCa, 'ca.crt'), await read(a, OUTPUT_FILES.cert));
  await writeFile(path.join(notCa, 'ca.key'), await read(a, OUTPUT_FILES.key));
  await assert.rejects(issueWebhookCertificates(options(path.join(dir, 'n-out'), { caDir: notCa })), /is not a CA \(no basicConstraints CA:TRUE\)/);

  const canary = 'CANARY-KEY-MATERIAL-4f1d';
  const garbled = path.join(dir, 'ca-garbled');
  await mkdir(garbled);
  await writeFile(path.join(garbled, 'ca.crt'), await read(a, OUTPUT_FILES.caCert));
  await writeFile(path.join(garbled, 'ca.key'), `-----BEGIN PRIVATE KEY-----\n${canary}\n-----END PRIVATE KEY-----\n`);
  await assert.rejects(issueWebhookCertificates(options(path.join(dir, 'g-out'), { caDir: garbled })), (err: Error) => {
    assert.match(err.message, /the CA key is not a PEM private key/);
    assert.doesNotMatch(err.message, new RegExp(canary));
    return true;
  });
});

test('an RSA serving key gets keyEncipherment as well', async () => {
  const ca = loadCa(await createCa({ commonName: 'rsa-test-ca', ...validityFrom(new Date(), 2) }));
  const leaf = await issueLeaf(ca, { commonName: 'rsa', dnsNames: ['rsa.test'], usage: 'server', keyAlgorithm: 'rsa-2048', ...validityFrom(new Date(), 1) });
  const cert = new x509.X509Certificate(leaf.certPem);
  assert.equal(cert.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
  assert.equal(new X509Certificate(leaf.certPem).publicKey.asymmetricKeyType, 'rsa');
});

test('the command: exit 2 with every argument problem on stderr, 0 with the files written', async () => {
  const run = promisify(execFile);
  const failed = await run(process.execPath, [ISSUE_TS, '--service', 'Bad_Name', '--days', '0'], { cwd: dir }).then(
    () => assert.fail('the command accepted bad arguments'),
    (err: { code: number; stderr: string; stdout: string }) => err,
  );
  assert.equal(failed.code, 2);
  assert.match(failed.stderr, /--service "Bad_Name" is not a DNS label/);
  assert.match(failed.stderr, /--namespace is required/);
  assert.match(failed.stderr, /--days "0" is not a positive whole number/);
  assert.equal(failed.stdout, '');

  const ok = await run(process.execPath, [ISSUE_TS, '--service', 'vault-courier', '--namespace', 'vault-courier', '--out', 'cli-out'], { cwd: dir, env: { ...process.env, INIT_CWD: dir } });
  assert.match(ok.stdout, /Wrote ca\.crt, ca\.key, tls\.crt, tls\.key, secret\.yaml, ca-bundle\.b64, values-secret\.yaml to /);
  assert.doesNotMatch(ok.stdout, /PRIVATE KEY|LS0t/, 'no key material on the terminal');
  assert.deepEqual((await readdir(path.join(dir, 'cli-out'))).sort(), Object.values(OUTPUT_FILES).sort());

  const again = await run(process.execPath, [ISSUE_TS, '--service', 'vault-courier', '--namespace', 'vault-courier', '--out', 'cli-out'], { cwd: dir, env: { ...process.env, INIT_CWD: dir } }).then(
    () => assert.fail('the command wrote over an existing directory'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(again.code, 1);
  assert.match(again.stderr, /--out .*cli-out exists and holds files/);
});
