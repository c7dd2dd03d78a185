/**
 * The demo's loop, shared by `npm run demo`, `npm run cluster` and the end-to-end tests: a
 * real cluster with one node (packages/devcluster: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, containerd, the kubelet, kube-proxy, CoreDNS,
 * Vault and PostgreSQL, in a network namespace of its own), vault-courier installed by
 * its Helm chart from the locally built images, and a Deployment of the demo app whose
 * database credentials rotate by eviction, told as a timeline read from the containers'
 * logs.
 *
 * startLoop() is what scripts/demo.ts shows and test/e2e/rotation.test.ts proves, so the
 * demo and the test run the same wiring.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { AppsV1Api, CoreV1Api, makeInformer, PolicyV1Api, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE, STATUS_INJECTED } from '@vault-courier/core';
import { startDevCluster, type DevCluster } from '../cluster.ts';
import { createNamespace } from '../kube.ts';
import { installVaultCourier, PROJECT_IMAGES, RELEASE_NAME, RESTRICTED, WEBHOOK_NAMESPACE } from '../node/helm.ts';
import { readPodLogs, type ContainerRef } from '../node/pod-logs.ts';
import { applyEvent, createTimeline, eventFromLine, usersAwaitingRevocation, type DemoEvent, type Timeline } from '@vault-courier/demo-app/timeline';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..', '..');
const APP_LABEL = { app: 'demo-app' };
const REVOCATION_POLL_MS = 1_000;
/** The app runs as a user of its own, not the injected containers' 65532: it reads the files through fsGroup. */
export const APP_UID = 4242;

export interface LoopOptions {
  /** Lifetime of the database credentials, in seconds (the figure: 60). */
  readonly dbTtlSeconds?: number;
  readonly replicas?: number;
  readonly namespace?: string;
  /** Each timeline line, already prefixed with the elapsed time. */
  readonly onTimeline?: (line: string) => void;
  readonly onContainerLine?: (ref: ContainerRef, line: string) => void;
}

export interface Loop {
  readonly cluster: DevCluster;
  readonly namespace: string;
  readonly deployment: string;
  readonly timeline: () => Timeline;
  /** Resolves once every original replica was evicted, replaced by a new user, and its user revoked. */
  readonly rotated: Promise<void>;
  stop(): Promise<void>;
}

/** The restricted Pod Security Standard, for a container the demo writes itself. */
export function restrictedContainer(container: V1Container): V1Container {
  return {
    imagePullPolicy: 'Never',
    ...container,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: APP_UID,
      runAsGroup: APP_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
      ...container.securityContext,
    },
  };
}

async function configureVault(cluster: DevCluster, namespace: string, dbTtlSeconds: number): Promise<void> {
  const vault = cluster.vault;
  if (vault === undefined) throw new Error('the demo needs Vault');
  await vault.writePolicy('demo-db', `path "${vault.databaseMount}/creds/demo" { capabilities = ["read"] }`);
  await vault.createDatabaseRole({ name: 'demo', ttlSeconds: dbTtlSeconds, maxTtlSeconds: dbTtlSeconds });
  // The Vault token outlives the database lease, so the lease sets the deadline.
  await vault.createVaultRole({ name: 'demo', namespace, serviceAccount: 'default', policies: ['demo-db'], ttl: dbTtlSeconds * 2 });
}

/** The annotations an application team adds to its pod template: the whole integration. */
export function demoAnnotations(): Record<string, string> {
  return { [`${ANNOTATION_PREFIX}secret-db`]: 'database/creds/demo', [`${ANNOTATION_PREFIX}role`]: 'demo' };
}

export function demoAppContainer(cluster: DevCluster): V1Container {
  const db = cluster.postgres;
  if (db === undefined) throw new Error('the demo needs PostgreSQL');
  return restrictedContainer({
    name: 'app',
    image: PROJECT_IMAGES.demoApp,
    env: [
      { name: 'DEMO_SECRETS_DIR', value: '/vault/secrets' },
      { name: 'DEMO_SECRET_NAME', value: 'db' },
      { name: 'DEMO_DB_HOST', value: db.inCluster.host },
      { name: 'DEMO_DB_PORT', value: String(db.inCluster.port) },
      { name: 'DEMO_DB_NAME', value: 'postgres' },
    ],
  });
}

