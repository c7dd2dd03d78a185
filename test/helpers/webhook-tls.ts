/**
 * Shared by the webhook's tests and the integration tests: a CA and a serving certificate
 * for 127.0.0.1 (the devcluster's PKI, on certs/), a configuration that points at them, and a
 * small HTTPS client that trusts that CA.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCertificateAuthority, issueCertificate, type CertificateFiles } from '@vault-courier/devcluster/pki';
import { parseConfig, type WebhookConfig } from '@vault-courier/core';

export interface TestPki {
  readonly dir: string;
  readonly ca: CertificateFiles;
  readonly serving: CertificateFiles;
  /** Issues another serving certificate (for reload tests) into `<dir>/<name>.{crt,key}`. */
  issue(name: string): Promise<CertificateFiles>;
  remove(): Promise<void>;
}

export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vault-courier-webhook-'));
  const ca = await createCertificateAuthority(dir, 'vault-courier-test-ca');
  const issue = (name: string): Promise<CertificateFiles> => issueCertificate(dir, ca, { name, commonName: `vault-courier-${name}`, ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], usage: 'server' });
  const serving = await issue('serving');
  return { dir, ca, serving, issue, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Where a test's webhook finds its serving pair and the CA that signed it. */
export interface TestTls {
  readonly certPath: string;
  readonly keyPath: string;
  readonly caCertPath: string;
}

export function testTls(pki: TestPki): TestTls {
  return { certPath: pki.serving.certPath, keyPath: pki.serving.keyPath, caCertPath: pki.ca.certPath };
}

/** A loopback configuration through the real parser; `env` overrides any variable. */
export function testWebhookConfig(tls: TestTls, env: Record<string, string> = {}): WebhookConfig {
  return parseConfig({
    VAULT_COURIER_LISTEN: '127.0.0.1:0',
    VAULT_COURIER_METRICS_LISTEN: '127.0.0.1:0',
    VAULT_COURIER_TLS_CERT: tls.certPath,
    VAULT_COURIER_TLS_KEY: tls.keyPath,
    VAULT_COURIER_VAULT_ADDR: 'https://127.0.0.1:8200',
    VAULT_COURIER_VAULT_CACERT: tls.caCertPath,
    VAULT_COURIER_DEFAULT_ROLE: 'app',
    VAULT_COURIER_INIT_IMAGE: 'vault-courier/init:test',
    VAULT_COURIER_SIDECAR_IMAGE: 'vault-courier/sidecar:test',
    VAULT_COURIER_SERVICE_URL: 'https://127.0.0.1:8443',
    VAULT_COURIER_SERVICE_CACERT: tls.caCertPath,
    ...env,
  });
}

export interface HttpsAnswer {
  readonly status: number;
  readonly text: string;
  /** Fingerprint of the certificate the server presented. */
  readonly fingerprint: string;
  json<T = Record<string, unknown>>(): T;
}

export function httpsPost(url: string, body: string, options: { ca: string; contentType?: string }): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: options.ca, agent: false, headers: { 'content-type': options.contentType ?? 'application/json' } }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, text, fingerprint, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
