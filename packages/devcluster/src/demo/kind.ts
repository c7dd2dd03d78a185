/**
 * A kind cluster as a DemoTarget (npm run demo:kind; scripts/demo-kind.sh makes the
 * cluster and loads the images, then scripts/demo-kind.ts calls this): Vault in dev mode
 * and PostgreSQL from their official images (scripts/kind/backends.yaml) in a namespace
 * of their own, reached from this process by `kubectl port-forward` through the API
 * server and from pods by their Services' DNS names.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, loadAllYaml, VersionApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { CourierError } from '@vault-courier/core';
import { registerFinalizer } from '../process.ts';
import type { DemoTarget } from './target.ts';

export const BACKENDS_NAMESPACE = 'vault-courier-backends';
const BACKENDS_MANIFEST = new URL('../../../../scripts/kind/backends.yaml', import.meta.url).pathname;
/** The API server as pods (Vault among them) reach it on any cluster. */
const IN_CLUSTER_API_SERVER = 'https://kubernetes.default.svc';

/** The local port in kubectl port-forward's `Forwarding from 127.0.0.1:<port> -> <remote>` line. */
export function parseForwardedPort(line: string): number | undefined {
  const match = /^Forwarding from 127\.0\.0\.1:(\d+) -> \d+/.exec(line.trim());
  return match === null ? undefined : Number(match[1]);
}

/**
 * Native sidecars (an init container with restartPolicy Always) are on by default from
 * Kubernetes 1.29; kind's node image follows the kind release. `minor` as /version gives
 * it ("30", "30+").
 */
export function nativeSidecarsProblem(major: string, minor: string): string | undefined {
  const m = Number.parseInt(minor, 10);
  if (major === '1' && Number.isInteger(m) && m >= 29) return undefined;
  return `the kind node runs Kubernetes ${major}.${minor}; the injected sidecar is a native sidecar, on by default from 1.29: update kind (v0.23 and later make 1.30 or newer nodes), then rerun`;
}

export interface PortForward {
  readonly port: number;
  stop(): void;
}

/** `kubectl port-forward svc/<service> :<port>` in a process group of its own (a Ctrl-C to ours must not end it before we are done). */
export async function portForward(kubectl: string, kubeconfigPath: string, namespace: string, service: string, port: number, timeoutMs = 30_000): Promise<PortForward> {
  const child: ChildProcess = spawn(kubectl, ['--kubeconfig', kubeconfigPath, '-n', namespace, 'port-forward', '--address', '127.0.0.1', `svc/${service}`, `:${port}`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stop = () => void (child.exitCode === null && child.pid !== undefined && process.kill(-child.pid, 'SIGTERM'));
  const unregister = registerFinalizer(stop);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const local = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CourierError('kubernetes', `kubectl port-forward svc/${service} gave no port within ${timeoutMs} ms: ${stderr.trim()}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        const found = parseForwardedPort(line);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new CourierError('kubernetes', `kubectl port-forward svc/${service} exited ${code}: ${stderr.trim()}`));
    });
  }).catch((err: unknown) => {
    stop();
    unregister();
    throw err;
  });
  return {
    port: local,
    stop: () => {
      stop();
      unregister();
    },
  };
}

async function waitAvailable(kc: KubeConfig, namespace: string, names: readonly string[], timeoutMs: number): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(names.map((name) => apps.readNamespacedDeployment({ namespace, name }).catch(() => undefined)));
    const waiting = names.filter((_, i) => (states[i]?.status?.availableReplicas ?? 0) < 1);
    if (waiting.length === 0) return;
    if (Date.now() > deadline) {
      throw new CourierError('kubernetes', `${waiting.join(' and ')} not available in ${namespace} within ${timeoutMs / 1000} s; see: kubectl -n ${namespace} describe pods`);
    }
    await sleep(1_000);
  }
}

export interface KindBackends {
  readonly target: DemoTarget;
  stop(): void;
}

/** Vault and PostgreSQL deployed from scripts/kind/backends.yaml, and the target that reaches them. */
export async function startKindBackends(options: { kubeConfig: KubeConfig; kubeconfigPath: string; kubectl: string; helm: string; dir: string; timeoutMs?: number }): Promise<KindBackends> {
  const kc = options.kubeConfig;
  const version = await kc.makeApiClient(VersionApi).getCode();
  const problem = nativeSidecarsProblem(version.major, version.minor);
  if (problem !== undefined) throw new CourierError('config', problem);
  const rootToken = `root-${randomBytes(16).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: BACKENDS_NAMESPACE } } });
  await core.createNamespacedSecret({ namespace: BACKENDS_NAMESPACE, body: { metadata: { name: 'backends' }, stringData: { 'vault-root-token': rootToken, 'postgres-password': password } } });
  const objects = loadAllYaml(await readFile(BACKENDS_MANIFEST, 'utf8')) as KubernetesObject[];
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) await api.create({ ...object, metadata: { ...object.metadata, namespace: BACKENDS_NAMESPACE } });
  // Pulling two images on a fresh kind node takes a while.
  await waitAvailable(kc, BACKENDS_NAMESPACE, ['vault', 'postgres'], options.timeoutMs ?? 300_000);
  const vault = await portForward(options.kubectl, options.kubeconfigPath, BACKENDS_NAMESPACE, 'vault', 8200);
  const postgres = await portForward(options.kubectl, options.kubeconfigPath, BACKENDS_NAMESPACE, 'postgres', 5432).catch((err: unknown) => {
    vault.stop();
    throw err;
  });
  const inCluster = (service: string, port: number) => ({ host: `${service}.${BACKENDS_NAMESPACE}.svc.cluster.local`, port });
  return {
    target: {
      kubeconfigPath: options.kubeconfigPath,
      kubeConfig: kc,
      dir: options.dir,
      helm: options.helm,
      apiServerUrlForVault: IN_CLUSTER_API_SERVER,
      vault: { addr: `http://127.0.0.1:${vault.port}`, inClusterAddr: `http://vault.${BACKENDS_NAMESPACE}.svc.cluster.local:8200`, caPem: undefined, rootToken },
      postgres: { host: '127.0.0.1', port: postgres.port, superuser: 'postgres', password, forVault: inCluster('postgres', 5432), inCluster: inCluster('postgres', 5432) },
    },
    stop: () => {
      vault.stop();
      postgres.stop();
    },
  };
}
