/**
 * kube-apiserver on loopback: RBAC, the default admission plugins (MutatingAdmissionWebhook
 * among them), a service-account issuer and signing key so TokenRequest works and
 * /openid/v1/jwks is served, and client-certificate authentication for the admin.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { probe, type TlsMaterial } from './http-probe.ts';
import { freePort } from './ports.ts';
import { startProcess, waitUntilReady, type ManagedProcess } from './process.ts';

export interface ApiServerFiles {
  readonly caCertPath: string;
  readonly servingCertPath: string;
  readonly servingKeyPath: string;
  readonly serviceAccountPublicKeyPath: string;
  readonly serviceAccountPrivateKeyPath: string;
}

export interface ApiServer {
  readonly url: string;
  /** Equal to `url`: tokens carry it as `iss`, and /.well-known/openid-configuration names it. */
  readonly issuer: string;
  readonly process: ManagedProcess;
}

export function apiServerArgs(options: { port: number; etcdUrl: string; certDir: string; files: ApiServerFiles }): string[] {
  const issuer = `https://127.0.0.1:${options.port}`;
  return [
    `--etcd-servers=${options.etcdUrl}`,
    '--bind-address=127.0.0.1',
    // Without it the API server looks for an interface with a default route.
    '--advertise-address=127.0.0.1',
    `--secure-port=${options.port}`,
    `--cert-dir=${options.certDir}`,
    `--tls-cert-file=${options.files.servingCertPath}`,
    `--tls-private-key-file=${options.files.servingKeyPath}`,
    `--client-ca-file=${options.files.caCertPath}`,
    `--service-account-issuer=${issuer}`,
    `--service-account-jwks-uri=${issuer}/openid/v1/jwks`,
    `--service-account-key-file=${options.files.serviceAccountPublicKeyPath}`,
    `--service-account-signing-key-file=${options.files.serviceAccountPrivateKeyPath}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true',
    // No Endpoints for the `kubernetes` Service: nothing here routes to it.
    '--endpoint-reconciler-type=none',
    '--enable-priority-and-fairness=false',
    '--profiling=false',
    '--v=1',
  ];
}

export async function startApiServer(options: {
  binary: string;
  dir: string;
  logPath: string;
  etcdUrl: string;
  files: ApiServerFiles;
  /** The admin's client certificate, for the readiness probe. */
  adminTls: TlsMaterial;
  timeoutMs: number;
}): Promise<ApiServer> {
  const port = await freePort();
  const certDir = join(options.dir, 'kube-apiserver');
  await mkdir(certDir, { recursive: true, mode: 0o700 });
  const url = `https://127.0.0.1:${port}`;
  const proc = startProcess({
    name: 'kube-apiserver',
    command: options.binary,
    logPath: options.logPath,
    args: apiServerArgs({ port, etcdUrl: options.etcdUrl, certDir, files: options.files }),
  });
  try {
    await waitUntilReady(proc, async () => (await probe(`${url}/readyz`, options.adminTls)).status === 200, options.timeoutMs);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { url, issuer: url, process: proc };
}
