/**
 * Faults of the parts vault-courier depends on, on the real node (docs/faults.md, "Vault,
 * PostgreSQL and API server faults"): the real Vault paused (SIGSTOP: its listener accepts
 * connections and answers nothing, as a hung server; killing the dev server would lose its
 * configuration) and sealed through sys/seal; the real PostgreSQL stopped and started on
 * the same data directory and port; the real kube-apiserver stopped and started with the
 * same flags (etcd keeps the state). Each fault is global, so the scenarios run one after
 * another, each in its own namespace with a Vault role of its own (short database TTLs).
 * Container lines come from the kubelet's CRI log files, which keep flowing while the API
 * server is down.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { CoreV1Api, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX, INIT_CONTAINER_NAME, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE, SIDECAR_CONTAINER_NAME } from '@vault-courier/core';
import { createNamespace, demoAppContainer, embeddedTarget, isEvicted, prepareCluster, readPodLogs, RELEASE_NAME, RESTRICTED, startDevCluster, type DevCluster, type PodLogReader } from '@vault-courier/devcluster';
import { Canary, CANARY_POLICY } from './canary.ts';
import { ContainerOutput, createDeployment as createAppsDeployment, isReady, waitFor } from './helpers.ts';

let cluster: DevCluster;
let core: CoreV1Api;
let logs: PodLogReader | undefined;
const output = new ContainerOutput();
/** Every scenario's pods request it beside their database secret: it must leak through no fault. */
const canary = new Canary();

/** The namespace prepareCluster opts in first; scenario 1 runs in it. */
const FIRST_NAMESPACE = 'vault-paused';
const VAULT_RETRY = 'Vault not ready; retrying';
const HELD = 'the webhook will not evict while Vault cannot serve the replacement pod: retrying';
const CLUSTER_DOWN = 'the webhook could not reach the Kubernetes API server: retrying';
const UNREACHABLE = 'the eviction endpoint cannot be reached: retrying';
const ACCEPTED = 'eviction accepted: waiting for SIGTERM';

before(async () => {
  cluster = await startDevCluster({ vault: true, configureVault: false, postgres: true, controllers: true, node: true });
  assert.ok(cluster.node);
  logs = readPodLogs(cluster.node.podLogsDir, output.collect);
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await prepareCluster(embeddedTarget(cluster), FIRST_NAMESPACE, 60);
  assert.ok(cluster.vault);
  await canary.plant(cluster.vault);
});

after(async () => {
  // A test that failed mid-fault leaves the part down: bring it back so the drain's sidecars revoke their tokens.
  const outages = cluster?.outages;
  if (outages !== undefined) {
    outages.resumeVault();
    if (cluster.processes.find((p) => p.name === 'kube-apiserver')?.exitStatus() !== undefined) await outages.startApiServer().catch(() => undefined);
    if (cluster.processes.find((p) => p.name === 'postgres')?.exitStatus() !== undefined) await outages.startPostgres().catch(() => undefined);
    await outages.unsealVault().catch(() => undefined);
  }
  await cluster?.node?.drain();
  logs?.stop();
  await cluster?.stop();
});

function outages() {
  assert.ok(cluster.outages);
  return cluster.outages;
}

/** An opted-in namespace whose default ServiceAccount may read database/creds/<namespace>, users living `ttlSeconds`. */
async function scenarioNamespace(namespace: string, ttlSeconds: number): Promise<Record<string, string>> {
  const vault = cluster.vault;
  assert.ok(vault);
  if (namespace !== FIRST_NAMESPACE) await createNamespace(cluster.kubeConfig, namespace, { [NAMESPACE_LABEL]: NAMESPACE_LABEL_VALUE, ...RESTRICTED });
  await vault.writePolicy(namespace, `path "database/creds/${namespace}" { capabilities = ["read"] }`);
  await vault.createDatabaseRole({ name: namespace, ttlSeconds, maxTtlSeconds: ttlSeconds });
  // The Vault token outlives the database lease, so the lease sets the deadline.
  await vault.createVaultRole({ name: namespace, namespace, serviceAccount: 'default', policies: [namespace, CANARY_POLICY], ttl: ttlSeconds * 2 });
  return { ...canary.annotations, [`${ANNOTATION_PREFIX}secret-db`]: `database/creds/${namespace}`, [`${ANNOTATION_PREFIX}role`]: namespace };
}

