/**
 * The eviction endpoint's Kubernetes I/O, with the webhook's own service account: the
 * Eviction for exactly the token's pod (uid precondition), the pod as it is, Events on
 * that pod, and the cluster's service-account keys and issuer. Thin: no decisions here
 * beyond translating API answers into plain data (answers.ts decides).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { ApiException, type CoreV1Event, type KubeConfig, type V1Eviction, type V1LabelSelector, type V1Pod, type V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { FetchImplementation } from 'jose';
import { CourierError, parseRotationCondition, ROTATION_CONDITION_TYPE, type BudgetFacts, type PodIdentity, type RotationCondition } from '@vault-courier/core';
import type { PodFacts } from './answers.ts';
import { corePath, kubeRequest, sendWithCredentials } from './kube-request.ts';

/** The Eviction API's own answer: 201 accepted, 429 a budget blocks, 404, 409 (ambiguous), … */
export interface EvictionAnswer {
  readonly status: number;
  readonly message: string;
  /** Messages of the 429's `DisruptionBudget` causes: each names the budget. */
  readonly causes: readonly string[];
}

export interface PodEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** A PodDisruptionBudget as the rotation queue reads it: its size, its rule, whom it selects. */
export interface BudgetOfPods extends BudgetFacts {
  readonly selector: V1LabelSelector | undefined;
  /** status.disruptionsAllowed: 0 while the budget is spent. */
  readonly disruptionsAllowed: number;
}

export interface EvictionCluster {
  evict(pod: PodIdentity): Promise<EvictionAnswer>;
  recordEvent(pod: PodIdentity, event: PodEvent): Promise<void>;
  /** The pod with the token's name as the API server has it now; undefined when there is none. */
  readPod(pod: PodIdentity): Promise<PodFacts | undefined>;
  /**
   * Sets the pod's vault-courier.io/Rotation condition through `pods/status` (the only
   * right it needs: `patch pods` could change images). Answers the API server's code.
   */
  writeRotationCondition(pod: PodIdentity, condition: RotationCondition): Promise<{ readonly status: number; readonly message: string }>;
  fetchIssuer(): Promise<string>;
  /** The namespace's PodDisruptionBudgets (`list poddisruptionbudgets`). */
  listBudgets(namespace: string): Promise<BudgetOfPods[]>;
  /** The namespace's pods a selector's matchLabels select (`list pods`); the caller applies the rest of it. */
  listPods(namespace: string, selector: V1LabelSelector | undefined): Promise<PodFacts[]>;
}

