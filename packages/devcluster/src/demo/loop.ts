/**
 * The demo's loop, one code path for `npm run demo`, `npm run cluster`, `npm run demo:kind`
 * and the end-to-end tests. Everything after "the cluster exists and the images are on
 * its node" is here and takes a DemoTarget (target.ts): a kubeconfig and how to reach
 * Vault and PostgreSQL. prepareCluster() sets Vault up for the cluster (kubernetes auth,
 * KV v2, the database engine), installs vault-courier by its Helm chart and opts a
 * namespace in; runLoop() adds a Deployment of the demo app with its PDB, whose database
 * credentials rotate by eviction, told as a timeline built from what the API shows: the
 * pods' watch, Warning Events, and the containers' logs from the log endpoint.
 *
 * startLoop() is runLoop() on the embedded cluster (packages/devcluster: a real node in a
 * network namespace of its own); scripts/demo-kind.ts runs it on kind.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { AppsV1Api, CoreV1Api, makeInformer, PolicyV1Api, type CoreV1Event, type KubeConfig, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE, STATUS_INJECTED } from '@vault-courier/core';
import { startDevCluster, type DevCluster } from '../cluster.ts';
import { createNamespace } from '../kube.ts';
import { installVaultCourier, PROJECT_IMAGES, RELEASE_NAME, RESTRICTED, WEBHOOK_NAMESPACE } from '../node/helm.ts';
import type { ContainerRef } from '../node/pod-logs.ts';
import { vaultAdmin, vaultClient, type VaultAdmin } from '../vault.ts';
import { configureVaultForCluster } from '../vault-setup.ts';
import { applyEvent, createTimeline, eventFromLine, usersAwaitingRevocation, type DemoEvent, type Timeline } from '@vault-courier/demo-app/timeline';
import { warningFromEvent } from './api-events.ts';
import { followContainerLogs } from './container-logs.ts';
import { apiServerCaPem, embeddedTarget, type DemoTarget, type Endpoint } from './target.ts';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..', '..');
const APP_LABEL = { app: 'demo-app' };
const DEPLOYMENT = 'demo-app';
const REVOCATION_POLL_MS = 1_000;
const DRAIN_TIMEOUT_MS = 60_000;
/** The app runs as a user of its own, not the injected containers' 65532: it reads the files through fsGroup. */
export const APP_UID = 4242;

export interface LoopOptions {
  /** Lifetime of the database credentials, in seconds (the figure: 60). */
  readonly dbTtlSeconds?: number;
  readonly replicas?: number;
  readonly namespace?: string;
  /** Each timeline line, already prefixed with the elapsed time. */
  readonly onTimeline?: (line: string) => void;
  /** Each line of each container of the demo namespace's pods, from the API's log endpoint. */
  readonly onContainerLine?: (ref: ContainerRef, line: string) => void;
  /** More annotations on the Deployment's pod template (e.g. a secret of the test's own). */
  readonly podAnnotations?: Readonly<Record<string, string>>;
  /** Vault policies the demo role gets besides its database one; write them in beforeDeployment. */
  readonly vaultPolicies?: readonly string[];
  /** Runs once Vault and the chart are set up, before the Deployment exists. */
  readonly beforeDeployment?: (vault: VaultAdmin) => Promise<void>;
}

/** The shared loop on any target. */
export interface DemoRun {
  readonly target: DemoTarget;
  readonly namespace: string;
  readonly deployment: string;
  readonly timeline: () => Timeline;
  /** Resolves once every original replica was evicted, replaced by a new user, and its user revoked. */
  readonly rotated: Promise<void>;
  /** The demo's pods stopped through the API (their sidecars revoke their tokens, the timeline tells it), then the watches. */
  stop(): Promise<void>;
}