function podSpec(): V1PodSpec {
  return { automountServiceAccountToken: false, terminationGracePeriodSeconds: 5, containers: [demoAppContainer(cluster)] };
}

async function createDeployment(namespace: string, name: string, replicas: number, annotations: Record<string, string>): Promise<void> {
  await createAppsDeployment(cluster.kubeConfig, namespace, name, replicas, annotations, podSpec());
}

async function podsOf(namespace: string, app: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

const nameOf = (pod: V1Pod) => pod.metadata?.name ?? '';
const uidOf = (pod: V1Pod) => pod.metadata?.uid ?? '';
const timeOf = (entry: Record<string, unknown> | undefined) => new Date(String(entry?.time)).getTime();
const initRestarts = (pod: V1Pod) => pod.status?.initContainerStatuses?.find((s) => s.name === INIT_CONTAINER_NAME)?.restartCount;

function lines(pod: string, container: string, msg: string): Record<string, unknown>[] {
  return output.events(pod, container).filter((e) => e.msg === msg);
}

/** Init's delivery of the database secret (the canary's two files are delivered beside it). */
function dbDelivered(pod: string): Record<string, unknown>[] {
  return lines(pod, INIT_CONTAINER_NAME, 'secret delivered').filter((e) => e.secretName === 'db');
}

/** The app connected with the credentials init delivered: the database user it logged. */
function connectedUser(pod: string): string | undefined {
  const user = lines(pod, 'app', 'connected to the database')[0]?.user;
  return typeof user === 'string' ? user : undefined;
}

async function roleExists(user: string): Promise<boolean> {
  const db = cluster.postgres;
  assert.ok(db);
  const client = new pg.Client({ host: db.host, port: db.port, user: db.superuser, password: db.password, database: 'postgres' });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user])).rowCount === 1;
  } finally {
    await client.end();
  }
}

/** The webhook pods' lines since `sinceMs` (they carry no secret: the canary check covers them too). */
function webhookLines(sinceMs: number): string[] {
  return [...output.lines.entries()].filter(([key]) => key.startsWith(`${RELEASE_NAME}-`)).flatMap(([, list]) => list).filter((line) => {
    try {
      return timeOf(JSON.parse(line) as Record<string, unknown>) >= sinceMs;
    } catch {
      return false;
    }
  });
}

/** Until `done` answers, every read of the pod must show it not Ready (it waits in Init). */
async function neverReadyUntil<T>(what: string, timeoutMs: number, namespace: string, name: string, done: () => T | undefined): Promise<T> {
  return waitFor(what, timeoutMs, async () => {
    const pod = await core.readNamespacedPod({ namespace, name });
    assert.equal(isReady(pod), false, `${name} became Ready while the fault lasted`);
    return done();
  });
}

async function waitReady(namespace: string, name: string, timeoutMs: number): Promise<V1Pod> {
  return waitFor(`${namespace}/${name} to be Ready`, timeoutMs, async () => {
    const pod = await core.readNamespacedPod({ namespace, name });
    return isReady(pod) ? pod : undefined;
  });
}

test('Vault unresponsive (process paused) when a pod starts: init retries, logging why, and the pod starts with its secret once Vault answers, init never restarted', { timeout: 60_000 }, async (t) => {
  const namespace = FIRST_NAMESPACE;
  const annotations = await scenarioNamespace(namespace, 60);
  const name = 'starts-while-vault-hangs';
  outages().pauseVault();
  let resumed = false;
  try {
    await core.createNamespacedPod({ namespace, body: { metadata: { name, annotations }, spec: podSpec() } });
    // Each attempt waits out the init container's 10 s request timeout before the retry.
    const retries = await neverReadyUntil('init to log a retry while Vault hangs', 30_000, namespace, name, () => {
      const found = lines(name, INIT_CONTAINER_NAME, VAULT_RETRY);
      return found.length > 0 ? found : undefined;
    });
    for (const retry of retries) assert.match(String(retry.reason), /^Vault at https:\/\/[\d.]+:8200 is unreachable \(ETIMEDOUT\) while logging in at auth\/kubernetes as role "vault-paused"$/);
    t.diagnostic(`init retried ${retries.length} time(s) while Vault hung: ${String(retries[0]?.reason)}`);
    outages().resumeVault();
    resumed = true;
  } finally {
    if (!resumed) outages().resumeVault();
  }
  const pod = await waitReady(namespace, name, 30_000);
  assert.equal(initRestarts(pod), 0, 'init retried inside its one run');
  assert.equal(dbDelivered(name).length, 1);
  const user = await waitFor('the app to connect', 10_000, () => connectedUser(name));
  assert.ok(await roleExists(user), 'the app connected as the user Vault issued');
});

