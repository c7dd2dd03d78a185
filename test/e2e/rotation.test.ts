/**
 * The whole loop on a real node: the control plane, the kubelet and containerd, Vault with
 * kubernetes auth and the database engine, PostgreSQL, vault-courier installed by its
 * chart (admission through its Service, POST /evict through the Service's DNS name), the
 * injected init container, native sidecar and the demo app as containers of the
 * project's images. Database credentials live 60 s, the figure; one full rotation
 * of 3 replicas takes about a minute. A canary secret rides the whole loop (every replica,
 * the Job pod, a pod whose evictions a budget blocks, a pod whose init fails on it) and is
 * then looked for everywhere it must not be (canary.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { BatchV1Api, CoreV1Api, makeInformer, PolicyV1Api, type V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX, INIT_CONTAINER_NAME, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE, ROTATION_CONDITION_TYPE, SECRETS_VOLUME, SIDECAR_CONTAINER_NAME } from '@vault-courier/core';
import { createNamespace, demoAnnotations, demoAppContainer, PROJECT_IMAGES, restrictedContainer, startLoop, type Loop } from '@vault-courier/devcluster';
import type { StatusReport } from '@vault-courier/webhook/status/status-report';
import { Canary, CANARY_POLICY } from './canary.ts';
import { ContainerOutput, createDeployment, isReady, killContainer, podVolumeFile, readPodOrUndefined, vaultCourierStatus, waitFor } from './helpers.ts';

const DB_TTL_SECONDS = 60;
const REPLICAS = 3;
const PLAIN_NAMESPACE = 'not-opted-in';
/** Its pod is created first, the namespace opted in after: the pod was never sent to the webhook. */
const LATE_NAMESPACE = 'opted-in-later';
/** Selects the Job's one pod with minAvailable 1: allows no disruption, ever. */
const JOB_BUDGET = 'report-budget';
/** One replica whose budget (minAvailable 1) refuses every eviction while the test runs. */
const BLOCKED = 'canary-blocked';
/** A pod whose template names a field the canary secret lacks: its init fails on every try. */
const FAILING = 'canary-init-fails';

const canary = new Canary();
/** The canary as a JSON file and rendered into a URL, beside the demo's database secret. */
const CANARY_ANNOTATIONS = canary.annotations;

let loop: Loop;
const output = new ContainerOutput();
const timelineLines: string[] = [];
/** Ready, non-terminating pods of the Deployment, each time the watch saw a change after all were first Ready. */
const readyCounts: number[] = [];
/** Pod name → when the Eviction API marked it (its DisruptionTarget condition), epoch ms. */
const evictions = new Map<string, number>();
let stopWatch: (() => Promise<void>) | undefined;
const extraPods: Record<'job' | 'optedOut' | 'plain' | 'early', { namespace: string; name: string; uid: string }> = {} as never;

