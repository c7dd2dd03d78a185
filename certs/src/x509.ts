/**
 * The project's X.509: a CA and the certificates it signs, made with @peculiar/x509 on
 * Node's WebCrypto. Shared by the webhook's certificate command (certs/issue.ts) and the
 * dev cluster's PKI (packages/devcluster/src/pki.ts), so there is one way to build a
 * certificate and one place to read which extensions it carries.
 */
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata
// API before the library loads.
import 'reflect-metadata';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
  cryptoProvider,
  type Extension,
  type JsonGeneralName,
  type JsonName,
} from '@peculiar/x509';
import { createPrivateKey, createPublicKey, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { CourierError } from '@vault-courier/core/support/errors';

cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048';

/** A certificate and its private key, both PEM ending in a newline (the key PKCS #8, unencrypted). */
export interface KeyPairPem {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface CaRequest extends Validity {
  readonly commonName: string;
}

export interface LeafRequest extends Validity {
  readonly commonName: string;
  /** Subject O: Kubernetes reads a client certificate's O as the group and CN as the user. */
  readonly organization?: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly usage: 'server' | 'client';
  /** Default ECDSA P-256: small, fast to make, accepted by Go, Node and every browser. */
  readonly keyAlgorithm?: KeyAlgorithm;
}

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const RSA_2048 = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as const;
const SIGN_USAGES: webcrypto.KeyUsage[] = ['sign', 'verify'];

/** `days` whole days from `now`, starting a few minutes early so a peer whose clock runs behind still accepts it. */
export function validityFrom(now: Date, days: number): Validity {
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  return { notBefore, notAfter: new Date(now.getTime() + days * 86_400_000) };
}

/** 128 random bits, the top one clear: RFC 5280 serials are positive and at most 20 octets. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f | 0x01;
  return bytes.toString('hex');
}

function generateKeys(algorithm: KeyAlgorithm): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(algorithm === 'rsa-2048' ? RSA_2048 : ECDSA_P256, true, SIGN_USAGES) as Promise<webcrypto.CryptoKeyPair>;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

function signingAlgorithm(key: CryptoKey): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return key.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

function subject(commonName: string, organization?: string): JsonName {
  return organization === undefined ? [{ CN: [commonName] }] : [{ O: [organization] }, { CN: [commonName] }];
}

export async function createCa(request: CaRequest): Promise<KeyPairPem> {
  const keys = await generateKeys('ecdsa-p256');
  const extensions: Extension[] = [
    new BasicConstraintsExtension(true, undefined, true),
    new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
    await SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subject(request.commonName),
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey),
    extensions,
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await privateKeyPem(keys.privateKey) };
}

/** Subject alternative names: IP entries first, as openssl printed them; each IP checked here, not by the library. */
export function subjectAltNames(request: Pick<LeafRequest, 'dnsNames' | 'ipAddresses'>): JsonGeneralName[] {
  const ips = (request.ipAddresses ?? []).map((ip): JsonGeneralName => {
    if (isIP(ip) === 0) throw new CourierError('config', `"${ip}" is not an IP address; give IPv4 (127.0.0.1) or IPv6 (::1) addresses`);
    return { type: 'ip', value: ip };
  });
  return [...ips, ...(request.dnsNames ?? []).map((dns): JsonGeneralName => ({ type: 'dns', value: dns }))];
}

export function leafKeyUsages(algorithm: KeyAlgorithm): KeyUsageFlags {
  // keyEncipherment only means something for RSA key transport; an EC key cannot do it.
  return algorithm === 'rsa-2048' ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment : KeyUsageFlags.digitalSignature;
}

/** The CA's certificate and signing key, checked to belong together and to be a CA. */
export interface LoadedCa {
  readonly cert: X509Certificate;
  readonly signingKey: CryptoKey;
  readonly pem: KeyPairPem;
}

function importAlgorithm(key: KeyObject): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return ECDSA_P256;
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  throw new CourierError('config', `the CA key is ${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}; use an ECDSA P-256 or RSA key`);
}

export function loadCa(pem: KeyPairPem): LoadedCa {
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(pem.certPem);
  } catch (cause) {
    throw new CourierError('config', 'the CA certificate is not a PEM X.509 certificate', { cause });
  }
  try {
    key = createPrivateKey(pem.keyPem);
  } catch (cause) {
    // The cause is dropped from the message on purpose: it may quote the key.
    throw new CourierError('config', 'the CA key is not a PEM private key (unencrypted PKCS #8, SEC 1 or PKCS #1)', { cause });
  }
  const constraints = cert.getExtension(BasicConstraintsExtension);
  if (constraints?.ca !== true) throw new CourierError('config', `the certificate ${cert.subject} is not a CA (no basicConstraints CA:TRUE)`);
  const publicFromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!Buffer.from(cert.publicKey.rawData).equals(publicFromKey)) {
    throw new CourierError('config', `the CA key does not belong to the CA certificate ${cert.subject}; give the ca.key written next to that ca.crt`);
  }
  const signingKey = key.toCryptoKey(importAlgorithm(key), false, ['sign']);
  return { cert, signingKey, pem };
}

export async function issueLeaf(ca: LoadedCa, request: LeafRequest): Promise<KeyPairPem> {
  const algorithm = request.keyAlgorithm ?? 'ecdsa-p256';
  const keys = await generateKeys(algorithm);
  const sans = subjectAltNames(request);
  const extensions: Extension[] = [
    new BasicConstraintsExtension(false, undefined, true),
    new KeyUsagesExtension(leafKeyUsages(algorithm), true),
    new ExtendedKeyUsageExtension([request.usage === 'server' ? ExtendedKeyUsage.serverAuth : ExtendedKeyUsage.clientAuth]),
    await SubjectKeyIdentifierExtension.create(keys.publicKey),
    await AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    ...(sans.length > 0 ? [new SubjectAlternativeNameExtension(sans)] : []),
  ];
  const cert = await X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subject(request.commonName, request.organization),
    issuer: ca.cert.subjectName,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: signingAlgorithm(ca.signingKey),
    extensions,
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await privateKeyPem(keys.privateKey) };
}
