/**
 * The dev cluster's PKI: one CA (ECDSA P-256: fast to make, accepted everywhere), serving
 * and client certificates it signs, and the RSA key pair that signs service-account
 * tokens. Everything expires in a week: it is throw-away. The certificates are built by
 * certs/src/x509.ts, the same code that makes the webhook's certificates for users.
 */
import { generateKeyPair } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CourierError } from '@vault-courier/core';
import { createCa, issueLeaf, loadCa, validityFrom, type KeyPairPem } from '../../../certs/src/x509.ts';

const DAYS = 7;

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
  /** Subject O: Kubernetes reads it as the client's group (`system:masters`), and CN as the user. */
  readonly organization?: string;
  /** IP addresses and DNS names for a serving certificate. */
  readonly ipAddresses?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly usage: 'server' | 'client';
}

async function writePair(dir: string, name: string, pem: KeyPairPem): Promise<CertificateFiles> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  try {
    await Promise.all([writeFile(certPath, pem.certPem), writeFile(keyPath, pem.keyPem, { mode: 0o600 })]);
  } catch (cause) {
    throw new CourierError('io', `cannot write ${certPath} and ${keyPath} (${(cause as NodeJS.ErrnoException).code ?? 'error'}); check that ${dir} exists and is writable`, { cause });
  }
  return { certPath, keyPath, certPem: pem.certPem, keyPem: pem.keyPem };
}

export async function createCertificateAuthority(dir: string, commonName = 'vault-courier-devcluster-ca'): Promise<CertificateFiles> {
  return writePair(dir, 'ca', await createCa({ commonName, ...validityFrom(new Date(), DAYS) }));
}

/** A key and a certificate signed by `ca`, written to `<dir>/<name>.{crt,key}`. */
export async function issueCertificate(dir: string, ca: CertificateFiles, request: CertificateRequest): Promise<CertificateFiles> {
  const authority = loadCa(ca);
  const validity = validityFrom(new Date(), DAYS);
  // The CA was made moments earlier with the same lifetime: never outlive it.
  const notAfter = validity.notAfter < authority.cert.notAfter ? validity.notAfter : authority.cert.notAfter;
  const { name: _name, ...leaf } = request;
  const pem = await issueLeaf(authority, { ...leaf, notBefore: validity.notBefore, notAfter });
  return writePair(dir, request.name, pem);
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
