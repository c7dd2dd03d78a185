/**
 * The eviction endpoint's Kubernetes I/O, with the webhook's own service account: the
 * Eviction for exactly the token's pod (uid precondition), Events on that pod, the
 * budgets covering it, and the cluster's service-account keys and issuer. Thin: no
 * decisions here beyond translating API answers into plain data.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { ApiException, CoreV1Api, OpenidApi, PolicyV1Api, WellKnownApi, type CoreV1Event, type KubeConfig, type V1Eviction } from '@kubernetes/client-node';
import type { JSONWebKeySet } from 'jose';
import type { PodIdentity } from '@vault-courier/core';
import { matchingPdbNames } from './pdb-match.ts';

/** The Eviction API's own answer: 201 accepted, 429 a budget blocks, 404 gone, 409 uid mismatch, … */
export interface EvictionAnswer {
  readonly status: number;
  readonly message: string;
  /** Budget names the API server gave in the 429's causes, when it did. */
  readonly causes: readonly string[];
}

export interface PodEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface EvictionCluster {
  evict(pod: PodIdentity): Promise<EvictionAnswer>;
  recordEvent(pod: PodIdentity, event: PodEvent): Promise<void>;
  /** Names of the PodDisruptionBudgets whose selector matches the pod's labels. */
  coveringBudgets(pod: PodIdentity): Promise<string[]>;
  fetchJwks(): Promise<JSONWebKeySet>;
  fetchIssuer(): Promise<string>;
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

function asJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

const REPORTING_COMPONENT = 'vault-courier.io/webhook';

/** One Event object per pod and reason: `<pod>.<hash of uid and reason>`, at most 253 characters. */
export function eventName(pod: PodIdentity, reason: string): string {
  const suffix = createHash('sha256').update(`${pod.uid}/${reason}`).digest('hex').slice(0, 16);
  return `${pod.name.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

export function createEvictionCluster(kc: KubeConfig): EvictionCluster {
  const core = kc.makeApiClient(CoreV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const openid = kc.makeApiClient(OpenidApi);
  const wellKnown = kc.makeApiClient(WellKnownApi);
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
        await core.createNamespacedPodEviction({ name: pod.name, namespace: pod.namespace, body });
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
        await core.createNamespacedEvent({ namespace: pod.namespace, body });
        return;
      } catch (err) {
        if (!(err instanceof ApiException && err.code === 409)) throw err;
      }
      // Same pod, same reason (a PDB blocking for an hour): one Event counted, as the
      // kubelet's recorder aggregates, not one object per retry. The test op makes a
      // concurrent replica's increment fail instead of being lost silently.
      const existing = await core.readNamespacedEvent({ name, namespace: pod.namespace });
      const count = existing.count ?? 1;
      await core.patchNamespacedEvent({
        name,
        namespace: pod.namespace,
        body: [
          { op: 'test', path: '/count', value: count },
          { op: 'replace', path: '/count', value: count + 1 },
          { op: 'add', path: '/lastTimestamp', value: now.toISOString().replace(/\.\d+Z$/, 'Z') },
          { op: 'replace', path: '/message', value: event.message },
        ],
      });
    },

    async coveringBudgets(pod) {
      const [found, budgets] = await Promise.all([
        core.readNamespacedPod({ name: pod.name, namespace: pod.namespace }),
        policy.listNamespacedPodDisruptionBudget({ namespace: pod.namespace }),
      ]);
      return matchingPdbNames(budgets.items, found.metadata?.labels ?? {});
    },

    async fetchJwks() {
      const jwks = asJson(await openid.getServiceAccountIssuerOpenIDKeyset()) as JSONWebKeySet;
      if (!Array.isArray(jwks?.keys)) throw new Error('/openid/v1/jwks did not return a key set');
      return jwks;
    },

    async fetchIssuer() {
      const doc = asJson(await wellKnown.getServiceAccountIssuerOpenIDConfiguration()) as { issuer?: unknown };
      if (typeof doc?.issuer !== 'string') throw new Error('/.well-known/openid-configuration has no issuer');
      return doc.issuer;
    },
  };
}
