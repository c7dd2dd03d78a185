/**
 * What the sidecar and eviction-endpoint integration tests share: a dev cluster with
 * Vault and PostgreSQL, the eviction endpoint served over HTTPS by the webhook's own
 * server (startWebhook + evictRoutes) under a service account holding exactly the
 * RBAC rules docs/eviction-endpoint.md lists, a TCP proxy in front of Vault that a test
 * can take down and bring back, ReplicaSets whose pods are bound and Ready, the real init
 * container to fill a pod's state volume, and the sidecar as a child process.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { EVICT_RBAC_RULES } from '@vault-courier/webhook/evict/rbac';
import { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api, RbacAuthorizationV1Api, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import {
  bindAndMarkReady,
  createNamespace,
  createServiceAccount,
  requestServiceAccountToken,
  startDevCluster,
  type DevCluster,
} from '@vault-courier/devcluster';
import { startProcess, type ManagedProcess } from '@vault-courier/devcluster/process';
import { ANNOTATIONS, createLogger, EVICT_AUDIENCE, INJECTED_ENV, STATUS_INJECTED, VAULT_AUDIENCE, type Logger } from '@vault-courier/core';
import { startWebhook, type RunningWebhook } from '@vault-courier/webhook/server';
import { evictRoutes } from '@vault-courier/webhook/evict/router';
import { testWebhookConfig } from '../helpers/webhook-tls.ts';

const REPO = new URL('../../', import.meta.url).pathname;
export const SIDECAR_MAIN = join(REPO, 'packages/sidecar/src/main.ts');
export const INIT_MAIN = join(REPO, 'packages/init/src/main.ts');


export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/** A TCP proxy in front of Vault: down() refuses and cuts every connection, up() serves again on the same port. */
export interface VaultProxy {
  readonly addr: string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startVaultProxy(target: string): Promise<VaultProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(Number(port), hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server?.listen(listenPort, '127.0.0.1', resolve));
    listenPort = (server.address() as { port: number }).port;
  };
  const down = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return { addr: `http://127.0.0.1:${listenPort}`, down, up: listen, close: down };
}

export interface LogSink {
  readonly logger: Logger;
  lines(): Record<string, unknown>[];
  text(): string;
}

export function logSink(name: string): LogSink {
  const chunks: string[] = [];
  const logger = createLogger({ name, level: 'debug', destination: new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c.toString()), done()) }) });
  const text = () => chunks.join('');
  return { logger, text, lines: () => text().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export interface RotationWorld {
  readonly cluster: DevCluster;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  readonly webhook: RunningWebhook;
  readonly webhookLog: LogSink;
  readonly vaultProxy: VaultProxy;
  readonly registry: Registry;
  readonly dir: string;
  stop(): Promise<void>;
}

/** A KubeConfig that authenticates as a ServiceAccount with a TokenRequest token, like a pod's. */
async function serviceAccountKubeConfig(cluster: DevCluster, namespace: string, name: string): Promise<KubeConfig> {
  const token = await requestServiceAccountToken(cluster.kubeConfig, { namespace, serviceAccount: name, audiences: [cluster.serviceAccountIssuer], expirationSeconds: 7200 });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'devcluster', server: cluster.apiServerUrl, caData: Buffer.from(cluster.caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name, token }],
    contexts: [{ name: 'sa', cluster: 'devcluster', user: name }],
    currentContext: 'sa',
  });
  return kc;
}

