/**
 * The real kubelet on the cluster's namespace and containerd: it registers the Node, runs
 * pods with their securityContext, fsGroup, projected tokens and native sidecars, and
 * serves logs and exec to the API server on :10250. Settings from docs/real-parts.md:
 * cgroup v1 needs failCgroupV1: false; cgroupRoot keeps pod cgroups apart; the hard
 * NOFILE limit here is 20000.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dumpYaml } from '@kubernetes/client-node';
import { startProcess, type ManagedProcess } from '../process.ts';
import { NODE_IP, type NetworkNamespace } from './netns.ts';

export interface KubeletPaths {
  readonly rootDir: string;
  readonly certDir: string;
  readonly podLogsDir: string;
  readonly volumePluginDir: string;
  readonly config: string;
  readonly resolvConf: string;
}

export function kubeletPaths(dir: string): KubeletPaths {
  const base = path.join(dir, 'kubelet');
  return {
    rootDir: path.join(base, 'root'),
    certDir: path.join(base, 'pki'),
    podLogsDir: path.join(base, 'pod-logs'),
    volumePluginDir: path.join(base, 'volume-plugins'),
    config: path.join(base, 'config.yaml'),
    resolvConf: path.join(base, 'resolv.conf'),
  };
}

export function kubeletConfiguration(options: { paths: KubeletPaths; clientCaFile: string; runtimeEndpoint: string; cgroupRoot: string; clusterDns: string }): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${options.cgroupRoot}`,
    containerRuntimeEndpoint: options.runtimeEndpoint,
    imageServiceEndpoint: options.runtimeEndpoint,
    address: NODE_IP,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: options.clientCaFile } },
    authorization: { mode: 'Webhook' },
    clusterDNS: [options.clusterDns],
    clusterDomain: 'cluster.local',
    resolvConf: options.paths.resolvConf,
    podLogsDir: options.paths.podLogsDir,
    maxOpenFiles: 20000,
    // A shared 2-core machine: no eviction for disk or memory pressure the cluster did not cause.
    evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    // Images are imported, never pulled: garbage-collecting one would break the next pod.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    // Volume contents (the projected token, ConfigMaps) refresh sooner than the 1 min default.
    syncFrequency: '10s',
    nodeStatusUpdateFrequency: '5s',
    shutdownGracePeriod: '0s',
    staticPodPath: '',
    protectKernelDefaults: false,
  };
}

export async function startKubelet(options: {
  binary: string;
  dir: string;
  netns: NetworkNamespace;
  logPath: string;
  kubeconfigPath: string;
  clientCaFile: string;
  runtimeEndpoint: string;
  cgroupRoot: string;
  nodeName: string;
  clusterDns: string;
  /** PATH for the kubelet's own helpers (mount, umount, ...). */
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}): Promise<{ process: ManagedProcess; paths: KubeletPaths }> {
  const paths = kubeletPaths(options.dir);
  await Promise.all([paths.rootDir, paths.certDir, paths.podLogsDir, paths.volumePluginDir].map((d) => mkdir(d, { recursive: true, mode: 0o711 })));
  await writeFile(paths.resolvConf, `nameserver ${options.clusterDns}\n`);
  await writeFile(
    paths.config,
    dumpYaml(kubeletConfiguration({ paths, clientCaFile: options.clientCaFile, runtimeEndpoint: options.runtimeEndpoint, cgroupRoot: options.cgroupRoot, clusterDns: options.clusterDns })),
  );
  const args = [
    `--config=${paths.config}`,
    `--kubeconfig=${options.kubeconfigPath}`,
    `--hostname-override=${options.nodeName}`,
    `--node-ip=${NODE_IP}`,
    `--root-dir=${paths.rootDir}`,
    `--cert-dir=${paths.certDir}`,
    `--volume-plugin-dir=${paths.volumePluginDir}`,
    '--v=1',
  ];
  const proc = startProcess({ name: 'kubelet', command: options.binary, args, netns: options.netns.path, logPath: options.logPath, env: options.env });
  return { process: proc, paths };
}