/** The loop on the embedded cluster: stop() also stops the cluster. */
export interface Loop extends DemoRun {
  readonly cluster: DevCluster;
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

/** The demo's Vault policy and roles: database/creds/demo for `namespace`'s default ServiceAccount. */
async function configureDemoRoles(target: DemoTarget, namespace: string, dbTtlSeconds: number, extraPolicies: readonly string[]): Promise<void> {
  const vault = targetVault(target);
  await vault.writePolicy('demo-db', 'path "database/creds/demo" { capabilities = ["read"] }');
  await vault.createDatabaseRole({ name: 'demo', ttlSeconds: dbTtlSeconds, maxTtlSeconds: dbTtlSeconds });
  // The Vault token outlives the database lease, so the lease sets the deadline.
  await vault.createVaultRole({ name: 'demo', namespace, serviceAccount: 'default', policies: ['demo-db', ...extraPolicies], ttl: dbTtlSeconds * 2 });
}

function targetVault(target: DemoTarget): VaultAdmin {
  return vaultAdmin(vaultClient(target.vault.addr, target.vault.rootToken, target.vault.caPem));
}

/** The annotations an application team adds to its pod template: the whole integration. */
export function demoAnnotations(): Record<string, string> {
  return { [`${ANNOTATION_PREFIX}secret-db`]: 'database/creds/demo', [`${ANNOTATION_PREFIX}role`]: 'demo' };
}

/** The app's container; PostgreSQL as pods reach it (a DevCluster or a DemoTarget). */
export function demoAppContainer(where: { readonly postgres?: { readonly inCluster: Endpoint } }): V1Container {
  const db = where.postgres;
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

async function createDemoDeployment(target: DemoTarget, namespace: string, replicas: number, podAnnotations: Readonly<Record<string, string>>): Promise<void> {
  await target.kubeConfig.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({
    namespace,
    // AlwaysAllow: a pod whose credentials expired crash-loops, is not Ready, and the default
    // IfHealthyBudget would then refuse its eviction for good (docs/performance.md, Rotation).
    body: { metadata: { name: DEPLOYMENT }, spec: { maxUnavailable: 1, selector: { matchLabels: APP_LABEL }, unhealthyPodEvictionPolicy: 'AlwaysAllow' } },
  });
  await target.kubeConfig.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: DEPLOYMENT, labels: APP_LABEL },
      spec: {
        replicas,
        selector: { matchLabels: APP_LABEL },
        template: {
          metadata: { labels: APP_LABEL, annotations: { ...demoAnnotations(), ...podAnnotations } },
          spec: { automountServiceAccountToken: false, terminationGracePeriodSeconds: 5, containers: [demoAppContainer(target)] },
        },
      },
    },
  });
}

/**
 * The API server picks up a new MutatingWebhookConfiguration asynchronously: until a
 * dry-run pod comes back injected, a pod created now could slip through uninjected.
 */
async function waitForInjection(target: DemoTarget, namespace: string, timeoutMs = 30_000): Promise<void> {
  const core = target.kubeConfig.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = await core.createNamespacedPod({
      namespace,
      dryRun: 'All',
      body: { metadata: { name: 'injection-probe', annotations: demoAnnotations() }, spec: { automountServiceAccountToken: false, containers: [demoAppContainer(target)] } },
    });
    if (probe.metadata?.annotations?.[`${ANNOTATION_PREFIX}status`] === STATUS_INJECTED) return;
    if (Date.now() > deadline) throw new Error(`the webhook did not inject a dry-run pod in ${namespace} within ${timeoutMs} ms; see the webhook log`);
    await sleep(250);
  }
}

/** The condition the Eviction API sets on the pod it evicts. */
export function isEvicted(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'DisruptionTarget' && c.status === 'True' && c.reason === 'EvictionByEvictionAPI');
}

