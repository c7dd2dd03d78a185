/**
 * Small Kubernetes helpers for tests and the demo. There is no scheduler and no kubelet in
 * the dev cluster: a pod is bound to the registered Node and marked Ready through the API,
 * by these helpers or by the process runner.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CoreV1Api, RbacAuthorizationV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { CourierError } from '@vault-courier/core';

/** The one Node object of the dev cluster; pods are bound to it. */
export const DEVCLUSTER_NODE_NAME = 'devcluster-node';

export function isApiStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

async function ignoreConflict(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!isApiStatus(err, 409)) throw err;
  }
}

async function waitFor<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new CourierError('kubernetes', `timed out after ${timeoutMs} ms waiting for ${what}`, { retryable: true });
    await sleep(100);
  }
}

/** Registers the Node pods are bound to, with a Ready condition. Idempotent. */
export async function registerNode(kc: KubeConfig, name = DEVCLUSTER_NODE_NAME): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await ignoreConflict(() => core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name } } } }));
  const node = await core.readNode({ name });
  const now = new Date();
  node.status = {
    ...node.status,
    conditions: [{ type: 'Ready', status: 'True', reason: 'DevCluster', message: 'pods run as local processes', lastHeartbeatTime: now, lastTransitionTime: now }],
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
  };
  await core.replaceNodeStatus({ name, body: node });
}

/**
 * Creates a namespace and waits for its `default` ServiceAccount: until the controller
 * manager has made it, the ServiceAccount admission plugin rejects every pod there.
 */
export async function createNamespace(kc: KubeConfig, name: string, labels: Record<string, string> = {}): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels } } });
  await waitForServiceAccount(kc, name, 'default');
}

export async function waitForServiceAccount(kc: KubeConfig, namespace: string, name: string, timeoutMs = 15_000): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await waitFor(`ServiceAccount ${namespace}/${name}`, timeoutMs, async () => {
    try {
      return await core.readNamespacedServiceAccount({ namespace, name });
    } catch (err) {
      if (isApiStatus(err, 404)) return undefined;
      throw err;
    }
  });
}

export async function createServiceAccount(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await ignoreConflict(() => core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }));
}

/** Binds a ServiceAccount to a ClusterRole cluster-wide (e.g. `system:auth-delegator`). */
export async function bindClusterRole(kc: KubeConfig, options: { bindingName: string; clusterRole: string; namespace: string; serviceAccount: string }): Promise<void> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await ignoreConflict(() =>
    rbac.createClusterRoleBinding({
      body: {
        metadata: { name: options.bindingName },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: options.clusterRole },
        subjects: [{ kind: 'ServiceAccount', name: options.serviceAccount, namespace: options.namespace }],
      },
    }),
  );
}

/** Pod status as a kubelet would report it for a pod whose containers all run and pass readiness. */
export function readyStatus(pod: V1Pod, now: Date): V1Pod['status'] {
  const running = (name: string, image: string | undefined) => ({
    name,
    image: image ?? '',
    imageID: '',
    ready: true,
    started: true,
    restartCount: 0,
    state: { running: { startedAt: now } },
  });
  const conditions = ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now }));
  return {
    ...pod.status,
    phase: 'Running',
    hostIP: '127.0.0.1',
    podIP: '127.0.0.1',
    podIPs: [{ ip: '127.0.0.1' }],
    startTime: pod.status?.startTime ?? now,
    conditions,
    containerStatuses: (pod.spec?.containers ?? []).map((c) => running(c.name, c.image)),
  };
}

/**
 * Binds a pod to the dev cluster's Node (pods/binding) and marks it Running and Ready
 * (pods/status): what the scheduler and the kubelet would do. The disruption controller
 * counts only Ready pods, so a PDB allows evictions only after this.
 */
export async function bindAndMarkReady(kc: KubeConfig, namespace: string, podName: string, nodeName = DEVCLUSTER_NODE_NAME): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  let pod = await core.readNamespacedPod({ namespace, name: podName });
  if (pod.spec?.nodeName === undefined || pod.spec.nodeName === '') {
    await core.createNamespacedPodBinding({
      namespace,
      name: podName,
      body: { metadata: { name: podName }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } },
    });
    pod = await core.readNamespacedPod({ namespace, name: podName });
  }
  pod.status = readyStatus(pod, new Date());
  return core.replaceNamespacedPodStatus({ namespace, name: podName, body: pod });
}

export interface ServiceAccountTokenRequest {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly audiences: readonly string[];
  /** Bind the token to this pod: it dies with the pod and carries its name and uid. */
  readonly podName?: string;
  readonly podUid?: string;
  /** At least 600 (the API server's minimum). */
  readonly expirationSeconds?: number;
}

/** A service-account token from the TokenRequest API (what a projected volume holds). */
export async function requestServiceAccountToken(kc: KubeConfig, request: ServiceAccountTokenRequest): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const boundObjectRef =
    request.podName === undefined ? undefined : { apiVersion: 'v1', kind: 'Pod', name: request.podName, ...(request.podUid === undefined ? {} : { uid: request.podUid }) };
  const answer = await core.createNamespacedServiceAccountToken({
    namespace: request.namespace,
    name: request.serviceAccount,
    body: { spec: { audiences: [...request.audiences], expirationSeconds: request.expirationSeconds ?? 3600, boundObjectRef } },
  });
  const token = answer.status?.token;
  if (token === undefined || token === '') {
    throw new CourierError('kubernetes', `TokenRequest for ServiceAccount ${request.namespace}/${request.serviceAccount} returned no status.token`);
  }
  return token;
}
