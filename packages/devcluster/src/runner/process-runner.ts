/**
 * A kubelet stand-in: registers a Node, binds every pod nobody scheduled to it, and runs
 * the pods bound to it as local processes (see pod-worker.ts). It watches pods through an
 * informer (list, then watch, restarted after errors), so a pod created before the runner
 * started is picked up too.
 *
 * What it does not do, by design: isolation. Every container runs as the runner's user on
 * the host's filesystem and network; securityContext, resources and probes are not
 * enforced (a container without probes is Ready once started, as with a kubelet). It is
 * a test and demo harness, not a node.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CoreV1Api, makeInformer, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { createLogger, CourierError, type Logger } from '@vault-courier/core';
import type { ImageMap } from './images.ts';
import { containerLogFile, PodWorker, type ContainerRef } from './pod-worker.ts';

export const RUNNER_NODE_NAME = 'vault-courier-runner';
const HOST_IP = '127.0.0.1';
const INFORMER_RESTART_MS = 1_000;

export interface ProcessRunnerOptions {
  readonly kubeConfig: KubeConfig;
  /** The images it may run (see projectImages); any other is refused with a waiting status. */
  readonly images: ImageMap;
  /** Pods' volumes and container logs live under `<workDir>/pods/`. */
  readonly workDir: string;
  readonly nodeName?: string;
  /** Working directory of the container processes (default: the runner's). */
  readonly cwd?: string;
  /** Every line a container prints, as it prints it (the demo's timeline reads these). */
  readonly onContainerLine?: (ref: ContainerRef, line: string) => void;
  readonly logger?: Logger;
}

export interface ProcessRunner {
  readonly nodeName: string;
  /** Where a pod's container writes its output (appended across restarts, kept after deletion). */
  containerLogPath(namespace: string, pod: string, container: string): string;
  /** Stops watching and ends every container process (SIGTERM, then SIGKILL); pods objects stay. */
  stop(): Promise<void>;
}

/** Which pods this runner acts on: its own, and unscheduled ones for the default scheduler. */
export function podAction(pod: V1Pod, nodeName: string): 'bind' | 'run' | 'ignore' {
  const assigned = pod.spec?.nodeName;
  if (assigned === nodeName) return 'run';
  if (assigned) return 'ignore';
  const scheduler = pod.spec?.schedulerName ?? 'default-scheduler';
  return scheduler === 'default-scheduler' && pod.metadata?.deletionTimestamp === undefined ? 'bind' : 'ignore';
}

async function registerNode(core: CoreV1Api, nodeName: string): Promise<void> {
  try {
    await core.createNode({ body: { metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux' } } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw new CourierError('kubernetes', `cannot register node ${nodeName}`, { cause: err });
  }
  const now = new Date();
  const resources = { cpu: '2', memory: '4Gi', pods: '110' };
  await core.patchNodeStatus(
    {
      name: nodeName,
      body: {
        status: {
          capacity: resources,
          allocatable: resources,
          addresses: [{ type: 'InternalIP', address: HOST_IP }, { type: 'Hostname', address: nodeName }],
          conditions: [{ type: 'Ready', status: 'True', reason: 'ProcessRunnerReady', message: 'the vault-courier process runner runs pods as local processes', lastHeartbeatTime: now, lastTransitionTime: now }],
        },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

export async function startProcessRunner(options: ProcessRunnerOptions): Promise<ProcessRunner> {
  const nodeName = options.nodeName ?? RUNNER_NODE_NAME;
  const log = (options.logger ?? createLogger({ name: 'process-runner' })).child({ node: nodeName });
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  await mkdir(path.join(options.workDir, 'pods'), { recursive: true });
  await mkdir(path.join(options.workDir, 'logs'), { recursive: true });
  await registerNode(core, nodeName);

  const workers = new Map<string, PodWorker>();
  const binding = new Set<string>();
  let stopped = false;
  const deps = {
    core,
    log,
    images: options.images,
    nodeName,
    hostIP: HOST_IP,
    workDir: options.workDir,
    cwd: options.cwd ?? process.cwd(),
    // Only what a process needs to find its interpreter: the host's VAULT_ADDR, NODE_OPTIONS
    // or proxies must not leak into a container.
    baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    ...(options.onContainerLine === undefined ? {} : { onLine: options.onContainerLine }),
  };

  const bind = async (pod: V1Pod): Promise<void> => {
    const uid = pod.metadata?.uid ?? '';
    if (binding.has(uid)) return;
    binding.add(uid);
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? '';
    try {
      await core.createNamespacedPodBinding({ name, namespace, body: { metadata: { name, uid }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } } });
      log.info({ namespace, pod: name }, 'pod bound');
    } catch (err) {
      binding.delete(uid);
      const code = (err as { code?: number }).code;
      if (code !== 404 && code !== 409) log.warn({ err, namespace, pod: name }, 'pod binding failed');
    }
  };

  const onPod = (pod: V1Pod): void => {
    if (stopped) return;
    const uid = pod.metadata?.uid ?? '';
    const action = podAction(pod, nodeName);
    if (action === 'bind') {
      void bind(pod);
      return;
    }
    if (action !== 'run') return;
    binding.delete(uid);
    const existing = workers.get(uid);
    if (existing !== undefined) {
      existing.update(pod);
      return;
    }
    const worker = new PodWorker(deps, pod);
    workers.set(uid, worker);
    worker.start();
    worker.update(pod);
  };

  const onDelete = (pod: V1Pod): void => {
    const uid = pod.metadata?.uid ?? '';
    const worker = workers.get(uid);
    if (worker === undefined) return;
    workers.delete(uid);
    // The object is gone (our final delete, or a forced one): nothing may keep running.
    worker.kill(true).catch((err: unknown) => log.error({ err }, 'stopping a deleted pod failed'));
  };

  const informer = makeInformer<V1Pod>(options.kubeConfig, '/api/v1/pods', () => core.listPodForAllNamespaces());
  informer.on('add', onPod);
  informer.on('update', onPod);
  informer.on('delete', onDelete);
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    log.warn({ err }, 'pod watch failed; restarting');
    setTimeout(() => {
      if (!stopped) informer.start().catch((e: unknown) => log.error({ err: e }, 'pod watch restart failed'));
    }, INFORMER_RESTART_MS);
  });
  await informer.start();
  log.info('process runner started');

  return {
    nodeName,
    containerLogPath: (namespace, pod, container) => containerLogFile(options.workDir, namespace, pod, container),
    async stop() {
      if (stopped) return;
      stopped = true;
      await informer.stop();
      await Promise.all([...workers.values()].map((w) => w.kill(false)));
      workers.clear();
      log.info('process runner stopped');
    },
  };
}
