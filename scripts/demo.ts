/**
 * The local demo: the real control plane, Vault and PostgreSQL (packages/devcluster), the
 * webhook in-process (admission and POST /evict), the process runner standing in for a
 * kubelet, and a Deployment of the demo app whose database credentials rotate by
 * eviction, told as a timeline.
 *
 * Usage (scripts/demo.sh runs the set-up first):
 *   node scripts/demo.ts            runs until Ctrl-C
 *   node scripts/demo.ts --once     exits 0 after one full rotation of every replica
 *   node scripts/demo.ts --ttl=90   database credentials TTL in seconds (default 60)
 *
 * startLoop() is also what test/e2e/rotation.test.ts runs, so the demo and the test prove
 * the same wiring.
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, makeInformer, PolicyV1Api, type V1Pod } from '@kubernetes/client-node';
import {
  ANNOTATION_PREFIX,
  buildMutatingWebhookConfiguration,
  createLogger,
  NAMESPACE_LABEL,
  NAMESPACE_LABEL_VALUE,
  parseConfig,
  STATUS_INJECTED,
  type Logger,
} from '@vault-courier/core';
import {
  createNamespace,
  freePort,
  LOCAL_IMAGES,
  projectImages,
  startDevCluster,
  startProcessRunner,
  type ContainerRef,
  type DevCluster,
  type ImageMap,
  type ProcessRunner,
} from '@vault-courier/devcluster';
import { startWebhook, type RunningWebhook } from '@vault-courier/webhook';
import { evictRoutes } from '@vault-courier/webhook/evict/router';
import { applyEvent, createTimeline, eventFromLine, usersAwaitingRevocation, type DemoEvent, type Timeline } from '@vault-courier/demo-app/timeline';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
/** The webhook's own namespace: excluded from injection by the MutatingWebhookConfiguration. */
const WEBHOOK_NAMESPACE = 'vault-courier';
const APP_LABEL = { app: 'demo-app' };
const REVOCATION_POLL_MS = 1_000;

export interface LoopOptions {
  /** Lifetime of the database credentials, in seconds (the issue's figure: 60). */
  readonly dbTtlSeconds?: number;
  readonly replicas?: number;
  readonly namespace?: string;
  /** More images the runner may run (tests add fixtures). */
  readonly extraImages?: ImageMap;
  /** Each timeline line, already prefixed with the elapsed time. */
  readonly onTimeline?: (line: string) => void;
  readonly onContainerLine?: (ref: ContainerRef, line: string) => void;
}

export interface Loop {
  readonly cluster: DevCluster;
  readonly runner: ProcessRunner;
  readonly webhook: RunningWebhook;
  readonly namespace: string;
  readonly deployment: string;
  readonly timeline: () => Timeline;
  /** Resolves once every original replica was evicted, replaced by a new user, and its user revoked. */
  readonly rotated: Promise<void>;
  stop(): Promise<void>;
}

function fileLogger(name: string, file: string): Logger {
  return createLogger({ name, destination: createWriteStream(file, { flags: 'a' }) });
}

async function startInjector(cluster: DevCluster, logger: Logger): Promise<RunningWebhook> {
  const vault = cluster.vault;
  if (vault === undefined) throw new Error('the demo needs the dev cluster started with vault: true');
  const port = await freePort();
  const tls = await cluster.issueCertificate({ name: 'webhook', commonName: 'vault-courier-webhook', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], usage: 'server' });
  // The webhook's configuration as the chart would set it, through the same parser.
  const config = parseConfig({
    VAULT_COURIER_LISTEN: `127.0.0.1:${port}`,
    VAULT_COURIER_METRICS_LISTEN: '127.0.0.1:0',
    VAULT_COURIER_TLS_CERT: tls.certPath,
    VAULT_COURIER_TLS_KEY: tls.keyPath,
    VAULT_COURIER_VAULT_ADDR: vault.addr,
    VAULT_COURIER_AUTH_PATH: vault.authPath,
    VAULT_COURIER_INIT_IMAGE: LOCAL_IMAGES.init,
    VAULT_COURIER_SIDECAR_IMAGE: LOCAL_IMAGES.sidecar,
    VAULT_COURIER_SERVICE_URL: `https://127.0.0.1:${port}`,
    VAULT_COURIER_SERVICE_CACERT: cluster.caCertPath,
  });
  const webhook = await startWebhook(config, logger, {
    routes: evictRoutes(logger, cluster.kubeConfig),
  });
  const admission = cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  await admission.createMutatingWebhookConfiguration({
    body: buildMutatingWebhookConfiguration({ url: webhook.url, caBundle: Buffer.from(cluster.caPem).toString('base64'), namespace: WEBHOOK_NAMESPACE }),
  });
  return webhook;
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

