/**
 * startDevCluster: the real parts on loopback, all state in one temp dir, one handle back.
 * Start order: PKI, then etcd, PostgreSQL and Vault side by side, then the API server,
 * then the controller manager and Vault's configuration side by side. stop() undoes it in
 * reverse and is safe to call twice; the process-exit handlers in process.ts cover the
 * rest (a test that throws, a Ctrl-C).
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { writeKubeconfig } from './kubeconfig.ts';
import { defaultBinaries, type Binaries } from './binaries.ts';
import { apiServerFiles, startApiServer } from './apiserver.ts';
import { startControllerManager } from './controller-manager.ts';
import { startEtcd } from './etcd.ts';
import type { TlsMaterial } from './http-probe.ts';
import { registerNode } from './kube.ts';
import { startClusterWithNode, type NodeHandle } from './node/cluster-with-node.ts';
import { createCertificateAuthority, createServiceAccountSigningKey, issueCertificate, type CertificateFiles, type CertificateRequest } from './pki.ts';
import type { Outages } from './outages.ts';
import { startPostgres, type Postgres } from './postgres.ts';
import { groupRssBytes, registerTempDir, unregisterTempDir, withPortRetry, type ManagedProcess } from './process.ts';
import { configureVaultForCluster } from './vault-setup.ts';
import {
  DATABASE_MOUNT,
  KUBERNETES_AUTH_PATH,
  KV_MOUNT,
  startVaultServer,
  vaultAdmin,
  vaultClient,
  type VaultAdmin,
  type VaultServer,
} from './vault.ts';

export interface DevClusterOptions {
  /** Vault dev server with kubernetes auth, KV v2 at `secret/` (and `database/` with postgres). Default false. */
  readonly vault?: boolean;
  /**
   * Vault set up for the cluster (kubernetes auth, KV v2, the database engine with
   * postgres). Default true; false leaves a bare dev server, for the demo's shared steps
   * to set up as they do on kind.
   */
  readonly configureVault?: boolean;
  /** PostgreSQL in the temp dir. Default false. */
  readonly postgres?: boolean;
  /** kube-controller-manager. Default true. */
  readonly controllers?: boolean;
  /** Override where binaries are found (tests of the missing-binary error). */
  readonly binaries?: Partial<Binaries>;
  /** Per component readiness timeout. Default 60 s (a loaded 2-core machine). */
  readonly timeoutMs?: number;
  /** Keep the temp dir (logs) after stop(), e.g. to read why something failed. */
  readonly keepDir?: boolean;
  /**
   * A real node: everything runs in a network namespace of the cluster's own, with the
   * kubelet, containerd, kube-scheduler, kube-proxy and CoreDNS; the API server, Vault and
   * PostgreSQL are published on loopback. Without it, the control plane alone on loopback
   * (for tests that run the webhook in-process and bind pods themselves).
   */
  readonly node?: boolean;
  /** The image list scripts/build-images.sh writes. Default: <repo>/.tmp/images.json. */
  readonly imagesFile?: string;
}

export interface DevClusterVault extends VaultAdmin {
  /** Where this process reaches Vault. */
  readonly addr: string;
  /** Where pods reach it (equal to `addr` without a node). */
  readonly inClusterAddr: string;
  /** The CA of Vault's certificate: with a node Vault serves TLS; without, plain HTTP on loopback (undefined). */
  readonly caPem: string | undefined;
  readonly rootToken: string;
  /** `auth/kubernetes` */
  readonly authPath: string;
  /** `secret` (KV v2) */
  readonly kvMount: string;
  /** `database` (only configured with postgres) */
  readonly databaseMount: string;
}

