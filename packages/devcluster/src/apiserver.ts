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
import type { Placement } from './etcd.ts';
import { NODE_IP, SERVICE_CIDR } from './node/netns.ts';

export interface ApiServerFiles {
  readonly caCertPath: string;
  readonly servingCertPath: string;
  readonly servingKeyPath: string;
  readonly serviceAccountPublicKeyPath: string;
  readonly serviceAccountPrivateKeyPath: string;
}

export interface ApiServer {
  /** Where this process reaches it (the published loopback port when it runs in a namespace). */
  readonly url: string;
  /** Where processes of the cluster's namespace reach it. */
  readonly inClusterUrl: string;
  /** Equal to `url`: tokens carry it as `iss`, and /.well-known/openid-configuration names it. */
  readonly issuer: string;
  readonly process: ManagedProcess;
}

/** The files the API server reads, from the cluster's PKI. */
export function apiServerFiles(ca: { certPath: string }, serving: { certPath: string; keyPath: string }, signingKey: { publicKeyPath: string; privateKeyPath: string }): ApiServerFiles {
  return {
    caCertPath: ca.certPath,
    servingCertPath: serving.certPath,
    servingKeyPath: serving.keyPath,
    serviceAccountPublicKeyPath: signingKey.publicKeyPath,
    serviceAccountPrivateKeyPath: signingKey.privateKeyPath,
  };
}

/** Flags for an API server with a node: it advertises the node's address and routes to pods itself. */
export function nodeApiServerArgs(files: { kubeletClientCertPath: string; kubeletClientKeyPath: string }): string[] {
  return [
    '--bind-address=0.0.0.0',
    `--advertise-address=${NODE_IP}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--endpoint-reconciler-type=lease',
    // Webhooks given by a Service resolve to a Ready endpoint's address: no kube-proxy on that hop.
    '--enable-aggregator-routing=true',
    '--enable-admission-plugins=NodeRestriction,PodSecurity',
    `--kubelet-client-certificate=${files.kubeletClientCertPath}`,
    `--kubelet-client-key=${files.kubeletClientKeyPath}`,
    '--kubelet-preferred-address-types=InternalIP',
  ];
}

/** The issuer of service-account tokens when the cluster has a node: the name pods use for the API server. */
export const IN_CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export function apiServerArgs(options: { port: number; etcdUrl: string; certDir: string; files: ApiServerFiles; issuer?: string; node?: readonly string[] }): string[] {
  const issuer = options.issuer ?? `https://127.0.0.1:${options.port}`;
  const loopbackOnly = ['--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', '--service-cluster-ip-range=10.0.0.0/24', '--endpoint-reconciler-type=none'];
  const placementArgs = options.node ?? loopbackOnly;
  return [
    ...placementArgs,
    `--etcd-servers=${options.etcdUrl}`,
    `--secure-port=${options.port}`,
    `--cert-dir=${options.certDir}`,
    `--tls-cert-file=${options.files.servingCertPath}`,
    `--tls-private-key-file=${options.files.servingKeyPath}`,
    `--client-ca-file=${options.files.caCertPath}`,
    `--service-account-issuer=${issuer}`,
    `--service-account-jwks-uri=${issuer}/openid/v1/jwks`,
    `--service-account-key-file=${options.files.serviceAccountPublicKeyPath}`,
    `--service-account-signing-key-file=${options.files.serviceAccountPrivateKeyPath}`,
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true',
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
  /** With a node: inside the namespace on :6443, with these extra flags (nodeApiServerArgs). */
  placement?: Placement & { readonly nodeArgs: readonly string[] };
}): Promise<ApiServer> {
  const placement = options.placement;
  const port = placement === undefined ? await freePort() : 6443;
  const certDir = join(options.dir, 'kube-apiserver');
  await mkdir(certDir, { recursive: true, mode: 0o700 });
  const url = `https://127.0.0.1:${placement?.publishedPort ?? port}`;
  const issuer = placement === undefined ? url : IN_CLUSTER_ISSUER;
  const proc = startProcess({
    name: 'kube-apiserver',
    command: options.binary,
    logPath: options.logPath,
    netns: placement?.netns,
    args: apiServerArgs({ port, etcdUrl: options.etcdUrl, certDir, files: options.files, issuer, node: placement?.nodeArgs }),
  });
  try {
    await waitUntilReady(proc, async () => (await probe(`${url}/readyz`, options.adminTls)).status === 200, options.timeoutMs);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { url, inClusterUrl: placement === undefined ? url : `https://${NODE_IP}:${port}`, issuer, process: proc };
}