export async function startRotationWorld(): Promise<RotationWorld> {
  const cluster = await startDevCluster({ vault: true, postgres: true, controllers: true });
  const cleanups: (() => Promise<unknown>)[] = [() => cluster.stop()];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const vault = cluster.vault;
    if (vault === undefined) throw new Error('the dev cluster started without Vault');
    const vaultProxy = await startVaultProxy(vault.addr);
    cleanups.push(() => vaultProxy.close());

    // The webhook's identity: a ServiceAccount with exactly the documented rules.
    await createNamespace(cluster.kubeConfig, 'vault-courier');
    await createServiceAccount(cluster.kubeConfig, 'vault-courier', 'vault-courier-webhook');
    const rbac = cluster.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({ body: { metadata: { name: 'vault-courier-evict' }, rules: [...EVICT_RBAC_RULES] } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'vault-courier-evict' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'vault-courier-evict' },
        subjects: [{ kind: 'ServiceAccount', name: 'vault-courier-webhook', namespace: 'vault-courier' }],
      },
    });
    const webhookKc = await serviceAccountKubeConfig(cluster, 'vault-courier', 'vault-courier-webhook');

    const serving = await cluster.issueCertificate({ name: 'evict-webhook', commonName: 'vault-courier-webhook', ipAddresses: ['127.0.0.1'], usage: 'server' });
    // The cluster's CA signed the serving pair; Vault here needs no CA.
    const config = testWebhookConfig({ certPath: serving.certPath, keyPath: serving.keyPath, caCertPath: cluster.caCertPath }, { VAULT_COURIER_VAULT_ADDR: vaultProxy.addr, VAULT_COURIER_VAULT_CACERT: '' });
    const webhookLog = logSink('vault-courier-webhook');
    const registry = new Registry();
    const webhook = await startWebhook(config, webhookLog.logger, {
      registry,
      // The hold's own length is a tuning value: a short one keeps each blocked attempt short here.
      routes: evictRoutes(webhookLog.logger, webhookKc, { hold: { maxMs: 400, everyMs: 100 } }),
    });
    cleanups.push(() => webhook.close());

    await vault.writePolicy('app', 'path "database/creds/app" { capabilities = ["read"] }\npath "database/creds/short" { capabilities = ["read"] }\npath "secret/data/app" { capabilities = ["read"] }');
    await vault.createDatabaseRole({ name: 'app', ttlSeconds: 30, maxTtlSeconds: 30 });
    await vault.createDatabaseRole({ name: 'short', ttlSeconds: 15, maxTtlSeconds: 15 });
    await vault.writeKv('app', { greeting: 'hello' });

    const dir = await mkdtemp(join(cluster.dir, 'rotation-'));
    return {
      cluster,
      core: cluster.kubeConfig.makeApiClient(CoreV1Api),
      apps: cluster.kubeConfig.makeApiClient(AppsV1Api),
      policy: cluster.kubeConfig.makeApiClient(PolicyV1Api),
      webhook,
      webhookLog,
      vaultProxy,
      registry,
      dir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * What the webhook writes on a pod it injects: the endpoint serves only such pods. The
 * tests here create pods without the admission webhook, so they carry it themselves.
 */
export const INJECTED_METADATA = { annotations: { [ANNOTATIONS.status]: STATUS_INJECTED } } as const;

/**
 * A namespace with a ServiceAccount `app`, a Vault role for it (token TTL `tokenTtl`, max
 * `tokenMaxTtl`), and a ReplicaSet of `replicas` whose pods are bound and Ready, marked as
 * injected unless `injected` is false.
 */
export async function createWorkload(
  world: RotationWorld,
  options: { namespace: string; replicas?: number; graceSeconds?: number; tokenTtl?: number; tokenMaxTtl?: number; injected?: boolean },
): Promise<V1Pod[]> {
  const { namespace } = options;
  await createNamespace(world.cluster.kubeConfig, namespace);
  await createServiceAccount(world.cluster.kubeConfig, namespace, 'app');
  const vault = world.cluster.vault;
  if (vault === undefined) throw new Error('no Vault');
  await vault.client.write(`auth/kubernetes/role/${namespace}`, {
    bound_service_account_names: ['app'],
    bound_service_account_namespaces: [namespace],
    audience: VAULT_AUDIENCE,
    token_policies: ['app'],
    token_ttl: options.tokenTtl ?? 3600,
    token_max_ttl: options.tokenMaxTtl ?? 7200,
  });
  await world.apps.createNamespacedReplicaSet({
    namespace,
    body: {
      metadata: { name: 'app' },
      spec: {
        replicas: options.replicas ?? 1,
        selector: { matchLabels: { app: 'app' } },
        template: {
          metadata: { labels: { app: 'app' }, ...(options.injected === false ? {} : INJECTED_METADATA) },
          spec: { serviceAccountName: 'app', terminationGracePeriodSeconds: options.graceSeconds ?? 5, containers: [{ name: 'app', image: 'registry.example/app:1' }] },
        },
      },
    },
  });
  return readyPods(world, namespace, options.replicas ?? 1);
}

/** Waits for `count` live pods of the ReplicaSet, binds them and marks them Ready. */
export async function readyPods(world: RotationWorld, namespace: string, count: number, exclude: readonly string[] = []): Promise<V1Pod[]> {
  const pods = await eventually(`${count} pods in ${namespace}`, async () => {
    const list = await world.core.listNamespacedPod({ namespace });
    const live = list.items.filter((p) => p.metadata?.deletionTimestamp === undefined && !exclude.includes(p.metadata?.uid ?? ''));
    return live.length >= count ? live.slice(0, count) : undefined;
  });
  return Promise.all(pods.map((p) => bindAndMarkReady(world.cluster.kubeConfig, namespace, p.metadata?.name ?? '')));
}

export interface PodState {
  readonly stateDir: string;
  readonly secretsDir: string;
  readonly tokenDir: string;
  readonly evictJwtPath: string;
}

/** Projected tokens for the pod (audiences vault and vault-courier), then the real init container. */
export async function deliver(world: RotationWorld, pod: V1Pod, secrets: { name: string; path: string }[], vaultAddr = world.vaultProxy.addr): Promise<PodState> {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const uid = pod.metadata?.uid ?? '';
  const base = join(world.dir, `${namespace}-${name}`);
  const state: PodState = { stateDir: join(base, 'state'), secretsDir: join(base, 'secrets'), tokenDir: join(base, 'token'), evictJwtPath: join(base, 'token', EVICT_AUDIENCE) };
  await Promise.all([state.stateDir, state.secretsDir, state.tokenDir].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
  for (const audience of [VAULT_AUDIENCE, EVICT_AUDIENCE]) {
    const jwt = await requestServiceAccountToken(world.cluster.kubeConfig, { namespace, serviceAccount: 'app', audiences: [audience], podName: name, podUid: uid, expirationSeconds: 3600 });
    await writeFile(join(state.tokenDir, audience), jwt, { mode: 0o600 });
  }
  const env = {
    PATH: process.env.PATH,
    [INJECTED_ENV.vaultAddr]: vaultAddr,
    [INJECTED_ENV.authPath]: 'auth/kubernetes',
    [INJECTED_ENV.role]: namespace,
    [INJECTED_ENV.secrets]: JSON.stringify(secrets.map((s) => ({ ...s, format: { kind: 'json' } }))),
    [INJECTED_ENV.secretsDir]: state.secretsDir,
    [INJECTED_ENV.stateDir]: state.stateDir,
    [INJECTED_ENV.vaultJwtPath]: join(state.tokenDir, VAULT_AUDIENCE),
    [INJECTED_ENV.podName]: name,
    [INJECTED_ENV.podNamespace]: namespace,
    [INJECTED_ENV.podUid]: uid,
  };
  const child = spawn(process.execPath, [INIT_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`init exited ${code}: ${output}`);
  return state;
}

export interface RunningSidecar {
  readonly proc: ManagedProcess;
  lines(): Promise<Record<string, unknown>[]>;
  waitFor(what: string, match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  raw(): Promise<string>;
}

let sidecarCount = 0;

export interface SidecarOptions {
  readonly rotate?: boolean;
  readonly ownerKind?: string;
  readonly graceSeconds?: number;
  readonly vaultAddr?: string;
  /** VAULT_COURIER_SERVICE_URL; the webhook's by default. */
  readonly serviceUrl?: string;
  /** Added to the environment: a fault injector's (LD_PRELOAD of libfaketime). */
  readonly extraEnv?: NodeJS.ProcessEnv;
}

/** The environment the webhook would inject, plus traps the sidecar must ignore. */
function sidecarEnv(world: RotationWorld, pod: V1Pod, state: PodState, options: SidecarOptions): NodeJS.ProcessEnv {
  const meta = { name: '', namespace: '', uid: '', ...pod.metadata };
  const controller = meta.ownerReferences?.find((o) => o.controller === true)?.kind ?? '';
  const grace = options.graceSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 5;
  return {
    [INJECTED_ENV.stateDir]: state.stateDir,
    [INJECTED_ENV.evictJwtPath]: state.evictJwtPath,
    [INJECTED_ENV.serviceUrl]: options.serviceUrl ?? world.webhook.url.replace('localhost', '127.0.0.1'),
    [INJECTED_ENV.serviceCaPem]: world.cluster.caPem,
    [INJECTED_ENV.vaultAddr]: options.vaultAddr ?? world.vaultProxy.addr,
    [INJECTED_ENV.podName]: meta.name,
    [INJECTED_ENV.podNamespace]: meta.namespace,
    [INJECTED_ENV.podUid]: meta.uid,
    [INJECTED_ENV.rotate]: String(options.rotate ?? true),
    [INJECTED_ENV.ownerKind]: options.ownerKind ?? controller,
    [INJECTED_ENV.gracePeriodSeconds]: String(grace),
    // node-vault and friends read these on their own; the sidecar must not.
    VAULT_ADDR: 'http://127.0.0.1:1',
    VAULT_TOKEN: 'not-the-pod-token',
    VAULT_SKIP_VERIFY: 'true',
    DEBUG: '*',
    ...options.extraEnv,
  };
}

export function startSidecar(world: RotationWorld, pod: V1Pod, state: PodState, options: SidecarOptions = {}): RunningSidecar {
  const logPath = join(world.dir, `sidecar-${pod.metadata?.name}-${++sidecarCount}.log`);
  const proc = startProcess({ name: 'vault-courier-sidecar', command: process.execPath, args: [SIDECAR_MAIN], logPath, env: sidecarEnv(world, pod, state, options) });
  const raw = async () => readFile(logPath, 'utf8').catch(() => '');
  const lines = async () =>
    (await raw())
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    proc,
    raw,
    lines,
    waitFor: (what, match, timeoutMs = 60_000) =>
      eventually(`sidecar log: ${what}`, async () => {
        if (proc.exitStatus() !== undefined) {
          const found = (await lines()).find(match);
          if (found) return found;
          throw new Error(`the sidecar exited (${JSON.stringify(proc.exitStatus())}) before "${what}":\n${await raw()}`);
        }
        return (await lines()).find(match);
      }, timeoutMs, 200),
  };
}

export async function podEvents(world: RotationWorld, namespace: string, podName: string): Promise<CoreV1Event[]> {
  const list = await world.core.listNamespacedEvent({ namespace });
  return list.items.filter((e) => e.involvedObject.name === podName && e.involvedObject.kind === 'Pod');
}

/** The pod as the API server has it now, or undefined when it is gone. */
export async function readPod(world: RotationWorld, namespace: string, name: string): Promise<V1Pod | undefined> {
  try {
    return await world.core.readNamespacedPod({ namespace, name });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export function isEvicted(pod: V1Pod | undefined, uid: string): boolean {
  return pod === undefined || pod.metadata?.uid !== uid || pod.metadata?.deletionTimestamp !== undefined;
}
