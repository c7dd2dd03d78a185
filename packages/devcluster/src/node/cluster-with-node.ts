/**
 * A cluster with a real node, all inside one network namespace of its own: etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler, containerd, the kubelet,
 * kube-proxy, CoreDNS, Vault and PostgreSQL. The API server, Vault and PostgreSQL are
 * published on the machine's loopback. stop() goes in order: every pod deleted through
 * the API (the kubelet stops apps, then native sidecars, which revoke their Vault
 * tokens), then the node, then the control plane; then whatever is left of the footprint
 * (processes, mounts, cgroups, the namespace) is removed. A cluster whose orchestrator was
 * killed is removed by the next start.
 */
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { writeKubeconfig } from '../kubeconfig.ts';
import { CourierError } from '@vault-courier/core';
import { apiServerFiles, nodeApiServerArgs, startApiServer } from '../apiserver.ts';
import { requireExecutable, type Binaries } from '../binaries.ts';
import { startControllerManager } from '../controller-manager.ts';
import { startEtcd } from '../etcd.ts';
import { createCertificateAuthority, createServiceAccountSigningKey, issueCertificate, type CertificateFiles } from '../pki.ts';
import { startPostgres, type Postgres } from '../postgres.ts';
import { createOutages, type Outages } from '../outages.ts';
import { groupRssBytes, registerFinalizer, type ManagedProcess } from '../process.ts';
import { startVaultServer, type VaultServer } from '../vault.ts';
import { createCgroupRoot } from './cgroups.ts';
import { importImages, startContainerd, type ImageArchive } from './containerd.ts';
import { CLUSTER_DNS_IP, startCoreDns, startKubeProxy, startScheduler } from './control-plane-node.ts';
import { CLUSTER_PREFIX, DIR_PREFIX, recordOwner, removeFootprint, removeStaleClusters, saveSysctls, type Footprint } from './footprint.ts';
import { startKubelet } from './kubelet.ts';
import { acquireMachineLock, type MachineLock } from './machine-lock.ts';
import { readSysctls, restoreSysctls } from './machine.ts';
import { createNetworkNamespace, KUBERNETES_SERVICE_IP, NODE_IP } from './netns.ts';
import { publishPorts } from './publish.ts';

const run = promisify(execFile);
export const NODE_NAME = 'devcluster-node';

export interface ImagesFile {
  readonly pause: string;
  readonly images: readonly ImageArchive[];
}

export async function readImagesFile(file: string): Promise<ImagesFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new CourierError('config', `no image list at ${file}: build the images with: bash scripts/build-images.sh`, { cause });
  }
  const parsed = JSON.parse(text) as ImagesFile;
  if (typeof parsed.pause !== 'string' || !Array.isArray(parsed.images)) throw new CourierError('config', `${file} is not what scripts/build-images.sh writes; rerun it`);
  return parsed;
}

export interface NodeHandle {
  readonly name: string;
  readonly netnsPath: string;
  /** The kubelet's CRI log files, `<ns>_<pod>_<uid>/<container>/<n>.log`. */
  readonly podLogsDir: string;
  readonly containerdSocket: string;
  readonly kubectl: string;
  readonly helm: string;
  readonly images: ImagesFile;
  /** The API server as pods and the namespace's processes see it. */
  readonly inClusterApiServerUrl: string;
  /**
   * Restarts the node's kubelet and containerd, the real processes, with the same flags and
   * state directories, as a node upgrade or a crash would: the kubelet stops, containerd
   * stops (its shims, and so the containers, keep running), containerd starts, the kubelet
   * starts; resolves once the Node is Ready again. The kubelet's sysctls are restored after.
   */
  restartKubeletAndContainerd(): Promise<{ readonly downMs: number }>;
}

export interface ClusterWithNodeParts {
  readonly dir: string;
  readonly footprint: Footprint;
  readonly ca: CertificateFiles;
  readonly admin: CertificateFiles;
  readonly pkiDir: string;
  readonly apiServerUrl: string;
  readonly issuer: string;
  readonly kubeconfigPath: string;
  readonly etcd: ManagedProcess;
  readonly postgres?: Postgres;
  readonly vault?: VaultServer;
  readonly node: NodeHandle;
  readonly processes: ManagedProcess[];
  readonly readyAfterMs: Record<string, number>;
  readonly logs: Record<string, string>;
  memoryBytes(): number;
  /** Vault paused or sealed, PostgreSQL and the API server stopped and started again (outages.ts). */
  readonly outages: Outages;
  /** Stops the controllers, then deletes every pod and waits for the kubelet to stop them (apps, then sidecars). */
  drain(kc: KubeConfig): Promise<void>;
  /** Orderly: pods, node, control plane, then the footprint. */
  stop(kc: KubeConfig): Promise<void>;
}