/** Asks PostgreSQL which of `users` still exist. */
async function existingRoles(target: DemoTarget, users: readonly string[]): Promise<Set<string>> {
  if (users.length === 0) return new Set();
  const db = target.postgres;
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
 * What `npm run cluster` leaves for a user and the demo builds on, on any target: Vault
 * set up for the cluster, vault-courier installed by its chart, `namespace` opted in
 * (Pod Security restricted), a Vault role `demo` for its default ServiceAccount reading
 * database/creds/demo, and the webhook answering.
 */
export async function prepareCluster(target: DemoTarget, namespace: string, dbTtlSeconds: number, options: { tls?: 'generate' | 'certs-command'; vaultPolicies?: readonly string[] } = {}): Promise<void> {
  const tls = options.tls === 'certs-command' ? await webhookTlsFromCertsCommand(target.dir) : {};
  const client = vaultClient(target.vault.addr, target.vault.rootToken, target.vault.caPem);
  // Independent: Vault's set-up runs while Helm waits for the webhook's pods.
  await Promise.all([
    configureVaultForCluster(target.kubeConfig, client, { apiServerUrlForVault: target.apiServerUrlForVault, apiServerCaPem: apiServerCaPem(target.kubeConfig), postgres: target.postgres }),
    installVaultCourier(target.kubeConfig, { helm: target.helm, kubeconfigPath: target.kubeconfigPath, dir: target.dir }, { vaultAddr: target.vault.inClusterAddr, vaultCaPem: target.vault.caPem, ...tls }),
  ]);
  await createNamespace(target.kubeConfig, namespace, { [NAMESPACE_LABEL]: NAMESPACE_LABEL_VALUE, ...RESTRICTED });
  await configureDemoRoles(target, namespace, dbTtlSeconds, options.vaultPolicies ?? []);
  await waitForInjection(target, namespace);
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

/** A watch that restarts after an error until stopped (the API server closes watches now and then). */
function keepWatching<T extends object>(kc: KubeConfig, path: string, list: () => Promise<{ items: T[] }>, on: { add?: (o: T) => void; update?: (o: T) => void; delete?: (o: T) => void }, labelSelector?: string) {
  const informer = makeInformer<T>(kc, path, list as never, labelSelector);
  for (const verb of ['add', 'update', 'delete'] as const) {
    const handler = on[verb];
    if (handler !== undefined) informer.on(verb, handler);
  }
  let watching = true;
  informer.on('error', () => {
    if (watching) setTimeout(() => void informer.start().catch(() => undefined), 1_000);
  });
  return {
    start: () => informer.start(),
    stop: async () => {
      watching = false;
      await informer.stop();
    },
  };
}

/**
 * Scales a Deployment to zero and waits until the pods of its selector are gone. For the
 * demo's: the kubelet stops each app, then its sidecar, which revokes its Vault token
 * (and with it the database user).
 */
async function scaleToZero(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const deployment = await apps.readNamespacedDeployment({ namespace, name }).catch(() => undefined);
  const labels = deployment?.spec?.selector.matchLabels;
  if (labels === undefined) return;
  await apps.replaceNamespacedDeploymentScale({ namespace, name, body: { metadata: { name, namespace }, spec: { replicas: 0 } } });
  const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const left = await core.listNamespacedPod({ namespace, labelSelector: selector }).catch(() => undefined);
    if (left === undefined || left.items.length === 0) return;
    await sleep(250);
  }
}

/** The shared loop: prepareCluster(), the Deployment, and the timeline from the API. */
export async function runLoop(target: DemoTarget, options: LoopOptions = {}): Promise<DemoRun> {
  const started = Date.now();
  const replicas = options.replicas ?? 3;
  const namespace = options.namespace ?? 'demo';
  const dbTtlSeconds = options.dbTtlSeconds ?? 60;
  const kc = target.kubeConfig;
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
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

    await prepareCluster(target, namespace, dbTtlSeconds, { vaultPolicies: options.vaultPolicies });
    await options.beforeDeployment?.(targetVault(target));

    const logs = followContainerLogs(kc, (ref, line) => {
      options.onContainerLine?.(ref, line);
      const event = eventFromLine(ref, line);
      if (event !== undefined) record(event);
    });
    cleanups.push(async () => logs.stop());
    const core = kc.makeApiClient(CoreV1Api);
    const ref = (pod: V1Pod) => ({ pod: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' });
    // Every pod of the namespace has its logs followed (the tests add pods of their own); the timeline is the Deployment's.
    const ours = (pod: V1Pod) => pod.metadata?.labels?.app === APP_LABEL.app;
    const pods = keepWatching<V1Pod>(kc, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace }), {
      add: (pod) => {
        logs.observe(pod);
        if (ours(pod)) record({ ...ref(pod), kind: 'pod-created', injected: pod.metadata?.annotations?.[`${ANNOTATION_PREFIX}status`] === STATUS_INJECTED });
      },
      // The Eviction API marks the pod before deleting it; the sidecar may be stopped before
      // it could log the answer, so this is where an accepted eviction is seen for sure.
      update: (pod) => {
        logs.observe(pod);
        if (ours(pod) && isEvicted(pod)) record({ ...ref(pod), kind: 'eviction-accepted' });
      },
      delete: (pod) => {
        logs.deleted(pod);
        if (ours(pod)) record({ ...ref(pod), kind: 'pod-deleted' });
      },
    });
    await pods.start();
    cleanups.push(() => pods.stop());
    const onEvent = (e: CoreV1Event) => {
      const warning = warningFromEvent(e, DEPLOYMENT);
      if (warning !== undefined) record(warning);
    };
    const warnings = keepWatching<CoreV1Event>(kc, `/api/v1/namespaces/${namespace}/events`, () => core.listNamespacedEvent({ namespace }), { add: onEvent, update: onEvent });
    await warnings.start();
    cleanups.push(() => warnings.stop());

    // Revocation is observed where it matters: the user is gone from PostgreSQL.
    const poll = setInterval(() => {
      const users = usersAwaitingRevocation(timeline);
      if (users.length === 0) return;
      existingRoles(target, users).then(
        (existing) => users.filter((u) => !existing.has(u)).forEach((user) => record({ kind: 'user-revoked', user })),
        () => undefined,
      );
    }, REVOCATION_POLL_MS);
    cleanups.push(async () => clearInterval(poll));
    // Last pushed, first run: the pods stop while the watches and log streams still tell it.
    cleanups.push(() => scaleToZero(kc, namespace, DEPLOYMENT));

    await createDemoDeployment(target, namespace, replicas, options.podAnnotations ?? {});
    return { target, namespace, deployment: DEPLOYMENT, timeline: () => timeline, rotated, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** runLoop() on the embedded cluster: a real node, Vault and PostgreSQL, all removed by stop(). */
export async function startLoop(options: LoopOptions = {}): Promise<Loop> {
  const cluster = await startDevCluster({ vault: true, configureVault: false, postgres: true, controllers: true, node: true });
  try {
    const demo = await runLoop(embeddedTarget(cluster), options);
    return {
      ...demo,
      cluster,
      stop: async () => {
        // The webhook's pods drain 5 s on SIGTERM (the chart's webhook Deployment): stopped
        // alongside the demo's, which need nothing of them, not after them.
        await Promise.all([demo.stop(), scaleToZero(cluster.kubeConfig, WEBHOOK_NAMESPACE, RELEASE_NAME).catch(() => undefined)]);
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