export interface DevCluster {
  readonly dir: string;
  readonly kubeconfigPath: string;
  /** The kubectl of the cluster's Kubernetes version (use it with kubeconfigPath). */
  readonly kubectl: string;
  /** Admin (system:masters) client configuration. */
  readonly kubeConfig: KubeConfig;
  readonly apiServerUrl: string;
  /** The cluster CA: signs the API server's certificate and the admin's. */
  readonly caPem: string;
  readonly caCertPath: string;
  /** `iss` of service-account tokens; its keys are at `${apiServerUrl}/openid/v1/jwks`. */
  readonly serviceAccountIssuer: string;
  /** CA and admin client certificate, for raw HTTPS calls to the API server. */
  readonly adminTls: Required<TlsMaterial>;
  readonly vault?: DevClusterVault;
  readonly postgres?: Postgres;
  /** Present with `node: true`. */
  readonly node?: NodeHandle & {
    /** Stops the controllers, deletes every pod and waits until the kubelet stopped them (apps first, then sidecars). */
    drain(): Promise<void>;
  };
  /** Component name -> log file. */
  readonly logs: Readonly<Record<string, string>>;
  readonly processes: readonly ManagedProcess[];
  /** Milliseconds from the call to ready. */
  readonly startupMs: number;
  /** Component -> milliseconds from the call until it was ready. */
  readonly readyAfterMs: Readonly<Record<string, number>>;
  /** A certificate signed by the cluster CA (e.g. a webhook's serving certificate). */
  issueCertificate(request: CertificateRequest): Promise<CertificateFiles>;
  /** Resident memory of every process of the set, children included, in bytes. */
  memoryBytes(): number;
  /** Present with `node: true`: Vault paused or sealed, PostgreSQL and the API server stopped and started again (outages.ts). */
  readonly outages?: Outages;
  stop(): Promise<void>;
}

/** Waits for every promise, then throws the first failure: nothing started is left untracked. */
async function allOrFirstError<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Vault set up for the cluster (vault-setup.ts) and its admin handle. */
async function configureVault(
  kubeConfig: KubeConfig,
  vaultServer: VaultServer | undefined,
  postgres: Postgres | undefined,
  apiServer: { apiServerUrl: string; caPem: string },
  configure: boolean,
): Promise<DevClusterVault | undefined> {
  if (vaultServer === undefined) return undefined;
  const client = vaultClient(vaultServer.addr, vaultServer.rootToken, vaultServer.caPem);
  if (configure) await configureVaultForCluster(kubeConfig, client, { apiServerUrlForVault: apiServer.apiServerUrl, apiServerCaPem: apiServer.caPem, postgres });
  return {
    ...vaultAdmin(client),
    addr: vaultServer.addr,
    inClusterAddr: vaultServer.inClusterAddr,
    caPem: vaultServer.caPem,
    rootToken: vaultServer.rootToken,
    authPath: KUBERNETES_AUTH_PATH,
    kvMount: KV_MOUNT,
    databaseMount: DATABASE_MOUNT,
  };
}

const DEFAULT_IMAGES_FILE = new URL('../../../.tmp/images.json', import.meta.url).pathname;

async function startWithNode(options: DevClusterOptions, binaries: Binaries, timeoutMs: number): Promise<DevCluster> {
  const began = Date.now();
  const parts = await startClusterWithNode({
    binaries,
    timeoutMs,
    vault: options.vault === true,
    postgres: options.postgres === true,
    imagesFile: options.imagesFile ?? DEFAULT_IMAGES_FILE,
    keepDir: options.keepDir === true,
  });
  const { kubeConfig } = parts;
  try {
    const vault = await configureVault(kubeConfig, parts.vault, parts.postgres, {
      // Vault runs in the namespace too: it reviews tokens at the API server's inside address.
      apiServerUrl: parts.node.inClusterApiServerUrl,
      caPem: parts.ca.certPem,
    }, options.configureVault !== false);
    parts.readyAfterMs['vault-configured'] = Date.now() - began;
    return {
      dir: parts.dir,
      kubeconfigPath: parts.kubeconfigPath,
      kubectl: binaries.kubectl,
      kubeConfig,
      apiServerUrl: parts.apiServerUrl,
      caPem: parts.ca.certPem,
      caCertPath: parts.ca.certPath,
      serviceAccountIssuer: parts.issuer,
      adminTls: { ca: parts.ca.certPem, cert: parts.admin.certPem, key: parts.admin.keyPem },
      vault,
      postgres: parts.postgres,
      node: { ...parts.node, drain: () => parts.drain(kubeConfig) },
      logs: parts.logs,
      processes: parts.processes,
      startupMs: Date.now() - began,
      readyAfterMs: parts.readyAfterMs,
      issueCertificate: (request) => issueCertificate(parts.pkiDir, parts.ca, request),
      memoryBytes: parts.memoryBytes,
      outages: parts.outages,
      stop: () => parts.stop(kubeConfig),
    };
  } catch (err) {
    await parts.stop(kubeConfig).catch(() => undefined);
    throw err;
  }
}