async function createDemoDeployment(cluster: DevCluster, namespace: string, replicas: number): Promise<string> {
  const name = 'demo-app';
  await cluster.kubeConfig.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({
    namespace,
    body: { metadata: { name }, spec: { maxUnavailable: 1, selector: { matchLabels: APP_LABEL } } },
  });
  await cluster.kubeConfig.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, labels: APP_LABEL },
      spec: {
        replicas,
        selector: { matchLabels: APP_LABEL },
        template: {
          metadata: { labels: APP_LABEL, annotations: demoAnnotations() },
          spec: { automountServiceAccountToken: false, terminationGracePeriodSeconds: 5, containers: [demoAppContainer(cluster)] },
        },
      },
    },
  });
  return name;
}

/**
 * The API server picks up a new MutatingWebhookConfiguration asynchronously: until a
 * dry-run pod comes back injected, a pod created now could slip through uninjected.
 */
async function waitForInjection(cluster: DevCluster, namespace: string, timeoutMs = 30_000): Promise<void> {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = await core.createNamespacedPod({
      namespace,
      dryRun: 'All',
      body: { metadata: { name: 'injection-probe', annotations: demoAnnotations() }, spec: { automountServiceAccountToken: false, containers: [demoAppContainer(cluster)] } },
    });
    if (probe.metadata?.annotations?.[`${ANNOTATION_PREFIX}status`] === STATUS_INJECTED) return;
    if (Date.now() > deadline) throw new Error(`the webhook did not inject a dry-run pod in ${namespace} within ${timeoutMs} ms; see the webhook log`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The condition the Eviction API sets on the pod it evicts. */
export function isEvicted(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'DisruptionTarget' && c.status === 'True' && c.reason === 'EvictionByEvictionAPI');
}

/** Asks PostgreSQL which of `users` still exist. */
async function existingRoles(cluster: DevCluster, users: readonly string[]): Promise<Set<string>> {
  const db = cluster.postgres;
  if (db === undefined || users.length === 0) return new Set();
  const client = new pg.Client({ host: db.host, port: db.port, user: db.superuser, password: db.password, database: 'postgres' });
  await client.connect();
  try {
    const result = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [users]);
    return new Set(result.rows.map((r) => r.rolname));
  } finally {
    await client.end();
  }
}

/**
 * What `npm run cluster` leaves for a user and the demo builds on: vault-courier installed
 * by its chart, `namespace` opted in (Pod Security restricted), a Vault role `demo` for its
 * default ServiceAccount reading database/creds/demo, and the webhook answering.
 */
export async function prepareCluster(cluster: DevCluster, namespace: string, dbTtlSeconds: number, options: { tls?: 'generate' | 'certs-command' } = {}): Promise<void> {
  const node = cluster.node;
  const vault = cluster.vault;
  if (node === undefined || vault === undefined) throw new Error('the cluster needs a node and Vault');
  const tls = options.tls === 'certs-command' ? await webhookTlsFromCertsCommand(cluster.dir) : {};
  await installVaultCourier(cluster.kubeConfig, { helm: node.helm, kubeconfigPath: cluster.kubeconfigPath, dir: cluster.dir }, { vaultAddr: vault.inClusterAddr, vaultCaPem: vault.caPem, ...tls });
  await createNamespace(cluster.kubeConfig, namespace, { [NAMESPACE_LABEL]: NAMESPACE_LABEL_VALUE, ...RESTRICTED });
  await configureVault(cluster, namespace, dbTtlSeconds);
  await waitForInjection(cluster, namespace);
}

/**
 * The webhook's TLS as a user without Helm's generator makes it: `npm run certs` (the same
 * command, run as a process), its Secret manifest and its chart values.
 */