async function waitNodeReady(kc: KubeConfig, name: string, kubelet: ManagedProcess, timeoutMs: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (kubelet.exitStatus() !== undefined) throw new CourierError('io', `the kubelet exited before its Node was Ready; see ${kubelet.logPath}`);
    const node = await core.readNode({ name }).catch(() => undefined);
    if (node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true) return;
    if (Date.now() > deadline) throw new CourierError('io', `Node ${name} was not Ready within ${timeoutMs} ms; see ${kubelet.logPath}`, { retryable: true });
    await sleep(200);
  }
}

/**
 * The kubelet answers again: its /healthz through the API server's node proxy (the Node's
 * Ready condition alone would still show the previous kubelet's last report).
 */
async function waitKubeletServing(kc: KubeConfig, name: string, kubelet: ManagedProcess, timeoutMs: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (kubelet.exitStatus() !== undefined) throw new CourierError('io', `the kubelet exited after its restart; see ${kubelet.logPath}`);
    const healthz = await core.connectGetNodeProxyWithPath({ name, path: 'healthz' }).catch(() => undefined);
    if (healthz === 'ok') return;
    if (Date.now() > deadline) throw new CourierError('io', `the restarted kubelet did not answer /healthz within ${timeoutMs} ms; see ${kubelet.logPath}`, { retryable: true });
    await sleep(200);
  }
}

/** Deletes every pod and waits until the kubelet has stopped them all (or `timeoutMs` passes). */
async function drainPods(kc: KubeConfig, timeoutMs: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const pods = await core.listPodForAllNamespaces().catch(() => undefined);
  if (pods === undefined) return;
  await Promise.all(pods.items.map((p) => core.deleteNamespacedPod({ namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '' }).catch(() => undefined)));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const left = await core.listPodForAllNamespaces().catch(() => undefined);
    if (left === undefined || left.items.length === 0) return;
    await sleep(250);
  }
}