export async function startDevCluster(options: DevClusterOptions = {}): Promise<DevCluster> {
  const began = Date.now();
  const binaries = { ...defaultBinaries(), ...options.binaries };
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (options.node === true) return startWithNode(options, binaries, timeoutMs);
  const dir = await mkdtemp(join(tmpdir(), 'vault-courier-devcluster-'));
  // A kept dir is for reading logs after the fact: not even the exit handler removes it.
  if (options.keepDir !== true) registerTempDir(dir);
  // PostgreSQL runs as another user and must be able to reach its directory.
  await chmod(dir, 0o711);
  const pkiDir = join(dir, 'pki');
  const logDir = join(dir, 'logs');
  await Promise.all([mkdir(pkiDir, { mode: 0o700 }), mkdir(logDir)]);
  const logs: Record<string, string> = {};
  const logPath = (name: string) => (logs[name] = join(logDir, `${name}.log`));
  const started: ManagedProcess[] = [];
  const readyAfterMs: Record<string, number> = {};
  const track = <T extends { process: ManagedProcess }>(component: T): T => {
    started.push(component.process);
    readyAfterMs[component.process.name] = Date.now() - began;
    return component;
  };
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const proc of [...started].reverse()) await proc.stop();
      if (options.keepDir !== true) {
        await rm(dir, { recursive: true, force: true });
        unregisterTempDir(dir);
      }
    })());

  try {
    const ca = await createCertificateAuthority(pkiDir);
    const [serving, admin, signingKey, etcd, postgres, vaultServer] = await allOrFirstError<
      [CertificateFiles, CertificateFiles, Awaited<ReturnType<typeof createServiceAccountSigningKey>>, Awaited<ReturnType<typeof startEtcd>>, Postgres | undefined, VaultServer | undefined]
    >([
      issueCertificate(pkiDir, ca, { name: 'kube-apiserver', commonName: 'kube-apiserver', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost', 'kubernetes.default.svc'], usage: 'server' }),
      issueCertificate(pkiDir, ca, { name: 'admin', commonName: 'vault-courier-admin', organization: 'system:masters', usage: 'client' }),
      createServiceAccountSigningKey(pkiDir),
      withPortRetry(() => startEtcd({ binary: binaries.etcd, dir, logPath: logPath('etcd'), timeoutMs })).then(track),
      options.postgres === true ? startPostgres({ binDir: binaries.postgresBin, dir, logPath: logPath('postgres'), timeoutMs }).then(track) : Promise.resolve(undefined),
      options.vault === true ? startVaultServer({ binary: binaries.vault, dir, logPath: logPath('vault'), timeoutMs }).then(track) : Promise.resolve(undefined),
    ]);
    const adminTls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    const apiServer = track(
      await withPortRetry(() =>
        startApiServer({
          binary: binaries.kubeApiserver,
          dir,
          logPath: logPath('kube-apiserver'),
          etcdUrl: etcd.url,
          adminTls,
          timeoutMs,
          files: apiServerFiles(ca, serving, signingKey),
        }),
      ),
    );
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    const kubeConfig = await writeKubeconfig(kubeconfigPath, { server: apiServer.url, caPem: ca.certPem, cert: admin, user: 'admin' });

    const startControllers = async () => {
      if (options.controllers === false) return;
      const proc = await startControllerManager({
        binary: binaries.kubeControllerManager,
        logPath: logPath('kube-controller-manager'),
        kubeconfigPath,
        caCertPath: ca.certPath,
        serviceAccountPrivateKeyPath: signingKey.privateKeyPath,
        apiServerUrl: apiServer.url,
        adminTls,
        timeoutMs,
      });
      track({ process: proc });
    };
    const configure = () => configureVault(kubeConfig, vaultServer, postgres, { apiServerUrl: apiServer.url, caPem: ca.certPem }, options.configureVault !== false).then((v) => {
      readyAfterMs['vault-configured'] = Date.now() - began;
      return v;
    });
    const [, vault] = await allOrFirstError<[void, DevClusterVault | undefined, void]>([startControllers(), configure(), registerNode(kubeConfig)]);

    return {
      dir,
      kubeconfigPath,
      kubectl: binaries.kubectl,
      kubeConfig,
      apiServerUrl: apiServer.url,
      caPem: ca.certPem,
      caCertPath: ca.certPath,
      serviceAccountIssuer: apiServer.issuer,
      adminTls,
      vault,
      postgres,
      logs,
      processes: started,
      startupMs: Date.now() - began,
      readyAfterMs,
      issueCertificate: (request) => issueCertificate(pkiDir, ca, request),
      memoryBytes: () => started.reduce((sum, proc) => sum + (proc.exitStatus() === undefined ? groupRssBytes(proc.pid) : 0), 0),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
