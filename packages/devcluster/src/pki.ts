/**
 * The dev cluster's PKI, made with the openssl CLI: one CA (ECDSA P-256: fast to make,
 * accepted everywhere), serving and client certificates it signs, and the RSA key pair
 * that signs service-account tokens. Everything expires in a week: it is throw-away.
 */
import { execFile } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CourierError } from '@vault-courier/core';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';
const DAYS = '7';

export interface CertificateFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateRequest {
  /** File name stem: `<name>.crt`, `<name>.key`. */
  readonly name: string;
  readonly commonName: string;
  /** Subject O: Kubernetes reads it as the client's group (`system:masters`). */
  readonly organization?: string;
  /** IP addresses and DNS names for a serving certificate. */
  readonly ipAddresses?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly usage: 'server' | 'client';
}

/** The openssl config for one certificate: its extensions, nothing inherited. */
export function certificateConfig(request: CertificateRequest | 'ca'): string {
  const lines = ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', '[ext]'];
  if (request === 'ca') {
    lines.push('basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign, digitalSignature', 'subjectKeyIdentifier = hash');
    return `${lines.join('\n')}\n`;
  }
  lines.push('basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment');
  lines.push(`extendedKeyUsage = ${request.usage === 'server' ? 'serverAuth' : 'clientAuth'}`);
  const sans = [...(request.ipAddresses ?? []).map((ip) => `IP:${ip}`), ...(request.dnsNames ?? []).map((dns) => `DNS:${dns}`)];
  if (sans.length > 0) lines.push(`subjectAltName = ${sans.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function subject(commonName: string, organization?: string): string {
  return organization === undefined ? `/CN=${commonName}` : `/O=${organization}/CN=${commonName}`;
}

async function openssl(args: readonly string[], what: string): Promise<void> {
  try {
    await run(OPENSSL, [...args]);
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? '';
    throw new CourierError('io', `openssl failed to create ${what}: ${stderr.trim()}; check that ${OPENSSL} is OpenSSL 3`, { cause });
  }
}

async function readPair(certPath: string, keyPath: string): Promise<CertificateFiles> {
  const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { certPath, keyPath, certPem, keyPem };
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function createCertificateAuthority(dir: string, commonName = 'vault-courier-devcluster-ca'): Promise<CertificateFiles> {
  const config = join(dir, 'ca.cnf');
  await writeFile(config, certificateConfig('ca'));
  const certPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  await openssl(
    ['req', '-x509', ...NEW_KEY, '-keyout', keyPath, '-out', certPath, '-days', DAYS, '-subj', subject(commonName), '-config', config, '-extensions', 'ext'],
    'the CA',
  );
  return readPair(certPath, keyPath);
}

/** A key and a certificate signed by `ca`, written to `<dir>/<name>.{crt,key}`. */
export async function issueCertificate(dir: string, ca: CertificateFiles, request: CertificateRequest): Promise<CertificateFiles> {
  const config = join(dir, `${request.name}.cnf`);
  await writeFile(config, certificateConfig(request));
  const certPath = join(dir, `${request.name}.crt`);
  const keyPath = join(dir, `${request.name}.key`);
  await openssl(
    [
      'req', '-x509', ...NEW_KEY, '-keyout', keyPath, '-out', certPath, '-days', DAYS,
      '-subj', subject(request.commonName, request.organization),
      '-CA', ca.certPath, '-CAkey', ca.keyPath, '-config', config, '-extensions', 'ext',
    ],
    `the certificate ${request.name}`,
  );
  return readPair(certPath, keyPath);
}

export interface SigningKeyFiles {
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
}

/** RSA: RS256 is what every consumer of service-account tokens accepts. */
export async function createServiceAccountSigningKey(dir: string): Promise<SigningKeyFiles> {
  const generate = promisify(generateKeyPair);
  const { privateKey, publicKey } = await generate('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privateKeyPath = join(dir, 'service-account.key');
  const publicKeyPath = join(dir, 'service-account.pub');
  await Promise.all([writeFile(privateKeyPath, privateKey, { mode: 0o600 }), writeFile(publicKeyPath, publicKey)]);
  return { privateKeyPath, publicKeyPath };
}
