/**
 * Faults of the node, each on the real node (kubelet, containerd, the project's images,
 * vault-courier installed by its chart): the sidecar container killed, the state volume's
 * lease manifest overwritten, a PodDisruptionBudget that blocks past the credentials'
 * expiry, and the kubelet and containerd restarted. Every scenario runs a one-replica
 * Deployment in a namespace of its own, with a database role of its own whose credentials
 * live a few tens of seconds; the first three run side by side, the restart (a fault of the
 * whole node) alone after them. docs/faults.md ("Node faults") tells what each proves.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { CoreV1Api, PolicyV1Api, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX, INJECTED_ENV, MANIFEST_FILE, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE, parseRotationCondition, ROTATION_CONDITION_TYPE, SIDECAR_CONTAINER_NAME, STATE_VOLUME } from '@vault-courier/core';
import { createNamespace, embeddedTarget, isEvicted, prepareCluster, PROJECT_IMAGES, readPodLogs, RESTRICTED, restrictedContainer, startDevCluster, type DevCluster, type PodLogReader } from '@vault-courier/devcluster';
import type { StatusReport } from '@vault-courier/webhook/status/status-report';
import { Canary, CANARY_POLICY } from './canary.ts';
import { ContainerOutput, createDeployment, isReady, podVolumeFile, readPodOrUndefined, vaultCourierStatus, waitFor } from './helpers.ts';

/** Written over a lease manifest: it must never show up in a log line or an Event. */
const CANARY = `canary-${process.pid}-over-the-manifest`;
const APP = 'app';
const GRACE_SECONDS = 2;

let cluster: DevCluster;
let logs: PodLogReader | undefined;
const output = new ContainerOutput();
/** Every scenario's pod requests it beside its database secret: it must leak through no fault. */
const canary = new Canary();

before(async () => {
  cluster = await startDevCluster({ vault: true, configureVault: false, postgres: true, controllers: true, node: true });
  assert.ok(cluster.node);
  logs = readPodLogs(cluster.node.podLogsDir, output.collect);
  // The chart, Vault's kubernetes auth and database engine; its namespace is unused here.
  await prepareCluster(embeddedTarget(cluster), 'faults-node', 600);
  assert.ok(cluster.vault);
  await canary.plant(cluster.vault);
});

after(async () => {
  await cluster?.node?.drain();
  logs?.stop();
  await cluster?.stop();
});

const core = () => cluster.kubeConfig.makeApiClient(CoreV1Api);

/** An opted-in namespace whose default ServiceAccount reads database/creds/<namespace>, credentials living `ttlSeconds`. */
async function scenarioNamespace(namespace: string, ttlSeconds: number): Promise<void> {
  const vault = cluster.vault;
  assert.ok(vault);
  await createNamespace(cluster.kubeConfig, namespace, { [NAMESPACE_LABEL]: NAMESPACE_LABEL_VALUE, ...RESTRICTED });
  await vault.createDatabaseRole({ name: namespace, ttlSeconds, maxTtlSeconds: ttlSeconds });
  await vault.writePolicy(namespace, `path "database/creds/${namespace}" { capabilities = ["read"] }`);
  // The token outlives the database lease: the lease sets the deadline.
  await vault.createVaultRole({ name: namespace, namespace, serviceAccount: 'default', policies: [namespace, CANARY_POLICY], ttl: ttlSeconds * 4 });
}

/** One replica holding database credentials; the app only sleeps (and stops at SIGTERM). */
async function createApp(namespace: string): Promise<void> {
  await createDeployment(cluster.kubeConfig, namespace, APP, 1, { ...canary.annotations, [`${ANNOTATION_PREFIX}secret-db`]: `database/creds/${namespace}`, [`${ANNOTATION_PREFIX}role`]: namespace }, {
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: GRACE_SECONDS,
    containers: [restrictedContainer({ name: APP, image: PROJECT_IMAGES.demoApp, command: ['node', '-e', "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1 << 30)"] })],
  });
}

/** Pod names seen per namespace, for the failure message. */
const seen = new Map<string, Set<string>>();

/** On failure, what each sidecar of the namespace said (messages and levels only). */
async function diagnosed(namespace: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    for (const pod of seen.get(namespace) ?? []) {
      const said = sidecarLines(pod).map((e) => `${String(e.time)} ${String(e.level)} ${String(e.msg)}${e.answerReason ? ` (${String(e.answerReason)})` : ''}`);
      console.log(`${namespace}/${pod} sidecar:\n  ${said.join('\n  ')}`);
    }
    throw err;
  }
}

