/** Shared by the end-to-end tests: waiting on the API server and reading container output. */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import type { ContainerRef } from '@vault-courier/devcluster';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** `vault-courier status` as users run it: the npm bin, a process, the cluster's admin kubeconfig. */
export async function vaultCourierStatus(kubeconfigPath: string, ...args: string[]): Promise<string> {
  const bin = path.join(REPO_ROOT, 'packages/webhook/bin/vault-courier.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [bin, 'status', '--kubeconfig', kubeconfigPath, ...args], { env: { PATH: process.env.PATH ?? '' } });
  return stdout;
}

/** A file of a pod's emptyDir volume on the node, where the kubelet keeps it (devcluster: <dir>/kubelet/root). */
export function podVolumeFile(clusterDir: string, podUid: string, volume: string, file: string): string {
  return path.join(clusterDir, 'kubelet', 'root', 'pods', podUid, 'volumes', 'kubernetes.io~empty-dir', volume, file);
}

export async function waitFor<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined> | T | undefined, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A Deployment of `replicas` pods labelled `app: <name>`, with `annotations` and `spec`. */
export async function createDeployment(kc: KubeConfig, namespace: string, name: string, replicas: number, annotations: Record<string, string>, spec: V1PodSpec): Promise<void> {
  const labels = { app: name };
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: { metadata: { name }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels, annotations }, spec } } },
  });
}

export function isReady(pod: V1Pod | undefined): boolean {
  return pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true && pod.metadata?.deletionTimestamp === undefined;
}

export async function readPodOrUndefined(kc: KubeConfig, namespace: string, name: string): Promise<V1Pod | undefined> {
  try {
    return await kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace, name });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Every line each container printed, by `<pod>/<container>`; pass `collect` to the runner. */
export class ContainerOutput {
  readonly lines = new Map<string, string[]>();

  readonly collect = (ref: ContainerRef, line: string): void => {
    const key = `${ref.pod}/${ref.container}`;
    const list = this.lines.get(key) ?? [];
    list.push(line);
    this.lines.set(key, list);
  };

  of(pod: string, container: string): string[] {
    return this.lines.get(`${pod}/${container}`) ?? [];
  }

  /** The JSON lines of one container (non-JSON lines skipped). */
  events(pod: string, container: string): Record<string, unknown>[] {
    return this.of(pod, container).flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  all(): string {
    return [...this.lines.values()].flat().join('\n');
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of live processes whose command line or environment mentions `text` (e.g. a temp dir). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const seen = ['cmdline', 'environ'].some((f) => readFileSync(`/proc/${entry}/${f}`, 'latin1').includes(text));
      if (seen) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/**
 * SIGKILL to every process of one container of a pod on the real node, found by the
 * container id in /proc/<pid>/cgroup: what an OOM kill or a crash does to it. Returns the pids.
 */
export function killContainer(pod: V1Pod, container: string): number[] {
  const status = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((s) => s.name === container);
  const id = status?.containerID?.replace(/^[a-z]+:\/\//, '');
  if (id === undefined || id === '') throw new Error(`${pod.metadata?.name}/${container} has no container id yet`);
  const pids = readdirSync('/proc').filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      return readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(id);
    } catch {
      return false;
    }
  });
  for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
  return pids.map(Number);
}