interface StatusBody {
  message?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

function parseStatus(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  return typeof body === 'object' && body !== null ? (body as StatusBody) : {};
}

/** The pod's readable vault-courier.io/Rotation condition, as a PodFacts field. */
function rotationOf(pod: V1Pod): Pick<PodFacts, 'rotation'> {
  const rotation = parseRotationCondition(pod.status?.conditions?.find((c) => c.type === ROTATION_CONDITION_TYPE));
  return rotation !== undefined && 'state' in rotation ? { rotation: rotation.state } : {};
}

/** What the rotation queue reads of a pod. */
function queueFacts(pod: V1Pod): Pick<PodFacts, 'labels' | 'terminationGracePeriodSeconds' | 'terminating' | 'ready'> {
  const meta = pod.metadata ?? {};
  return {
    labels: meta.labels ?? {},
    // The API server defaults it to 30; a pod read back always has it.
    terminationGracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30,
    terminating: meta.deletionTimestamp != null,
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  };
}

export function podFacts(pod: V1Pod): PodFacts {
  const names = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
  return { uid: pod.metadata?.uid ?? '', name: pod.metadata?.name ?? '', annotations: pod.metadata?.annotations ?? {}, containerNames: names, ...rotationOf(pod), ...queueFacts(pod) };
}

export function budgetOfPods(pdb: V1PodDisruptionBudget): BudgetOfPods {
  const { maxUnavailable, minAvailable } = pdb.spec ?? {};
  return {
    name: pdb.metadata?.name ?? '',
    expectedPods: pdb.status?.expectedPods ?? 0,
    ...(maxUnavailable === undefined ? {} : { maxUnavailable }),
    ...(minAvailable === undefined ? {} : { minAvailable }),
    selector: pdb.spec?.selector,
    disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
  };
}

/** matchLabels as a `labelSelector` query: the API server narrows the list, matchExpressions are checked after. */
export function matchLabelsQuery(selector: V1LabelSelector | undefined): string {
  const pairs = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  return pairs.length === 0 ? '' : `?labelSelector=${encodeURIComponent(pairs.join(','))}`;
}

/** The JWKS URL of the cluster the KubeConfig talks to: the API server serves it. */
export function jwksUrl(kc: KubeConfig): URL {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new CourierError('config', 'the KubeConfig names no cluster server: cannot locate /openid/v1/jwks');
  return new URL('/openid/v1/jwks', server);
}

/**
 * jose's createRemoteJWKSet fetches the keys and owns caching, cooldown and max age; this
 * only makes its GET with the webhook's credentials. jose's `headers` option is fixed at
 * creation (a pod's token file rotates) and Node's fetch takes no TLS agent (the cluster
 * CA, client certificates), so the request goes through node:http(s) with what the
 * KubeConfig applies on each call. Failures become retryable `kubernetes` errors (503).
 */
export function kubeFetch(kc: KubeConfig): FetchImplementation {
  return async (url, init) => {
    const { status, body } = await sendWithCredentials(kc, new URL(url), { method: 'GET', headers: Object.fromEntries(init.headers.entries()), signal: init.signal }).catch((cause: unknown) => {
      throw new CourierError('kubernetes', "cannot fetch the cluster's service-account keys from /openid/v1/jwks", { cause, retryable: true });
    });
    if (status !== 200) throw new CourierError('kubernetes', `the API server answered ${status} for /openid/v1/jwks (the webhook needs get on that URL)`, { retryable: true });
    return new Response(new Uint8Array(body), { status, headers: { 'content-type': 'application/json' } });
  };
}

const REPORTING_COMPONENT = 'vault-courier.io/webhook';

/** One Event object per pod and reason: `<pod>.<hash of uid and reason>`, at most 253 characters. */
export function eventName(pod: PodIdentity, reason: string): string {
  const suffix = createHash('sha256').update(`${pod.uid}/${reason}`).digest('hex').slice(0, 16);
  return `${pod.name.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

export function createEvictionCluster(kc: KubeConfig): EvictionCluster {
  const instance = hostname();

  return {
    async evict(pod) {
      const body: V1Eviction = {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name: pod.name, namespace: pod.namespace },
        deleteOptions: { preconditions: { uid: pod.uid } },
      };
      try {
        await kubeRequest(kc, { method: 'POST', path: corePath(pod.namespace, 'pods', pod.name, 'eviction'), body });
        return { status: 201, message: `eviction of pod ${pod.namespace}/${pod.name} accepted`, causes: [] };
      } catch (err) {
        if (!(err instanceof ApiException)) throw err;
        const status = parseStatus(err.body);
        const causes = (status.details?.causes ?? []).filter((c) => c.reason === 'DisruptionBudget').map((c) => c.message ?? '');
        return { status: err.code, message: status.message ?? `the API server answered ${err.code}`, causes };
      }
    },

    async recordEvent(pod, event) {
      const name = eventName(pod, event.reason);
      const now = new Date();
      try {
        const body: CoreV1Event = {
          metadata: { name, namespace: pod.namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
          type: event.type,
          reason: event.reason,
          message: event.message,
          source: { component: 'vault-courier-webhook' },
          reportingComponent: REPORTING_COMPONENT,
          reportingInstance: instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        };
        await kubeRequest(kc, { method: 'POST', path: corePath(pod.namespace, 'events'), body });
        return;
      } catch (err) {
        if (!(err instanceof ApiException && err.code === 409)) throw err;
      }
      // Same pod, same reason (a PDB blocking for an hour): one Event counted, as the
      // kubelet's recorder aggregates, not one object per retry. The test op makes a
      // concurrent replica's increment fail instead of being lost silently.
      const existing = await kubeRequest<CoreV1Event>(kc, { method: 'GET', path: corePath(pod.namespace, 'events', name) });
      const count = existing.count ?? 1;
      await kubeRequest(kc, {
        method: 'PATCH',
        path: corePath(pod.namespace, 'events', name),
        contentType: 'application/json-patch+json',
        body: [
          { op: 'test', path: '/count', value: count },
          { op: 'replace', path: '/count', value: count + 1 },
          { op: 'add', path: '/lastTimestamp', value: now.toISOString().replace(/\.\d+Z$/, 'Z') },
          { op: 'replace', path: '/message', value: event.message },
        ],
      });
    },

    async readPod(pod) {
      try {
        return podFacts(await kubeRequest<V1Pod>(kc, { method: 'GET', path: corePath(pod.namespace, 'pods', pod.name) }));
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return undefined;
        throw err;
      }
    },

    async writeRotationCondition(pod, condition) {
      // A strategic merge patch merges conditions by type: the kubelet's own stay as they
      // are. The uid in the patch makes it fail (uid is immutable) on a successor pod.
      const body = { metadata: { uid: pod.uid }, status: { conditions: [condition] } };
      try {
        await kubeRequest(kc, { method: 'PATCH', path: corePath(pod.namespace, 'pods', pod.name, 'status'), contentType: 'application/strategic-merge-patch+json', body });
        return { status: 200, message: 'condition written' };
      } catch (err) {
        if (!(err instanceof ApiException)) throw err;
        return { status: err.code, message: parseStatus(err.body).message ?? `the API server answered ${err.code}` };
      }
    },

    async listBudgets(namespace) {
      const list = await kubeRequest<{ items?: V1PodDisruptionBudget[] }>(kc, { method: 'GET', path: `/apis/policy/v1/namespaces/${encodeURIComponent(namespace)}/poddisruptionbudgets` });
      return (list.items ?? []).map(budgetOfPods);
    },

    async listPods(namespace, selector) {
      const list = await kubeRequest<{ items?: V1Pod[] }>(kc, { method: 'GET', path: `${corePath(namespace, 'pods')}${matchLabelsQuery(selector)}` });
      return (list.items ?? []).map(podFacts);
    },

    async fetchIssuer() {
      const doc = await kubeRequest<{ issuer?: unknown } | undefined>(kc, { method: 'GET', path: '/.well-known/openid-configuration' });
      if (typeof doc?.issuer !== 'string') throw new Error('/.well-known/openid-configuration has no issuer');
      return doc.issuer;
    },
  };
}