/** The Deployment's Ready pod other than `except`, once its sidecar reported the deadline on the Rotation condition. */
async function readyPod(namespace: string, except?: string, timeoutMs = 60_000): Promise<{ pod: V1Pod; name: string; uid: string; earliestExpiryMs: number }> {
  return waitFor(`a Ready pod in ${namespace} with its Rotation condition`, timeoutMs, async () => {
    const pods = (await core().listNamespacedPod({ namespace, labelSelector: `app=${APP}` })).items;
    const pod = pods.find((p) => p.metadata?.uid !== except && isReady(p) && rotationOf(p)?.earliestExpiry !== undefined);
    for (const p of pods) seen.set(namespace, (seen.get(namespace) ?? new Set()).add(p.metadata?.name ?? ''));
    if (pod === undefined) return undefined;
    return { pod, name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '', earliestExpiryMs: Date.parse(rotationOf(pod)?.earliestExpiry ?? '') };
  });
}

function rotationOf(pod: V1Pod) {
  const parsed = parseRotationCondition(pod.status?.conditions?.find((c) => c.type === ROTATION_CONDITION_TYPE));
  return parsed !== undefined && 'state' in parsed ? parsed.state : undefined;
}

/** When the Eviction API marked the pod (or it was already gone): observed at 200 ms. */
async function evictedAt(namespace: string, name: string, timeoutMs: number): Promise<number> {
  return waitFor(`pod ${namespace}/${name} evicted`, timeoutMs, async () => {
    const pod = await readPodOrUndefined(cluster.kubeConfig, namespace, name);
    return pod === undefined || isEvicted(pod) ? Date.now() : undefined;
  });
}

function sidecarLines(pod: string): Record<string, unknown>[] {
  logs?.poll();
  return output.events(pod, SIDECAR_CONTAINER_NAME);
}

const linesSaying = (pod: string, msg: string) => sidecarLines(pod).filter((e) => e.msg === msg);