async function webhookTlsFromCertsCommand(dir: string): Promise<{ secretManifests: string[]; valuesFiles: string[] }> {
  const out = path.join(dir, 'webhook-tls');
  await run(process.execPath, [path.join(REPO_ROOT, 'certs', 'issue.ts'), '--service', RELEASE_NAME, '--namespace', WEBHOOK_NAMESPACE, '--out', out]);
  return { secretManifests: [path.join(out, 'secret.yaml')], valuesFiles: [path.join(out, 'values-secret.yaml')] };
}

export async function startLoop(options: LoopOptions = {}): Promise<Loop> {
  const started = Date.now();
  const replicas = options.replicas ?? 3;
  const namespace = options.namespace ?? 'demo';
  const dbTtlSeconds = options.dbTtlSeconds ?? 60;
  const cluster = await startDevCluster({ vault: true, postgres: true, controllers: true, node: true });
  const cleanups: (() => Promise<void>)[] = [() => cluster.stop()];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const node = cluster.node;
    const vault = cluster.vault;
    if (node === undefined || vault === undefined) throw new Error('the demo needs the cluster started with a node and Vault');

    let timeline = createTimeline(replicas);
    let resolveRotated: () => void = () => undefined;
    const rotated = new Promise<void>((resolve) => (resolveRotated = resolve));
    const record = (event: DemoEvent): void => {
      const applied = applyEvent(timeline, event);
      timeline = applied.timeline;
      const elapsed = `+${((Date.now() - started) / 1000).toFixed(1)}s`.padStart(8);
      for (const line of applied.lines) options.onTimeline?.(`${elapsed}  ${line}`);
      if (timeline.complete) resolveRotated();
    };
    const logs = readPodLogs(node.podLogsDir, (ref, line) => {
      options.onContainerLine?.(ref, line);
      if (ref.namespace !== namespace) return;
      const event = eventFromLine(ref, line);
      if (event !== undefined) record(event);
    });
    // Pods first (sidecars revoke their tokens on the way out), then the last log lines, then the cluster.
    cleanups.push(async () => {
      await node.drain();
      logs.stop();
    });

    await prepareCluster(cluster, namespace, dbTtlSeconds);

    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    const selector = Object.entries(APP_LABEL).map(([k, v]) => `${k}=${v}`).join(',');
    const pods = makeInformer<V1Pod>(cluster.kubeConfig, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace, labelSelector: selector }), selector);
    const ref = (pod: V1Pod) => ({ pod: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' });
    pods.on('add', (pod) => record({ ...ref(pod), kind: 'pod-created', injected: pod.metadata?.annotations?.[`${ANNOTATION_PREFIX}status`] === STATUS_INJECTED }));
    // The Eviction API marks the pod before deleting it; the sidecar may be stopped before
    // it could log the answer, so this is where an accepted eviction is seen for sure.
    pods.on('update', (pod) => {
      if (isEvicted(pod)) record({ ...ref(pod), kind: 'eviction-accepted' });
    });
    pods.on('delete', (pod) => record({ ...ref(pod), kind: 'pod-deleted' }));
    let watching = true;
    pods.on('error', () => {
      if (watching) setTimeout(() => void pods.start().catch(() => undefined), 1_000);
    });
    await pods.start();
    cleanups.push(async () => {
      watching = false;
      await pods.stop();
    });

    // Revocation is observed where it matters: the user is gone from PostgreSQL.
    const poll = setInterval(() => {
      const users = usersAwaitingRevocation(timeline);
      if (users.length === 0) return;
      existingRoles(cluster, users).then(
        (existing) => users.filter((u) => !existing.has(u)).forEach((user) => record({ kind: 'user-revoked', user })),
        () => undefined,
      );
    }, REVOCATION_POLL_MS);
    cleanups.push(async () => clearInterval(poll));

    const deployment = await createDemoDeployment(cluster, namespace, replicas);
    return { cluster, namespace, deployment, timeline: () => timeline, rotated, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