before(async () => {
  loop = await startLoop({
    dbTtlSeconds: DB_TTL_SECONDS,
    replicas: REPLICAS,
    podAnnotations: CANARY_ANNOTATIONS,
    vaultPolicies: [CANARY_POLICY],
    beforeDeployment: (vault) => canary.plant(vault),
    onContainerLine: output.collect,
    onTimeline: (line) => {
      timelineLines.push(line);
      console.log(line);
    },
  });
  const { cluster, namespace } = loop;
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);

  // Availability as the Deployment's pods are seen through a watch of their own.
  const pods = makeInformer<V1Pod>(cluster.kubeConfig, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace, labelSelector: 'app=demo-app' }), 'app=demo-app');
  let allReadyOnce = false;
  const count = () => {
    const ready = pods.list().filter(isReady).length;
    allReadyOnce ||= ready === REPLICAS;
    if (allReadyOnce) readyCounts.push(ready);
  };
  for (const verb of ['add', 'update', 'delete'] as const) pods.on(verb, count);
  pods.on('update', (pod) => {
    const marked = (pod.status?.conditions ?? []).find((c) => c.type === 'DisruptionTarget' && c.reason === 'EvictionByEvictionAPI');
    if (marked !== undefined && !evictions.has(pod.metadata?.name ?? '')) evictions.set(pod.metadata?.name ?? '', Date.now());
  });
  await pods.start();
  stopWatch = () => pods.stop();

  // A real Job: the job controller creates its pod (owned by the Job, as its controller).
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  await batch.createNamespacedJob({
    namespace,
    body: {
      metadata: { name: 'report' },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { annotations: { ...demoAnnotations(), ...CANARY_ANNOTATIONS } },
          spec: { restartPolicy: 'Never', automountServiceAccountToken: false, terminationGracePeriodSeconds: 5, containers: [demoAppContainer(cluster)] },
        },
      },
    },
  });
  const jobPod = await waitFor('the Job controller to create its pod', 30_000, async () => {
    const list = await core.listNamespacedPod({ namespace, labelSelector: 'batch.kubernetes.io/job-name=report' });
    return list.items[0];
  });
  assert.equal(jobPod.metadata?.ownerReferences?.find((o) => o.controller)?.kind, 'Job');
  // Opted out inside an opted-in namespace, and the same annotations where nobody opted in.
  const fixturePod = (name: string, annotations: Record<string, string>): V1Pod => ({
    metadata: { name, annotations },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 2,
      containers: [restrictedContainer({ name: 'app', image: PROJECT_IMAGES.demoApp, command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'] })],
    },
  });
  const optedOut = await core.createNamespacedPod({ namespace, body: fixturePod('opted-out', { ...demoAnnotations(), [`${ANNOTATION_PREFIX}inject`]: 'false' }) });
  await createNamespace(cluster.kubeConfig, PLAIN_NAMESPACE);
  const plain = await core.createNamespacedPod({ namespace: PLAIN_NAMESPACE, body: fixturePod('plain', demoAnnotations()) });
  await createNamespace(cluster.kubeConfig, LATE_NAMESPACE);
  const early = await core.createNamespacedPod({ namespace: LATE_NAMESPACE, body: fixturePod('early', demoAnnotations()) });
  await cluster.kubeConfig.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({
    namespace,
    body: { metadata: { name: JOB_BUDGET }, spec: { minAvailable: 1, selector: { matchLabels: { 'batch.kubernetes.io/job-name': 'report' } } } },
  });
  // creationTimestamp and managedFields times have second resolution: opt in a second later.
  await sleep(Math.max(0, new Date(early.metadata?.creationTimestamp ?? 0).getTime() + 1100 - Date.now()));
  await core.patchNamespace({ name: LATE_NAMESPACE, body: [{ op: 'add', path: `/metadata/labels/${NAMESPACE_LABEL.replace('/', '~1')}`, value: NAMESPACE_LABEL_VALUE }] });
  const ref = (pod: V1Pod) => ({ namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' });
  Object.assign(extraPods, { job: ref(jobPod), optedOut: ref(optedOut), plain: ref(plain), early: ref(early) });

  // The canary's hard paths: evictions a budget refuses, and an init that fails on the secret.
  await cluster.kubeConfig.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({ namespace, body: { metadata: { name: BLOCKED }, spec: { minAvailable: 1, selector: { matchLabels: { app: BLOCKED } } } } });
  await createDeployment(cluster.kubeConfig, namespace, BLOCKED, 1, { ...demoAnnotations(), ...CANARY_ANNOTATIONS }, {
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 5,
    containers: [demoAppContainer(cluster)],
  });
  await core.createNamespacedPod({
    namespace,
    body: fixturePod(FAILING, { ...demoAnnotations(), ...CANARY_ANNOTATIONS, [`${ANNOTATION_PREFIX}template-canary-url`]: '{{password}}@{{no-such-field}}' }),
  });
});

after(async () => {
  await stopWatch?.();
  await loop?.stop();
});

function time(entry: Record<string, unknown> | undefined): number {
  return new Date(String(entry?.time)).getTime();
}

/** Delivered, evicted before expiry, and the app's one connection never broken by a revocation. */
function assertEvictedInTime(pod: string): void {
  const delivered = output.events(pod, INIT_CONTAINER_NAME).find((e) => e.msg === 'secret delivered' && e.secretName === 'db');
  const evictedAt = evictions.get(pod);
  assert.ok(delivered && evictedAt !== undefined, `${pod}: delivery logged and eviction seen`);
  assert.equal(delivered.leaseDurationSeconds, DB_TTL_SECONDS);
  const expiresAt = time(delivered) + DB_TTL_SECONDS * 1000;
  assert.ok(evictedAt < expiresAt, `${pod} evicted ${(expiresAt - evictedAt) / 1000} s before its credentials expired`);
  const app = output.events(pod, 'app');
  assert.equal(app.filter((e) => e.msg === 'connected to the database').length, 1);
  assert.equal(app.filter((e) => e.level === 'error').length, 0, `${pod}: no database error`);
}

const rotationOf = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === ROTATION_CONDITION_TYPE);
const conditionTime = (pod: V1Pod, type: string) => new Date(pod.status?.conditions?.find((c) => c.type === type)?.lastTransitionTime ?? 0).getTime();
const rowTime = (iso: string | null) => (iso ?? '').replace(/\.\d+Z$/, 'Z');

/** One replica's row: its sidecar's own deadline, a third of the TTL before the expiry, its budget as the PDB stood. */
function assertReplicaRow(report: StatusReport, table: string, name: string, demoBudgetAllowed: number | undefined): void {
  const line = report.injected.find((l) => l.namespace === loop.namespace && l.pod === name);
  assert.ok(line, `${name} is listed as injected`);
  assert.deepEqual(line.secrets, ['canary', 'canary-url', 'db']);
  assert.ok(['Scheduled', 'EvictionBlocked', 'Evicting'].includes(line.rotation), `${name}: ${line.rotation}`);
  const computed = output.events(name, SIDECAR_CONTAINER_NAME).find((e) => e.msg === 'deadline computed');
  assert.equal(line.deadline, computed?.deadline, `${name}: the deadline its sidecar computed`);
  const lead = Date.parse(line.earliestExpiry ?? '') - Date.parse(line.deadline ?? '');
  // A third of the 60 s TTL before expiry, made earlier by at most 5% of it for jitter.
  assert.ok(lead >= 20_000 && lead <= 23_000, `${name}: deadline ${lead} ms before the earliest expiry`);
  assert.equal(line.lease, 'secret db (database/creds/demo)');
  assert.match(table, new RegExp(`^${loop.namespace}\\s+${name}\\s+canary,canary-url,db\\s+${rowTime(line.earliestExpiry)} \\(in [^)]+\\)\\s+${rowTime(line.deadline)} `, 'm'), `${name}'s row in the table`);
  // The Deployment's own budget (maxUnavailable 1) blocks only while a replica is unavailable.
  if (demoBudgetAllowed !== undefined) assert.equal(line.blockedBy.includes('demo-app'), demoBudgetAllowed === 0, `${name}: disruptionsAllowed ${demoBudgetAllowed}`);
}

function assertJobAndNeverInjected(report: StatusReport, table: string): void {
  const job = report.injected.find((l) => l.pod === extraPods.job.name);
  assert.equal(job?.rotation, 'NotRotated', 'the Job pod is warned, never evicted');
  assert.ok(job.deadline !== null);
  assert.deepEqual(job.blockedBy, [JOB_BUDGET]);
  assert.match(table, new RegExp(`^${loop.namespace}\\s+${extraPods.job.name}\\s.*NotRotated\\s+${JOB_BUDGET}$`, 'm'));
  const never = Object.fromEntries(report.notInjected.map((l) => [`${l.namespace}/${l.pod}`, l.why]));
  assert.deepEqual(never, { [`${LATE_NAMESPACE}/early`]: 'created-before-opt-in', [`${PLAIN_NAMESPACE}/plain`]: 'namespace-not-opted-in' }, 'the opted-out pod is not listed: it asks for nothing');
  assert.match(table, /^Never injected: 2 pod\(s\)/m);
  assert.match(table, new RegExp(`^${PLAIN_NAMESPACE}\\s+plain\\s+db\\s+namespace ${PLAIN_NAMESPACE} is not opted in: kubectl label namespace`, 'm'));
}

// First, while the original replicas run: each sidecar reports its deadline at start, well
// before the first eviction (about 40 s after delivery).
test('vault-courier status shows each replica’s deadline as its sidecar computed it, the budget that blocks, and the pods never injected', { timeout: 90_000 }, async () => {
  const { cluster, namespace } = loop;
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const policy = cluster.kubeConfig.makeApiClient(PolicyV1Api);
  const pods = await waitFor('every replica and the Job pod to be Ready and carry the Rotation condition', 60_000, async () => {
    const replicas = (await core.listNamespacedPod({ namespace, labelSelector: 'app=demo-app' })).items.filter((p) => p.metadata?.deletionTimestamp === undefined);
    const job = await readPodOrUndefined(cluster.kubeConfig, namespace, extraPods.job.name);
    const all = [...replicas, ...(job ? [job] : [])];
    return replicas.length === REPLICAS && all.every((p) => rotationOf(p) !== undefined && isReady(p)) ? all : undefined;
  });
  await waitFor(`the disruption controller to observe ${JOB_BUDGET}`, 20_000, async () => ((await policy.readNamespacedPodDisruptionBudget({ namespace, name: JOB_BUDGET })).status?.observedGeneration ?? 0) >= 1);

  const allowed = async () => (await policy.readNamespacedPodDisruptionBudget({ namespace, name: 'demo-app' })).status?.disruptionsAllowed;
  const before = await allowed();
  const [json, table] = await Promise.all([vaultCourierStatus(loop.cluster.kubeconfigPath, '-A', '-o', 'json'), vaultCourierStatus(loop.cluster.kubeconfigPath, '-A')]);
  const stable = (await allowed()) === before ? before : undefined;
  console.log(table);
  const report = JSON.parse(json) as StatusReport;
  assert.equal(report.kind, 'StatusReport');
  assert.equal(report.namespace, null);
  for (const pod of pods.filter((p) => p.metadata?.name !== extraPods.job.name)) assertReplicaRow(report, table, pod.metadata?.name ?? '', stable);
  assertJobAndNeverInjected(report, table);
});

// Whether a pod's Ready came after its Rotation condition depends on how loaded the machine
// is; a container killed after the condition was written makes the kubelet write it for sure.
test('the kubelet keeps the Rotation condition it does not own when it rewrites the pod status (a container restarted)', { timeout: 60_000 }, async () => {
  const { cluster, namespace } = loop;
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const current = async () => (await core.listNamespacedPod({ namespace, labelSelector: `app=${BLOCKED}` })).items.find((p) => p.metadata?.deletionTimestamp === undefined);
  const before = await waitFor(`the ${BLOCKED} replica Ready with its Rotation condition`, 45_000, async () => {
    const pod = await current();
    return pod !== undefined && isReady(pod) && rotationOf(pod) !== undefined ? pod : undefined;
  });
  assert.ok(killContainer(before, 'app').length > 0, 'the app container had a process to kill');
  const after = await waitFor('the kubelet to restart the app and report it Ready again', 45_000, async () => {
    const pod = await current();
    const restarts = pod?.status?.containerStatuses?.find((s) => s.name === 'app')?.restartCount ?? 0;
    return pod?.metadata?.uid === before.metadata?.uid && restarts > 0 && isReady(pod) ? pod : undefined;
  });
  assert.ok(rotationOf(after) !== undefined, 'the Rotation condition is still there');
  assert.ok(conditionTime(after, 'Ready') >= conditionTime(after, ROTATION_CONDITION_TYPE), 'Ready was written after it');
});

test('every replica gets credentials, is evicted before they expire, and is replaced by a pod with a new database user', { timeout: 240_000 }, async () => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no full rotation; timeline:\n${timelineLines.join('\n')}`)), 220_000)));
  await Promise.race([loop.rotated, timeout]).finally(() => clearTimeout(timer));
  const pods = [...loop.timeline().pods.values()];
  const originals = pods.filter((p) => p.original);
  const replacements = pods.filter((p) => !p.original && p.user !== undefined);
  assert.equal(originals.length, REPLICAS);
  assert.ok(pods.every((p) => p.injected), 'every pod of the Deployment was injected');

  for (const pod of originals) assertEvictedInTime(pod.pod);

  const oldUsers = originals.map((p) => p.user);
  const newUsers = replacements.map((p) => p.user);
  assert.ok(newUsers.length >= REPLICAS);
  assert.equal(new Set([...oldUsers, ...newUsers]).size, oldUsers.length + newUsers.length, 'every pod had its own database user');

  const db = loop.cluster.postgres;
  assert.ok(db);
  const client = new pg.Client({ host: db.host, port: db.port, user: db.superuser, password: db.password, database: 'postgres' });
  await client.connect();
  try {
    const roles = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [[...oldUsers, ...newUsers]]);
    const existing = roles.rows.map((r) => r.rolname).sort();
    assert.deepEqual(existing, [...(newUsers as string[])].filter((u) => pods.some((p) => p.user === u && !p.deleted)).sort(), 'old users are revoked, the running pods’ users exist');
  } finally {
    await client.end();
  }

  assert.ok(readyCounts.length > 0);
  assert.ok(Math.min(...readyCounts) >= REPLICAS - 1, `never more than one replica unavailable (ready counts seen: ${readyCounts.join(',')})`);
  // Whether an eviction was held back depends on how far apart the deadlines' jitter put
  // them; the PDB's 429 path is proven deterministically in test/integration/sidecar.test.ts.
  const blocked = timelineLines.filter((l) => l.includes('blocked by the PodDisruptionBudget')).length;
  console.log(`evictions held back by the PodDisruptionBudget: ${blocked} pod(s)`);
});

test("a Job's pod gets credentials but is never evicted: a warning instead", { timeout: 120_000 }, async () => {
  const { job } = extraPods;
  const warning = await waitFor('the Job pod sidecar warning', 90_000, () => output.events(job.name, SIDECAR_CONTAINER_NAME).find((e) => String(e.msg).startsWith('credentials expire soon and this pod is not rotated')), 500);
  assert.ok(warning);
  assert.ok(output.events(job.name, 'app').some((e) => e.msg === 'connected to the database'), 'the Job pod connected with its credentials');
  assert.equal(output.events(job.name, SIDECAR_CONTAINER_NAME).filter((e) => String(e.msg).startsWith('eviction')).length, 0, 'no eviction was asked for');
  const pod = await readPodOrUndefined(loop.cluster.kubeConfig, job.namespace, job.name);
  assert.equal(pod?.metadata?.uid, job.uid);
  assert.equal(pod?.metadata?.deletionTimestamp, undefined);
});

test('an opted-out pod and a pod in a namespace that did not opt in are left alone', async () => {
  for (const ref of [extraPods.optedOut, extraPods.plain]) {
    const pod = await readPodOrUndefined(loop.cluster.kubeConfig, ref.namespace, ref.name);
    assert.ok(pod, `${ref.name} still exists`);
    const meta = pod.metadata ?? {};
    assert.equal(meta.uid, ref.uid, `${ref.name} is the same pod`);
    assert.equal(meta.deletionTimestamp, undefined, `${ref.name} was never evicted`);
    assert.equal(meta.annotations?.[`${ANNOTATION_PREFIX}status`], undefined, `${ref.name} was not injected`);
    assert.deepEqual(pod.spec?.initContainers ?? [], []);
    assert.deepEqual((pod.spec?.volumes ?? []).map((v) => v.name).filter((n) => n.startsWith('vault-courier')), []);
    assert.ok(isReady(pod), `${ref.name} runs`);
  }
});

/** A file of a running pod's in-memory secrets volume, read on the node. */
function deliveredFile(pod: V1Pod, file: string): string {
  return readFileSync(podVolumeFile(loop.cluster.dir, pod.metadata?.uid ?? '', SECRETS_VOLUME, file), 'utf8');
}

// Last: after the rotation (revocations), the Job's warning, the blocked evictions and the failing init.
test('the canary secret, delivered through the whole loop, is in no container or component log, Event, pod, Secret, ConfigMap, metrics scrape or test output', { timeout: 120_000 }, async () => {
  const { cluster, namespace } = loop;
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  // Delivered: a running replica's files hold it, as a JSON file and rendered into its template.
  const running = (await core.listNamespacedPod({ namespace, labelSelector: 'app=demo-app' })).items.find(isReady);
  assert.ok(running, 'a replica is running');
  assert.equal((JSON.parse(deliveredFile(running, 'canary')) as { password?: string }).password, canary.value, 'the canary was delivered as a file');
  assert.ok(deliveredFile(running, 'canary-url').includes(`:${canary.value}@`), 'and rendered into its template');
  // The paths it went through: a budget refused evictions, an init failed on the secret.
  const blockedEvent = await waitFor(`an EvictionBlocked Event for the ${BLOCKED} replica`, 60_000, async () =>
    (await core.listNamespacedEvent({ namespace })).items.find((e) => e.reason === 'EvictionBlocked' && String(e.involvedObject.name).startsWith(`${BLOCKED}-`)), 500);
  assert.match(blockedEvent.message ?? '', new RegExp(BLOCKED), 'the Event names the budget');
  const initError = await waitFor('the failing init to log its error', 60_000, () => output.events(FAILING, INIT_CONTAINER_NAME).find((e) => e.level === 'error' || e.level === 50), 500);
  assert.match(JSON.stringify(initError), /no-such-field/, 'the error names the missing field');

  await canary.assertNowhere(cluster, output);
});