/** The sidecar's pid on the machine: the one live process whose environment carries the pod's uid. */
function sidecarPids(uid: string): number[] {
  const marker = `${INJECTED_ENV.podUid}=${uid}\0`;
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/environ`, 'latin1').includes(marker) && readFileSync(`/proc/${e}/cmdline`, 'latin1').includes('sidecar');
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** SIGKILL to the sidecar's process, as the OOM killer or a crash would; resolves once the kubelet started it again. */
async function killSidecar(namespace: string, uid: string): Promise<void> {
  const pids = sidecarPids(uid);
  assert.equal(pids.length, 1, `one sidecar process for pod ${uid}: ${pids.join(',')}`);
  process.kill(pids[0] ?? 0, 'SIGKILL');
  await waitFor('the kubelet to restart the sidecar', 30_000, async () => {
    const pod = (await core().listNamespacedPod({ namespace, labelSelector: `app=${APP}` })).items.find((p) => p.metadata?.uid === uid);
    const status = pod?.status?.initContainerStatuses?.find((s) => s.name === SIDECAR_CONTAINER_NAME);
    return (status?.restartCount ?? 0) >= 1 && status?.state?.running !== undefined ? true : undefined;
  });
}

async function eventsOf(namespace: string, pod: string): Promise<CoreV1Event[]> {
  return (await core().listNamespacedEvent({ namespace })).items.filter((e) => e.involvedObject.kind === 'Pod' && e.involvedObject.name === pod);
}

async function waitEvent(namespace: string, pod: string, reason: string, timeoutMs: number): Promise<{ event: CoreV1Event; seenAt: number }> {
  return waitFor(`a ${reason} Event on ${namespace}/${pod}`, timeoutMs, async () => {
    const event = (await eventsOf(namespace, pod)).find((e) => e.reason === reason);
    return event === undefined ? undefined : { event, seenAt: Date.now() };
  });
}

/** Every run of the sidecar computed one deadline, and it is the same one. */
function assertSameDeadline(pod: string, runs: number): number {
  const computed = linesSaying(pod, 'deadline computed');
  assert.equal(linesSaying(pod, 'sidecar started').length, runs, `${runs} sidecar run(s) of ${pod}`);
  assert.equal(computed.length, runs, `each run computed its deadline: ${JSON.stringify(computed)}`);
  const deadlines = new Set(computed.map((e) => e.deadlineMs));
  assert.equal(deadlines.size, 1, `every run computed the same deadline: ${[...deadlines].join(', ')}`);
  return Number(computed[0]?.deadlineMs);
}

describe('node faults that touch one pod', { concurrency: true }, () => {
  test('the sidecar container SIGKILLed: the kubelet restarts it, it computes the same deadline and the pod is evicted before its credentials expire', { timeout: 120_000 }, () =>
    diagnosed('fault-sidecar-killed', async () => {
      const ns = 'fault-sidecar-killed';
      await scenarioNamespace(ns, 20);
      await createApp(ns);
      const pod = await readyPod(ns);
      await waitFor('the first deadline', 10_000, () => linesSaying(pod.name, 'deadline computed')[0]);
      await killSidecar(ns, pod.uid);
      await waitFor('the restarted sidecar’s deadline', 20_000, () => linesSaying(pod.name, 'deadline computed')[1]);
      const deadlineMs = assertSameDeadline(pod.name, 2);
      const evicted = await evictedAt(ns, pod.name, 40_000);
      assert.ok(evicted < pod.earliestExpiryMs, `evicted ${(pod.earliestExpiryMs - evicted) / 1000} s before the credentials expired`);
      assert.ok(evicted >= deadlineMs, 'at the deadline, not before: the restart changed nothing');
      await readyPod(ns, pod.uid);
  }));

  test('the lease manifest overwritten with garbage: the restarted sidecar names the file and what is wrong, and the pod is rotated at once', { timeout: 120_000 }, () =>
    diagnosed('fault-manifest-corrupt', async () => {
      const ns = 'fault-manifest-corrupt';
      await scenarioNamespace(ns, 40);
      await createApp(ns);
      const pod = await readyPod(ns);
      const first = await waitFor('the first deadline', 10_000, () => linesSaying(pod.name, 'deadline computed')[0]);
      // The state volume as the kubelet mounted it on the node (an emptyDir of medium Memory).
      const manifest = podVolumeFile(cluster.dir, pod.uid, STATE_VOLUME, MANIFEST_FILE);
      assert.ok(JSON.parse(readFileSync(manifest, 'utf8')).version, 'the manifest the init container wrote is there');
      writeFileSync(manifest, `${CANARY}\n`);
      const corruptedAt = Date.now();
      await killSidecar(ns, pod.uid);
      const evicted = await evictedAt(ns, pod.name, 30_000);
      assert.ok(evicted < Number(first.deadlineMs), 'evicted before the deadline the readable manifest gave: at once, not left with an unknown expiry');
      assert.ok(evicted - corruptedAt < 15_000, `rotated ${(evicted - corruptedAt) / 1000} s after the corruption`);
      const problem = await waitFor('the sidecar’s error', 10_000, () => sidecarLines(pod.name).find((e) => String(e.msg).startsWith('the lease manifest cannot be read')));
      assert.equal(problem.level, 'error');
      assert.match(String(problem.problem), new RegExp(`^/vault-courier/state/${MANIFEST_FILE.replace('.', '\\.')}: lease manifest is not valid JSON`));
      const requested = await waitEvent(ns, pod.name, 'EvictionRequested', 10_000);
      assert.match(requested.event.message ?? '', /lease manifest cannot be read/);
      const replacement = await readyPod(ns, pod.uid);
      assert.notEqual(replacement.uid, pod.uid, 'the ReplicaSet replaced it with a pod holding new credentials');
      const events = JSON.stringify((await eventsOf(ns, pod.name)).map((e) => e.message));
      assert.ok(!output.all().includes(CANARY) && !events.includes(CANARY), 'the garbage is never quoted');
  }));

  test('a PodDisruptionBudget that blocks past the expiry: a Warning names it before, CredentialsExpired and the Expired condition after, and the pod rotates once the budget allows', { timeout: 120_000 }, () =>
    diagnosed('fault-budget-blocks', async () => {
      const ns = 'fault-budget-blocks';
      const budget = 'no-disruption';
      await scenarioNamespace(ns, 20);
      const policy = cluster.kubeConfig.makeApiClient(PolicyV1Api);
      await policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: { metadata: { name: budget }, spec: { minAvailable: 1, selector: { matchLabels: { app: APP } } } } });
      await createApp(ns);
      const pod = await readyPod(ns);
      const blocked = await waitEvent(ns, pod.name, 'EvictionBlocked', 30_000);
      assert.equal(blocked.event.type, 'Warning');
      assert.match(blocked.event.message ?? '', new RegExp(`blocked by PodDisruptionBudget ${budget}`));
      assert.ok(blocked.seenAt < pod.earliestExpiryMs, `the budget was named ${(pod.earliestExpiryMs - blocked.seenAt) / 1000} s before the credentials expired`);

      const expired = await waitEvent(ns, pod.name, 'CredentialsExpired', 30_000);
      assert.equal(expired.event.type, 'Warning');
      assert.ok(expired.seenAt >= pod.earliestExpiryMs, 'raised once they expired');
      assert.match(expired.event.message ?? '', new RegExp(`expired at ${new Date(pod.earliestExpiryMs).toISOString().replace(/\./g, '\\.')} while PodDisruptionBudget ${budget} still refuses the eviction`));
      const condition = await waitFor('the Expired condition', 10_000, async () => {
        const current = await readPodOrUndefined(cluster.kubeConfig, ns, pod.name);
        const c = current?.status?.conditions?.find((x) => x.type === ROTATION_CONDITION_TYPE);
        return c?.reason === 'Expired' ? c : undefined;
      });
      assert.equal(condition.status, 'False');
      const report = JSON.parse(await vaultCourierStatus(cluster.kubeconfigPath, '-n', ns, '-o', 'json')) as StatusReport;
      const line = report.injected.find((l) => l.pod === pod.name);
      assert.deepEqual({ rotation: line?.rotation, lastBlockedBy: line?.lastBlockedBy }, { rotation: 'Expired', lastBlockedBy: [budget] });
      assert.match(await vaultCourierStatus(cluster.kubeconfigPath, '-n', ns), new RegExp(`${pod.name}\\s.*Expired\\(${budget}\\)`));
      assert.ok(sidecarLines(pod.name).some((e) => e.level === 'error' && String(e.msg).startsWith('the credentials expired while a PodDisruptionBudget still blocks')), 'the sidecar says it too');
      assert.equal((await readPodOrUndefined(cluster.kubeConfig, ns, pod.name))?.metadata?.uid, pod.uid, 'the budget kept the pod');

      await policy.patchNamespacedPodDisruptionBudget({ namespace: ns, name: budget, body: [{ op: 'replace', path: '/spec/minAvailable', value: 0 }] });
      const relaxedAt = Date.now();
      const evicted = await evictedAt(ns, pod.name, 30_000);
      console.log(`budget relaxed: evicted ${(evicted - relaxedAt) / 1000} s later`);
      const replacement = await readyPod(ns, pod.uid);
      assert.notEqual(replacement.uid, pod.uid);
  }));
});

test('the kubelet and containerd restarted: the pod’s containers keep running, the sidecar keeps its deadline, and the pod is evicted before its credentials expire', { timeout: 120_000 }, () =>
  diagnosed('fault-node-restart', async () => {
    const ns = 'fault-node-restart';
    const node = cluster.node;
    assert.ok(node);
    await scenarioNamespace(ns, 20);
    await createApp(ns);
    const pod = await readyPod(ns);
    const first = await waitFor('the deadline', 10_000, () => linesSaying(pod.name, 'deadline computed')[0]);
    const pidsBefore = sidecarPids(pod.uid);
    const { downMs } = await node.restartKubeletAndContainerd();
    console.log(`kubelet and containerd down for ${downMs} ms`);
    assert.ok(Date.now() < Number(first.deadlineMs), 'restarted before the deadline');
    assert.deepEqual(sidecarPids(pod.uid), pidsBefore, 'the same sidecar process runs on');
    const after = await readPodOrUndefined(cluster.kubeConfig, ns, pod.name);
    const restarts = [...(after?.status?.initContainerStatuses ?? []), ...(after?.status?.containerStatuses ?? [])].map((s) => `${s.name}:${s.restartCount}`);
    assert.deepEqual(restarts.filter((r) => !r.endsWith(':0')), [], `no container restarted: ${restarts.join(', ')}`);
    const evicted = await evictedAt(ns, pod.name, 40_000);
    assertSameDeadline(pod.name, 1);
    assert.ok(evicted >= Number(first.deadlineMs) && evicted < pod.earliestExpiryMs, `evicted ${(pod.earliestExpiryMs - evicted) / 1000} s before the credentials expired`);
    await readyPod(ns, pod.uid);
}));

// Last: after the sidecar was killed, its manifest corrupted, a budget held a pod past its expiry and the node's daemons restarted.
test('the canary secret the scenarios’ pods received through every fault is in no container or component log, Event, pod, Secret, ConfigMap, metrics scrape or test output', { timeout: 60_000 }, async () => {
  await canary.assertNowhere(cluster, output);
});