test('Vault sealed when a running pod’s deadline comes: the eviction is held (sidecar log, EvictionHeld Warning Event), and proceeds once Vault is unsealed; the replacement gets new credentials', { timeout: 90_000 }, async () => {
  const namespace = 'vault-sealed';
  const app = 'sealed';
  await createDeployment(namespace, app, 1, await scenarioNamespace(namespace, 30));
  const original = await waitFor('the Deployment’s pod to be Ready', 30_000, async () => (await podsOf(namespace, app)).find(isReady));
  const name = nameOf(original);
  const oldUser = await waitFor('the app to connect', 10_000, () => connectedUser(name));
  await outages().sealVault();
  let unsealed = false;
  try {
    // The deadline is two thirds into the 30 s lease: about 20 s after delivery.
    const held = await waitFor('the sidecar to be held at its deadline', 40_000, () => lines(name, SIDECAR_CONTAINER_NAME, HELD)[0]);
    assert.equal(held.answerReason, 'VaultUnavailable');
    assert.match(String(held.answer), /is sealed: not evicting/);
    const event = await waitFor('an EvictionHeld Warning Event on the pod', 10_000, async () =>
      (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.uid=${uidOf(original)}` })).items.find((e) => e.reason === 'EvictionHeld'),
    );
    assert.equal(event.type, 'Warning');
    assert.match(event.message ?? '', /^Eviction for credential rotation held: Vault at \S+ is sealed, so a replacement pod could not get credentials/);
    const still = await core.readNamespacedPod({ namespace, name });
    assert.equal(uidOf(still), uidOf(original));
    assert.equal(isEvicted(still), false, 'not evicted while sealed');
    assert.equal(still.metadata?.deletionTimestamp, undefined);
    await outages().unsealVault();
    unsealed = true;
  } finally {
    if (!unsealed) await outages().unsealVault();
  }
  const unsealedAt = Date.now();
  const accepted = await waitFor('the eviction to be accepted after the unseal', 40_000, () => lines(name, SIDECAR_CONTAINER_NAME, ACCEPTED)[0]);
  assert.ok(timeOf(accepted) >= unsealedAt - 1000, 'accepted only after Vault was unsealed');
  const replacement = await waitFor('a replacement pod to be Ready', 40_000, async () => (await podsOf(namespace, app)).find((p) => uidOf(p) !== uidOf(original) && isReady(p)));
  const newUser = await waitFor('the replacement’s app to connect', 10_000, () => connectedUser(nameOf(replacement)));
  assert.notEqual(newUser, oldUser, 'the replacement has a database user of its own');
  assert.ok(await roleExists(newUser));
  assert.ok(timeOf(dbDelivered(nameOf(replacement))[0]) >= unsealedAt - 1000, 'issued after the unseal');
});

test('PostgreSQL down when a credential is issued: init retries the database secret (Vault answers 500), and the pod starts with a working user once PostgreSQL is back', { timeout: 60_000 }, async () => {
  const namespace = 'postgres-down';
  const annotations = await scenarioNamespace(namespace, 60);
  const name = 'starts-while-postgres-is-down';
  await outages().stopPostgres();
  let started = false;
  try {
    await core.createNamespacedPod({ namespace, body: { metadata: { name, annotations }, spec: podSpec() } });
    const retries = await neverReadyUntil('init to retry the database secret', 30_000, namespace, name, () => {
      const found = lines(name, INIT_CONTAINER_NAME, VAULT_RETRY);
      return found.length >= 2 ? found : undefined;
    });
    for (const retry of retries) assert.match(String(retry.reason), /answered 500: .* while reading database\/creds\/postgres-down for vault-courier\.io\/secret-db$/);
    await outages().startPostgres();
    started = true;
  } finally {
    if (!started) await outages().startPostgres();
  }
  const pod = await waitReady(namespace, name, 30_000);
  assert.equal(initRestarts(pod), 0, 'init retried inside its one run');
  const user = await waitFor('the app to connect', 10_000, () => connectedUser(name));
  assert.ok(await roleExists(user), 'the user Vault issued after the restart exists');
});

test('the API server restarted while sidecars wait: their /evict calls answer ClusterUnavailable and are retried, and once it is back the pods are evicted before their credentials expire and replaced', { timeout: 120_000 }, async (t) => {
  const namespace = 'apiserver-restart';
  const app = 'waiting';
  // The deadline is two thirds in (30 s), the expiry 15 s after it: the outage and the restart fit between.
  const ttlSeconds = 45;
  await createDeployment(namespace, app, 2, await scenarioNamespace(namespace, ttlSeconds));
  const originals = await waitFor('both pods Ready with their deadlines computed', 40_000, async () => {
    const pods = (await podsOf(namespace, app)).filter(isReady);
    return pods.length === 2 && pods.every((p) => lines(nameOf(p), SIDECAR_CONTAINER_NAME, 'deadline computed').length > 0) ? pods : undefined;
  });
  const deadlines = originals.map((p) => Number(lines(nameOf(p), SIDECAR_CONTAINER_NAME, 'deadline computed')[0]?.deadlineMs));
  // Down a little before the first deadline (its graceful stop takes a moment), so every sidecar acts while it is down.
  await sleep(Math.max(0, Math.min(...deadlines) - 4000 - Date.now()));
  await outages().stopApiServer();
  const stoppedAt = Date.now();
  assert.ok(stoppedAt < Math.min(...deadlines), 'the API server was down before the first deadline');
  let restarted = false;
  try {
    for (const pod of originals) {
      const failed = await waitFor(`${nameOf(pod)}'s sidecar to retry while the API server is down`, 40_000, () =>
        output.events(nameOf(pod), SIDECAR_CONTAINER_NAME).find((e) => timeOf(e) >= stoppedAt && (e.msg === CLUSTER_DOWN || e.msg === UNREACHABLE)),
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; the sidecar said:\n${output.of(nameOf(pod), SIDECAR_CONTAINER_NAME).slice(-8).join('\n')}\nthe webhook said:\n${webhookLines(stoppedAt).slice(-12).join('\n')}`);
      });
      if (failed.msg === CLUSTER_DOWN) assert.equal(failed.answerReason, 'ClusterUnavailable');
    }
    await outages().startApiServer();
    restarted = true;
    t.diagnostic(`the API server was down ${(Date.now() - stoppedAt) / 1000} s`);
  } finally {
    if (!restarted) await outages().startApiServer();
  }
  const answered = originals.flatMap((p) => output.events(nameOf(p), SIDECAR_CONTAINER_NAME).filter((e) => e.msg === CLUSTER_DOWN));
  assert.ok(answered.length > 0, 'the webhook answered ClusterUnavailable while the API server was down');
  for (const pod of originals) {
    const name = nameOf(pod);
    const accepted = await waitFor(`${name} to be evicted`, 40_000, () => lines(name, SIDECAR_CONTAINER_NAME, ACCEPTED)[0]).catch((err: unknown) => {
      throw new Error(`${String(err)}; the sidecar said:\n${output.of(name, SIDECAR_CONTAINER_NAME).slice(-10).join('\n')}\nthe webhook said:\n${webhookLines(stoppedAt).slice(-12).join('\n')}`);
    });
    const delivered = dbDelivered(name)[0];
    assert.equal(delivered?.leaseDurationSeconds, ttlSeconds);
    const expiresAt = timeOf(delivered) + ttlSeconds * 1000;
    t.diagnostic(`${name}: eviction accepted ${(expiresAt - timeOf(accepted)) / 1000} s before its credentials expired`);
    assert.ok(timeOf(accepted) < expiresAt, `${name} evicted ${(expiresAt - timeOf(accepted)) / 1000} s before its credentials expired`);
  }
  const oldUids = new Set(originals.map(uidOf));
  await waitFor('two replacement pods to be Ready', 40_000, async () => {
    const fresh = (await podsOf(namespace, app)).filter((p) => !oldUids.has(uidOf(p)) && isReady(p));
    return fresh.length === 2 ? fresh : undefined;
  });
});

test('no container printed the PostgreSQL superuser password', () => {
  const password = cluster.postgres?.password;
  assert.ok(password !== undefined && password.length > 10);
  assert.ok(output.all().length > 0);
  assert.ok(!output.all().includes(password));
});

// Last: after Vault paused and sealed, PostgreSQL down and the API server restarted.
test('the canary secret the scenarios’ pods received through every fault is in no container or component log, Event, pod, Secret, ConfigMap, metrics scrape or test output', { timeout: 60_000 }, async () => {
  await canary.assertNowhere(cluster, output);
});