export function demoAppContainer(cluster: DevCluster) {
  const db = cluster.postgres;
  if (db === undefined) throw new Error('the demo needs PostgreSQL');
  return {
    name: 'app',
    image: LOCAL_IMAGES.demoApp,
    env: [
      { name: 'DEMO_SECRETS_DIR', value: '/vault/secrets' },
      { name: 'DEMO_SECRET_NAME', value: 'db' },
      { name: 'DEMO_DB_HOST', value: db.host },
      { name: 'DEMO_DB_PORT', value: String(db.port) },
      { name: 'DEMO_DB_NAME', value: 'postgres' },
    ],
  };
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

export async function startLoop(options: LoopOptions = {}): Promise<Loop> {
  const started = Date.now();
  const replicas = options.replicas ?? 3;
  const namespace = options.namespace ?? 'demo';
  const dbTtlSeconds = options.dbTtlSeconds ?? 60;
  const cluster = await startDevCluster({ vault: true, postgres: true, controllers: true });
  const cleanups: (() => Promise<void>)[] = [() => cluster.stop()];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const logDir = path.join(cluster.dir, 'logs');
    const webhook = await startInjector(cluster, fileLogger('vault-courier-webhook', path.join(logDir, 'webhook.log')));
    cleanups.push(() => webhook.close());

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

    const runner = await startProcessRunner({
      kubeConfig: cluster.kubeConfig,
      images: { ...projectImages(REPO_ROOT), ...options.extraImages },
      workDir: path.join(cluster.dir, 'runner'),
      cwd: REPO_ROOT,
      logger: fileLogger('process-runner', path.join(logDir, 'process-runner.log')),
      onContainerLine: (ref, line) => {
        options.onContainerLine?.(ref, line);
        if (ref.namespace !== namespace) return;
        const event = eventFromLine(ref, line);
        if (event !== undefined) record(event);
      },
    });
    cleanups.push(() => runner.stop());

    await createNamespace(cluster.kubeConfig, namespace, { [NAMESPACE_LABEL]: NAMESPACE_LABEL_VALUE });
    await configureVault(cluster, namespace, dbTtlSeconds);

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

    await waitForInjection(cluster, namespace);
    const deployment = await createDemoDeployment(cluster, namespace, replicas);
    return { cluster, runner, webhook, namespace, deployment, timeline: () => timeline, rotated, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const once = args.includes('--once');
  const ttlArg = args.find((a) => a.startsWith('--ttl='));
  const dbTtlSeconds = ttlArg === undefined ? 60 : Number(ttlArg.slice('--ttl='.length));
  const unknown = args.filter((a) => a !== '--once' && !a.startsWith('--ttl='));
  if (unknown.length > 0 || !Number.isInteger(dbTtlSeconds) || dbTtlSeconds < 20) {
    console.error('usage: node scripts/demo.ts [--once] [--ttl=<seconds, >= 20>]');
    return 2;
  }
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  say(`vault-courier demo: starting etcd, kube-apiserver, kube-controller-manager, Vault, PostgreSQL, the webhook and the process runner (database TTL ${dbTtlSeconds} s)`);
  const loop = await startLoop({ dbTtlSeconds, onTimeline: say });
  say(`ready: namespace ${loop.namespace} (label ${NAMESPACE_LABEL}=${NAMESPACE_LABEL_VALUE}), Deployment ${loop.deployment} with 3 replicas and a PodDisruptionBudget maxUnavailable 1`);
  say(`component logs: ${path.join(loop.cluster.dir, 'logs')}; kubeconfig: ${loop.cluster.kubeconfigPath}`);
  let stopping: Promise<number> | undefined;
  const finish = (code: number, why: string): Promise<number> =>
    (stopping ??= (async () => {
      say(`${why}: stopping the pods (their sidecars revoke their Vault tokens), the webhook and the cluster`);
      await loop.stop();
      say('stopped: every process ended, temp dir removed');
      return code;
    })());
  return new Promise<number>((resolve) => {
    process.once('SIGINT', () => void finish(130, 'Ctrl-C').then(resolve));
    process.once('SIGTERM', () => void finish(143, 'SIGTERM').then(resolve));
    if (!once) return;
    const limitMs = (dbTtlSeconds * 3 + 120) * 1000;
    const timer = setTimeout(() => void finish(1, `--once: no full rotation within ${limitMs / 1000} s`).then(resolve), limitMs);
    void loop.rotated.then(() => {
      clearTimeout(timer);
      void finish(0, '--once: one full rotation done').then(resolve);
    });
  });
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error('demo failed:', err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
