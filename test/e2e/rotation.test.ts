/**
 * The whole loop on a real node: the control plane, the kubelet and containerd, Vault with
 * kubernetes auth and the database engine, PostgreSQL, vault-courier installed by its
 * chart (admission through its Service, POST /evict through the Service's DNS name), the
 * injected init container, native sidecar and the demo app as containers of the
 * project's images. Database credentials live 60 s, the figure; one full rotation
 * of 3 replicas takes about a minute.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BatchV1Api, CoreV1Api, makeInformer, type V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX, INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME } from '@vault-courier/core';
import { createNamespace, demoAnnotations, demoAppContainer, PROJECT_IMAGES, restrictedContainer, startLoop, type Loop } from '@vault-courier/devcluster';
import { ContainerOutput, isReady, readPodOrUndefined, waitFor } from './helpers.ts';

const DB_TTL_SECONDS = 60;
const REPLICAS = 3;
const PLAIN_NAMESPACE = 'not-opted-in';

let loop: Loop;
const output = new ContainerOutput();
const timelineLines: string[] = [];
/** Ready, non-terminating pods of the Deployment, each time the watch saw a change after all were first Ready. */
const readyCounts: number[] = [];
/** Pod name → when the Eviction API marked it (its DisruptionTarget condition), epoch ms. */
const evictions = new Map<string, number>();
let stopWatch: (() => Promise<void>) | undefined;
const extraPods: Record<'job' | 'optedOut' | 'plain', { namespace: string; name: string; uid: string }> = {} as never;

before(async () => {
  loop = await startLoop({
    dbTtlSeconds: DB_TTL_SECONDS,
    replicas: REPLICAS,
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
          metadata: { annotations: demoAnnotations() },
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
  const ref = (pod: V1Pod) => ({ namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' });
  Object.assign(extraPods, { job: ref(jobPod), optedOut: ref(optedOut), plain: ref(plain) });
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
  const delivered = output.events(pod, INIT_CONTAINER_NAME).find((e) => e.msg === 'secret delivered');
  const evictedAt = evictions.get(pod);
  assert.ok(delivered && evictedAt !== undefined, `${pod}: delivery logged and eviction seen`);
  assert.equal(delivered.leaseDurationSeconds, DB_TTL_SECONDS);
  const expiresAt = time(delivered) + DB_TTL_SECONDS * 1000;
  assert.ok(evictedAt < expiresAt, `${pod} evicted ${(expiresAt - evictedAt) / 1000} s before its credentials expired`);
  const app = output.events(pod, 'app');
  assert.equal(app.filter((e) => e.msg === 'connected to the database').length, 1);
  assert.equal(app.filter((e) => e.level === 'error').length, 0, `${pod}: no database error`);
}

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