export async function startClusterWithNode(options: {
  binaries: Binaries;
  timeoutMs: number;
  vault: boolean;
  postgres: boolean;
  imagesFile: string;
  keepDir: boolean;
}): Promise<ClusterWithNodeParts & { kubeConfig: KubeConfig }> {
  const began = Date.now();
  const { binaries, timeoutMs } = options;
  for (const [name, file] of Object.entries({ kubelet: binaries.kubelet, 'kube-scheduler': binaries.kubeScheduler, 'kube-proxy': binaries.kubeProxy, kubectl: binaries.kubectl, crictl: binaries.crictl, coredns: binaries.coredns })) {
    requireExecutable(name, file);
  }
  requireExecutable('containerd', path.join(binaries.containerdBin, 'containerd'));
  const images = await readImagesFile(options.imagesFile);

  const dir = await mkdtemp(path.join(tmpdir(), DIR_PREFIX));
  const id = path.basename(dir).slice(DIR_PREFIX.length);
  const name = `${CLUSTER_PREFIX}${id}`;
  const footprint: Footprint = { dir, netnsPath: `/run/netns/${name}`, cgroupName: name };
  recordOwner(footprint);
  const unregister = registerFinalizer(() => void removeFootprint(footprint, { keepDir: options.keepDir }));
  await chmod(dir, 0o711);
  const pkiDir = path.join(dir, 'pki');
  const logDir = path.join(dir, 'logs');
  await Promise.all([mkdir(pkiDir, { mode: 0o700 }), mkdir(logDir)]);
  const logs: Record<string, string> = {};
  const logPath = (component: string) => (logs[component] = path.join(logDir, `${component}.log`));
  const processes: ManagedProcess[] = [];
  const readyAfterMs: Record<string, number> = {};
  let machineLock: MachineLock | undefined;
  const track = (proc: ManagedProcess): ManagedProcess => {
    processes.push(proc);
    readyAfterMs[proc.name] = Date.now() - began;
    return proc;
  };

  const netns = await createNetworkNamespace(name);
  createCgroupRoot(name);
  const publisher = await publishPorts({
    netns,
    dir,
    logPath: logPath('loopback-forwarder'),
    targets: {
      etcd: { host: '127.0.0.1', port: 2379 },
      'kube-apiserver': { host: '127.0.0.1', port: 6443 },
      vault: { host: '127.0.0.1', port: 8200 },
      postgres: { host: '127.0.0.1', port: 5432 },
    },
  });
  const published = (component: string) => ({ netns: netns.path, publishedPort: publisher.ports[component]?.port ?? 0 });

  // When each step of start and stop happened: the first place to look when one is slow.
  const note = (what: string) => void appendFileSync(path.join(logDir, 'orchestrator.log'), `${new Date().toISOString()} ${what}\n`);
  let stopped = false;
  const byName = (n: string) => processes.filter((p) => p.name === n);
  let draining: Promise<void> | undefined;
  const drain = (kc: KubeConfig) =>
    (draining ??= (async () => {
      if (!processes.some((p) => p.name === 'kubelet' && p.exitStatus() === undefined)) return;
      // No controller may replace what is being stopped.
      note('drain: stopping the controller manager');
      for (const p of byName('kube-controller-manager')) await p.stop();
      note('drain: deleting every pod');
      await drainPods(kc, 45_000);
      note('drain: done');
    })());
  const stopEverything = async (kc: KubeConfig | undefined) => {
    if (stopped) return;
    stopped = true;
    if (kc !== undefined) await drain(kc);
    note('stop: node daemons');
    for (const component of ['kube-proxy', 'coredns', 'kube-scheduler', 'kubelet']) for (const p of byName(component)) await p.stop(10_000);
    note('stop: removing pod sandboxes');
    await run(binaries.crictl, ['--runtime-endpoint', `unix://${path.join(dir, 'containerd', 'containerd.sock')}`, '--timeout', '20s', 'rmp', '-fa']).catch(() => undefined);
    note('stop: containerd and the control plane');
    for (const p of [...processes].reverse()) await p.stop();
    await publisher.close();
    note('stop: removing the footprint');
    const left = removeFootprint(footprint, { keepDir: options.keepDir });
    unregister();
    if (left.pids.length + left.mounts.length + left.cgroups.length > 0) {
      // The lock stays held: no other node may start beside what is left. Once this process
      // is gone, the next start removes it.
      throw new CourierError('io', `the cluster left ${left.pids.length} process(es), mounts ${left.mounts.join(', ') || 'none'}, cgroups ${left.cgroups.join(', ') || 'none'}`);
    }
    machineLock?.release();
  };

  try {
    const ca = await createCertificateAuthority(pkiDir);
    const [serving, admin, kubeletClient, vaultServing, signingKey] = await Promise.all([
      issueCertificate(pkiDir, ca, {
        name: 'kube-apiserver',
        commonName: 'kube-apiserver',
        ipAddresses: ['127.0.0.1', NODE_IP, KUBERNETES_SERVICE_IP],
        dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
        usage: 'server',
      }),
      issueCertificate(pkiDir, ca, { name: 'admin', commonName: 'vault-courier-admin', organization: 'system:masters', usage: 'client' }),
      issueCertificate(pkiDir, ca, { name: 'kubelet', commonName: `system:node:${NODE_NAME}`, organization: 'system:nodes', usage: 'client' }),
      // Vault over TLS, as in production: pods reach it at the node's address, tests at 127.0.0.1.
      issueCertificate(pkiDir, ca, { name: 'vault', commonName: 'vault', ipAddresses: ['127.0.0.1', NODE_IP], dnsNames: ['localhost'], usage: 'server' }),
      createServiceAccountSigningKey(pkiDir),
    ]);
    const adminTls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    const inClusterServer = `https://${NODE_IP}:6443`;
    const inClusterKubeconfig = path.join(dir, 'in-cluster-admin.kubeconfig');
    const kubeletKubeconfig = path.join(dir, 'kubelet.kubeconfig');
    await writeKubeconfig(inClusterKubeconfig, { server: inClusterServer, caPem: ca.certPem, cert: admin, user: 'admin' });
    await writeKubeconfig(kubeletKubeconfig, { server: inClusterServer, caPem: ca.certPem, cert: kubeletClient, user: `system:node:${NODE_NAME}` });

    const runContainerd = () => startContainerd({ binDir: binaries.containerdBin, dir, netns, logPath: logPath('containerd'), pauseImage: images.pause, timeoutMs }).then((c) => (track(c.process), c));
    const [etcd, postgres, vault, containerd] = await Promise.all([
      startEtcd({ binary: binaries.etcd, dir, logPath: logPath('etcd'), timeoutMs, placement: published('etcd') }).then((e) => (track(e.process), e)),
      options.postgres ? startPostgres({ binDir: binaries.postgresBin, dir, logPath: logPath('postgres'), timeoutMs, placement: published('postgres') }).then((p) => (track(p.process), p)) : undefined,
      options.vault ? startVaultServer({ binary: binaries.vault, dir, logPath: logPath('vault'), timeoutMs, placement: { ...published('vault'), tls: { certPath: vaultServing.certPath, keyPath: vaultServing.keyPath, caPem: ca.certPem } } }).then((v) => (track(v.process), v)) : undefined,
      runContainerd(),
    ]);
    // Alongside the API server's start: only pods need the images, and the Node is Ready only after.
    const imported = importImages(binaries.containerdBin, containerd, images.images).then(() => {
      readyAfterMs['images-imported'] = Date.now() - began;
    });
    imported.catch(() => undefined);
    const apiServer = await startApiServer({
      binary: binaries.kubeApiserver,
      dir,
      logPath: logPath('kube-apiserver'),
      etcdUrl: etcd.url,
      adminTls,
      timeoutMs,
      files: apiServerFiles(ca, serving, signingKey),
      placement: { ...published('kube-apiserver'), nodeArgs: nodeApiServerArgs({ kubeletClientCertPath: admin.certPath, kubeletClientKeyPath: admin.keyPath }) },
    });
    track(apiServer.process);
    const kubeconfigPath = path.join(dir, 'admin.kubeconfig');
    const kubeConfig = await writeKubeconfig(kubeconfigPath, { server: apiServer.url, caPem: ca.certPem, cert: admin, user: 'admin' });

    const daemon = { netns, kubeconfigPath: inClusterKubeconfig };
    track(startScheduler({ ...daemon, binary: binaries.kubeScheduler, logPath: logPath('kube-scheduler') }));
    track(startKubeProxy({ ...daemon, binary: binaries.kubeProxy, logPath: logPath('kube-proxy'), nodeName: NODE_NAME }));
    track(await startCoreDns({ ...daemon, binary: binaries.coredns, logPath: logPath('coredns'), dir }));
    // Everything so far is the cluster's own (its namespace, directory and cgroup root), so
    // it started while another file's node may still run. From here on it is the
    // machine's: the clean-up of dead clusters, the kubelet's fixed paths, the sysctls.
    // Held until this node's footprint is gone, or this process dies.
    machineLock = await acquireMachineLock({ onWait: (lockPath) => process.stderr.write(`devcluster: another real node runs on this machine; this one's control plane is up and waits for it to stop (lock: ${lockPath})\n`) });
    readyAfterMs['machine-lock'] = Date.now() - began;
    removeStaleClusters(undefined, footprint);
    const savedSysctls = readSysctls();
    saveSysctls(dir, savedSysctls);
    const runKubelet = async () => {
      const started = await startKubelet({
        binary: binaries.kubelet,
        dir,
        netns,
        logPath: logPath('kubelet'),
        kubeconfigPath: kubeletKubeconfig,
        clientCaFile: ca.certPath,
        runtimeEndpoint: containerd.endpoint,
        cgroupRoot: name,
        nodeName: NODE_NAME,
        clusterDns: CLUSTER_DNS_IP,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        timeoutMs,
      });
      track(started.process);
      return started;
    };
    const kubelet = await runKubelet();
    const controllerManager = startControllerManager({
      binary: binaries.kubeControllerManager,
      logPath: logPath('kube-controller-manager'),
      kubeconfigPath: inClusterKubeconfig,
      caCertPath: ca.certPath,
      serviceAccountPrivateKeyPath: signingKey.privateKeyPath,
      apiServerUrl: apiServer.url,
      adminTls,
      timeoutMs,
      node: { netns: netns.path, dir },
    }).then(track);
    await Promise.all([controllerManager, imported, waitNodeReady(kubeConfig, NODE_NAME, kubelet.process, timeoutMs)]);
    // The kubelet set them once at start and never looks again.
    restoreSysctls(savedSysctls);
    readyAfterMs.node = Date.now() - began;

    return {
      dir,
      footprint,
      ca,
      admin,
      pkiDir,
      apiServerUrl: apiServer.url,
      issuer: apiServer.issuer,
      kubeconfigPath,
      kubeConfig,
      etcd: etcd.process,
      postgres,
      vault,
      node: {
        name: NODE_NAME,
        netnsPath: netns.path,
        podLogsDir: kubelet.paths.podLogsDir,
        containerdSocket: containerd.paths.socket,
        kubectl: binaries.kubectl,
        helm: binaries.helm,
        images,
        inClusterApiServerUrl: apiServer.inClusterUrl,
        restartKubeletAndContainerd: async () => {
          const down = Date.now();
          note('restart: stopping the kubelet and containerd');
          for (const component of ['kubelet', 'containerd']) for (const p of byName(component)) await p.stop(10_000);
          await runContainerd();
          const restarted = await runKubelet();
          await waitKubeletServing(kubeConfig, NODE_NAME, restarted.process, timeoutMs);
          const downMs = Date.now() - down;
          await waitNodeReady(kubeConfig, NODE_NAME, restarted.process, timeoutMs);
          restoreSysctls(savedSysctls);
          note('restart: the Node is Ready again');
          return { downMs };
        },
      },
      processes,
      readyAfterMs,
      logs,
      memoryBytes: () => processes.reduce((sum, p) => sum + (p.exitStatus() === undefined ? groupRssBytes(p.pid) : 0), 0),
      outages: createOutages({ processes, vault, postgres, apiServer: { url: apiServer.url, adminTls }, timeoutMs }),
      drain,
      stop: (kc) => stopEverything(kc),
    };
  } catch (err) {
    await stopEverything(undefined).catch(() => undefined);
    throw err;
  }
}
