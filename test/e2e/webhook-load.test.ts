/**
 * The webhook under load and when a replica dies, on the real node: pod creations sent to
 * the real kube-apiserver, which calls the webhook the chart installed (two replicas behind
 * its Service) as it calls it for every pod.
 *
 * Creations are `dryRun=All`: the API server runs every admission step, calls the webhook
 * (its registration says `sideEffects: None`, so it is called on dry runs) and returns the
 * pod as it would store it, but writes nothing to etcd and schedules nothing. 30,000 real
 * pods would measure etcd, the scheduler and the kubelet on this 2-core machine, not
 * admission, and would take minutes to clean up. What differs from a real creation is the
 * etcd write alone, after admission.
 *
 * The load comes from create-load.ts, a separate process in the cluster's network
 * namespace (fixed rate, open loop, keep-alive HTTPS), which reports its own CPU and how
 * late it sent; the figures are docs/faults.md's "The webhook under load and when a replica
 * dies". VAULT_COURIER_LOAD_RATE overrides the 60 s run's 150 creations/s.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { get as httpsGet } from 'node:https';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX, INIT_CONTAINER_NAME, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE, SIDECAR_CONTAINER_NAME, STATUS_INJECTED } from '@vault-courier/core';
import { createNamespace, demoAnnotations, installVaultCourier, PROJECT_IMAGES, RELEASE_NAME, RESTRICTED, restrictedContainer, startDevCluster, WEBHOOK_NAMESPACE, type DevCluster } from '@vault-courier/devcluster';
import { defaultBinaries } from '@vault-courier/devcluster/binaries';
import { isWebhookCallFailure, type LoadResult, type LoadSpec } from './create-load.ts';
import { isReady, waitFor } from './helpers.ts';

const run = promisify(execFile);
const NS = 'webhook-load';
/** The issue's figure, sent for BURST_SECONDS: more than the API server here can take (docs/faults.md). */
const ISSUE_RATE = 500;
const BURST_SECONDS = 5;
/**
 * The 60 s run's rate: what this 2-core machine sustains with the API server, etcd, the
 * webhook and the client on it (the burst prints why not 500), and the suite's other files
 * beside it (at 200/s in the suite the queue grew: 180/s achieved). The rate and latency
 * are printed, not asserted: those files' CPU is not the webhook's doing. VAULT_COURIER_LOAD_RATE=500 runs the issue's figure for 60 s on a
 * machine that has the cores.
 */
const STEADY_RATE = Number(process.env.VAULT_COURIER_LOAD_RATE ?? 150);
const FULL_SECONDS = 60;
/** Steady load while a replica dies: well inside what one replica answers alone. */
const KILL_RATE = 150;
/**
 * The SIGKILL's load: above what the API server here takes (220-310/s), so dozens of
 * reviews are in flight when the process dies and the API server opens connections
 * while the kubelet has not yet seen it gone: what can fail, fails.
 */
const SIGKILL_RATE = 300;
const WEBHOOK_SELECTOR = `app.kubernetes.io/instance=${RELEASE_NAME},app.kubernetes.io/component=webhook`;
const MiB = 1024 * 1024;
/**
 * What the webhook's resident memory may grow over the last 30 s of the 60 s run, and from
 * then to 3 s after it. A leak of 1 KiB per review at ~250 reviews/s per replica is 7.3 MiB
 * in 30 s; V8's young generation, sized once the load starts, is not growth.
 */
const FLAT_BOUND_BYTES = 8 * MiB;

// Module scope: the lead's canary check reads every log of this cluster after the file.
let cluster: DevCluster;
let core: CoreV1Api;
const loads = new Set<ChildProcess>();

before(async () => {
  cluster = await startDevCluster({ node: true, vault: true, configureVault: false, controllers: true });
  const node = cluster.node;
  const vault = cluster.vault;
  assert.ok(node && vault);
  await installVaultCourier(cluster.kubeConfig, { helm: node.helm, kubeconfigPath: cluster.kubeconfigPath, dir: cluster.dir }, { vaultAddr: vault.inClusterAddr, vaultCaPem: vault.caPem, replicas: 2 });
  await createNamespace(cluster.kubeConfig, NS, { [NAMESPACE_LABEL]: NAMESPACE_LABEL_VALUE, ...RESTRICTED });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await waitFor('the webhook to inject a dry-run pod', 30_000, async () => {
    const pod = await core.createNamespacedPod({ namespace: NS, dryRun: 'All', body: loadPod('probe') }).catch(() => undefined);
    return pod?.metadata?.annotations?.[`${ANNOTATION_PREFIX}status`] === STATUS_INJECTED ? true : undefined;
  });
});

after(async () => {
  for (const child of loads) if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  await cluster?.node?.drain();
  await cluster?.stop();
});

function loadPod(name: string): V1Pod {
  return {
    metadata: { name, annotations: demoAnnotations() },
    spec: {
      automountServiceAccountToken: false,
      containers: [restrictedContainer({ name: 'app', image: PROJECT_IMAGES.demoApp, command: ['node', '-e', 'setInterval(() => {}, 1000)'] })],
    },
  };
}

interface RunningLoad {
  /** Resolves with the load's start, epoch ms. */
  readonly started: Promise<number>;
  readonly result: Promise<LoadResult>;
}

/** Starts create-load.ts inside the cluster's network namespace. */
function startLoad(options: { name: string; ratePerSecond: number; durationMs: number; retryWebhookCallFailureAfterMs?: number }): RunningLoad {
  const node = cluster.node;
  assert.ok(node);
  const pki = path.join(cluster.dir, 'pki');
  const spec: LoadSpec = {
    apiServerUrl: node.inClusterApiServerUrl,
    caFile: cluster.caCertPath,
    certFile: path.join(pki, 'admin.crt'),
    keyFile: path.join(pki, 'admin.key'),
    namespace: NS,
    pod: loadPod('placeholder') as Record<string, unknown>,
    namePrefix: options.name,
    ratePerSecond: options.ratePerSecond,
    durationMs: options.durationMs,
    maxSockets: 64,
    injectedAnnotation: [`${ANNOTATION_PREFIX}status`, STATUS_INJECTED],
    spotCheckEvery: 25,
    initContainerNames: [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME],
    retryWebhookCallFailureAfterMs: options.retryWebhookCallFailureAfterMs,
  };
  const child = spawn('/usr/bin/nsenter', [`--net=${node.netnsPath}`, '--', process.execPath, path.join(import.meta.dirname, 'create-load.ts'), JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  loads.add(child);
  child.once('exit', () => loads.delete(child));
  const lines = createInterface({ input: child.stdout! });
  let resolveStarted: (epochMs: number) => void = () => undefined;
  const started = new Promise<number>((resolve) => (resolveStarted = resolve));
  const result = new Promise<LoadResult>((resolve, reject) => {
    let last: LoadResult | undefined;
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { event: string; epochMs?: number };
      if (event.event === 'started') resolveStarted(event.epochMs ?? Date.now());
      if (event.event === 'result') last = event as LoadResult;
    });
    child.once('exit', (code) => (last !== undefined ? resolve(last) : reject(new Error(`create-load.ts exited ${code} without a result`))));
  });
  return { started, result };
}

async function webhookPods(): Promise<V1Pod[]> {
  const list = await core.listNamespacedPod({ namespace: WEBHOOK_NAMESPACE, labelSelector: WEBHOOK_SELECTOR });
  return list.items.filter(isReady);
}

/** The webhook's node process of a pod, found by its pod cgroup (the kubelet names it after the pod's uid). */
function webhookPid(pod: V1Pod): number {
  const uid = pod.metadata?.uid ?? '';
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cgroups = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      if (cgroups.includes(`pod${uid}`) && readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('webhook.mjs')) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no webhook process in pod ${pod.metadata?.name} (${uid})`);
}

/** Resident memory of a process, bytes (VmRSS). */
function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

/** The memory cgroup's usage of the process's container (anonymous and page cache), bytes. */
function containerCgroupBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => /^\d+:memory:/.test(l));
  const cgroupPath = line?.split(':')[2] ?? '';
  return Number(readFileSync(path.join('/sys/fs/cgroup/memory', cgroupPath, 'memory.usage_in_bytes'), 'utf8'));
}

/** CPU seconds a process has used (all its threads). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU of the whole machine, in seconds of one core. */
function machineBusySeconds(): number {
  const [, ...values] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = values;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** CPU of each component over a window, in cores. */
function cpuMeter(pids: Readonly<Record<string, number>>): () => Record<string, number> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const machineBefore = machineBusySeconds();
  const began = Date.now();
  return () => {
    const wall = (Date.now() - began) / 1000;
    const cores = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, Math.round(((cpuSeconds(pid) - (before[name] ?? 0)) / wall) * 100) / 100]));
    return { ...cores, 'whole machine': Math.round(((machineBusySeconds() - machineBefore) / wall) * 100) / 100 };
  };
}

function controlPlanePids(): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const p of cluster.processes) if (p.exitStatus() === undefined) pids[p.name] = p.pid;
  return pids;
}

const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

interface MemorySample {
  /** Seconds after the load started (-1: before it). */
  readonly second: number;
  readonly rss: number;
  readonly cgroup: number;
}

/** One replica's memory over the full-rate run: what is printed, and what the assertions read. */
function summarizeMemory(replica: string, series: readonly MemorySample[]) {
  const half = FULL_SECONDS / 2;
  const atHalf = series.find((x) => x.second >= half)?.rss ?? Number.NaN;
  const lastHalf = series.filter((x) => x.second >= half && x.second <= FULL_SECONDS).map((x) => x.rss);
  const maxLastHalf = Math.max(...lastHalf);
  const last = series.at(-1) ?? { second: 0, rss: Number.NaN, cgroup: Number.NaN };
  return {
    replica,
    growthLast30s: maxLastHalf - atHalf,
    growthAfter: last.rss - atHalf,
    shown: { replica, rssBeforeMiB: mib(series[0]?.rss ?? Number.NaN), rssAt30sMiB: mib(atHalf), rssMaxLast30sMiB: mib(maxLastHalf), rssAfterMiB: mib(last.rss), cgroupBeforeMiB: mib(series[0]?.cgroup ?? Number.NaN), cgroupAfterMiB: mib(last.cgroup) },
  };
}

/** GET on the API server as the admin, the body as text. */
function apiServerGet(urlPath: string): Promise<string> {
  const { ca, cert, key } = cluster.adminTls;
  return new Promise<string>((resolve, reject) => {
    const req = httpsGet(`${cluster.apiServerUrl}${urlPath}`, { ca, cert, key }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
  });
}

/** A Prometheus histogram's buckets (`le <bound>`), `sum` and `count`, summed over the series whose labels contain `labelText`. */
function histogram(text: string, metric: string, labelText: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}_`)) continue;
    const match = /^\S+_(bucket|sum|count)\{(.*)\} (\S+)$/.exec(line);
    if (match === null || !match[2]?.includes(labelText)) continue;
    const key = match[1] === 'bucket' ? `le ${/le="([^"]+)"/.exec(match[2])?.[1]}` : (match[1] ?? '');
    values.set(key, (values.get(key) ?? 0) + Number(match[3]));
  }
  return values;
}

/** The API server's timing of its calls to the webhook. */
async function webhookCallHistogram(): Promise<Map<string, number>> {
  return histogram(await apiServerGet('/metrics'), 'apiserver_admission_webhook_admission_duration_seconds', 'name="inject.vault-courier.io"');
}

/** A replica's own timing of its reviews, from its metrics port through the API server's pod proxy. */
async function reviewHistogram(replica: string): Promise<Map<string, number>> {
  return histogram(await apiServerGet(`/api/v1/namespaces/${WEBHOOK_NAMESPACE}/pods/${replica}:9090/proxy/metrics`), 'vault_courier_admission_review_duration_seconds', 'outcome="injected"');
}

/** A histogram over a window: count, mean, and the share within each bound (seconds). */
function windowSummary(before: Map<string, number>, after: Map<string, number>, bounds: readonly string[]) {
  const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  const count = delta('count');
  const within = Object.fromEntries(bounds.map((le) => [`${Number(le) * 1000}ms`, Math.round((delta(`le ${le}`) / count) * 1000) / 1000]));
  return { count, meanMs: Math.round((delta('sum') / count) * 100000) / 100, shareWithin: within };
}

/** A load at `rate` with the webhook replicas' memory sampled every second and every component's CPU measured. */
async function measuredLoad(name: string, ratePerSecond: number, seconds: number) {
  const pods = await webhookPods();
  assert.equal(pods.length, 2);
  const replicas = pods.map((pod) => ({ name: pod.metadata?.name ?? '', pid: webhookPid(pod) }));
  const samples = new Map<string, MemorySample[]>(replicas.map((r) => [r.name, []]));
  const sample = (second: number) => {
    for (const r of replicas) samples.get(r.name)?.push({ second, rss: rssBytes(r.pid), cgroup: containerCgroupBytes(r.pid) });
  };
  sample(-1);
  const callsBefore = await webhookCallHistogram();
  const reviewsBefore = await Promise.all(replicas.map((r) => reviewHistogram(r.name)));
  const load = startLoad({ name, ratePerSecond, durationMs: seconds * 1000 });
  const startedAt = await load.started;
  const cpu = cpuMeter({ ...controlPlanePids(), ...Object.fromEntries(replicas.map((r) => [`webhook ${r.name}`, r.pid])) });
  const sampler = setInterval(() => sample(Math.round((Date.now() - startedAt) / 1000)), 1000);
  let result: LoadResult;
  try {
    result = await load.result;
  } finally {
    clearInterval(sampler);
  }
  const cores = cpu();
  const webhookCalls = windowSummary(callsBefore, await webhookCallHistogram(), ['0.005', '0.025', '0.1', '0.5', '1']);
  const reviewsAfter = await Promise.all(replicas.map((r) => reviewHistogram(r.name)));
  const ownTime = Object.fromEntries(replicas.map((r, i) => [r.name, windowSummary(reviewsBefore[i] ?? new Map(), reviewsAfter[i] ?? new Map(), ['0.001', '0.005', '0.025', '0.1'])]));
  const apiServerCores = cores['kube-apiserver'] ?? Number.NaN;
  const webhookCores = replicas.reduce((sum, r) => sum + (cores[`webhook ${r.name}`] ?? 0), 0);
  const report = {
    rate: { asked: ratePerSecond, achieved: result.achievedPerSecond, maxSendLagMs: result.maxSendLagMs, completed: result.completed, due: result.due },
    latencyMs: result.latencyMs,
    webhookCallsAsTheApiServerTimedThem: webhookCalls,
    reviewsAsEachReplicaTimedThem: ownTime,
    clientCpuCores: result.clientCpuCores,
    cpuCoresDuringLoad: cores,
    cpuMsPerCreation: { 'kube-apiserver': Math.round((apiServerCores / result.achievedPerSecond) * 10000) / 10, webhook: Math.round((webhookCores / result.achievedPerSecond) * 10000) / 10, client: Math.round((result.clientCpuCores / result.achievedPerSecond) * 10000) / 10 },
  };
  return { result, report, replicas, samples, sample };
}

function assertEveryCreationInjected(result: LoadResult): void {
  assert.deepEqual(result.errors.slice(0, 5), [], `every creation succeeded (${result.errors.length} failed)`);
  assert.equal(result.completed, result.due);
  assert.equal(result.injected, result.due, 'every answer carries the injected status');
  assert.ok(result.spotChecked >= result.due / 25 - 1 && result.spotCheckFailures === 0, `spot checks: ${result.spotChecked}, failed ${result.spotCheckFailures}`);
}

test(`the issue's ${ISSUE_RATE} pod creations/s (${BURST_SECONDS} s) through the API server: 0 errors, every answer injected; the CPU each part spends per creation`, { timeout: 120_000 }, async () => {
  const { result, report } = await measuredLoad('burst', ISSUE_RATE, BURST_SECONDS);
  console.log(JSON.stringify({ test: 'burst', ...report }, null, 2));
  assertEveryCreationInjected(result);
});

test(`${STEADY_RATE} pod creations/s for ${FULL_SECONDS} s through the API server: 0 errors, every answer injected, the webhook's memory flat (rate and p50/p99 printed)`, { timeout: 180_000 }, async () => {
  const { result, report, replicas, samples, sample } = await measuredLoad('steady', STEADY_RATE, FULL_SECONDS);
  // After the load: what the replicas keep.
  await new Promise((r) => setTimeout(r, 3000));
  sample(FULL_SECONDS + 3);
  const memory = replicas.map((r) => summarizeMemory(r.name, samples.get(r.name) ?? []));
  console.log(JSON.stringify({ test: 'steady', ...report, memory: memory.map((m) => m.shown) }, null, 2));
  assertEveryCreationInjected(result);
  for (const m of memory) {
    assert.ok(m.growthLast30s <= FLAT_BOUND_BYTES, `${m.replica}: RSS grew ${mib(m.growthLast30s)} MiB over the last 30 s (bound ${mib(FLAT_BOUND_BYTES)} MiB)`);
    assert.ok(m.growthAfter <= FLAT_BOUND_BYTES, `${m.replica}: RSS 3 s after the load is ${mib(m.growthAfter)} MiB above its value at 30 s (bound ${mib(FLAT_BOUND_BYTES)} MiB)`);
  }
});

/**
 * How a replica dies: deleted through the API (kubectl delete pod: a rollout, a drain, an
 * eviction), stopped by the container runtime with SIGTERM while its pod stays (what the
 * kubelet does when the liveness probe fails), or its process SIGKILLed (the OOM killer, a crash).
 */
type Death = 'delete' | 'runtime-stop' | 'SIGKILL';
/** Load after the death: the drain (5 s) and the exit must fall inside it. */
const LOAD_AFTER_DEATH_MS: Record<Death, number> = { delete: 8_000, 'runtime-stop': 8_000, SIGKILL: 4_000 };

async function kill(how: Death, victim: V1Pod, pid: number): Promise<void> {
  const node = cluster.node;
  assert.ok(node);
  if (how === 'SIGKILL') {
    process.kill(pid, 'SIGKILL');
  } else if (how === 'delete') {
    await run(node.kubectl, ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', path.join(cluster.dir, 'kubectl-cache'), '-n', WEBHOOK_NAMESPACE, 'delete', 'pod', victim.metadata?.name ?? '', '--wait=false']);
  } else {
    const containerId = (victim.status?.containerStatuses?.[0]?.containerID ?? '').replace(/^containerd:\/\//, '');
    // In the background: crictl returns once the container has exited, which the drain delays.
    void run(defaultBinaries().crictl, ['--runtime-endpoint', `unix://${node.containerdSocket}`, 'stop', '--timeout', '30', containerId]).catch(() => undefined);
  }
}

/** Kills one replica 2 s into a steady load; returns the load and when things happened (ms after the load started). */
async function oneReplicaDies(how: Death, ratePerSecond: number, retryWebhookCallFailureAfterMs?: number) {
  await waitFor('both webhook replicas Ready', 60_000, async () => ((await webhookPods()).length === 2 ? true : undefined));
  const [victim] = await webhookPods();
  assert.ok(victim?.metadata?.name !== undefined);
  const pid = webhookPid(victim);
  const durationMs = 2_000 + LOAD_AFTER_DEATH_MS[how];
  const load = startLoad({ name: how.toLowerCase(), ratePerSecond, durationMs, retryWebhookCallFailureAfterMs });
  const startedAt = await load.started;
  await new Promise((r) => setTimeout(r, 2000));
  const killedAtMs = Date.now() - startedAt;
  await kill(how, victim, pid);
  const exited = waitFor('the victim process to exit', durationMs, () => (readFileSafe(`/proc/${pid}/stat`) === undefined ? Date.now() - startedAt : undefined), 50);
  const result = await load.result;
  const processExitedAtMs = await exited.catch(() => undefined);
  return { result, killedAtMs, processExitedAtMs, victim: victim.metadata.name, loadEndedAtMs: durationMs };
}

function readFileSafe(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

for (const how of ['delete', 'runtime-stop'] as const) {
  const what = how === 'delete' ? 'one webhook pod deleted (kubectl delete pod)' : 'one webhook container stopped by the runtime, its pod kept (a liveness restart)';
  test(`${what} under ${KILL_RATE} creations/s, the other serving: not one creation fails`, { timeout: 120_000 }, async () => {
    const { result, killedAtMs, processExitedAtMs, victim, loadEndedAtMs } = await oneReplicaDies(how, KILL_RATE);
    console.log(JSON.stringify({ how, victim, killedAtMs, processExitedAtMs, loadEndedAtMs, achieved: result.achievedPerSecond, latencyMs: result.latencyMs, errorCount: result.errors.length, errors: result.errors.slice(0, 10) }, null, 2));
    assert.ok(processExitedAtMs !== undefined && processExitedAtMs < loadEndedAtMs, 'the whole drain, to the process exit, happened under load');
    assert.deepEqual(result.errors, [], 'no creation failed');
    assert.equal(result.injected, result.due);
  });
}

test(`one webhook process SIGKILLed under ${SIGKILL_RATE} creations/s (the API server saturated): what fails, fails as "failed calling webhook" in the moment after the kill, and one client retry 1 s later succeeds`, { timeout: 120_000 }, async () => {
  const { result, killedAtMs, processExitedAtMs, victim } = await oneReplicaDies('SIGKILL', SIGKILL_RATE, 1000);
  const window = result.errors.map((e) => e.dueMs - killedAtMs);
  console.log(
    JSON.stringify(
      { victim, killedAtMs, processExitedAtMs, achieved: result.achievedPerSecond, failedFirstTry: result.errors.length, dueAfterKillMs: { first: Math.min(...window), last: Math.max(...window) }, messages: [...new Set(result.errors.map((e) => e.message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, '<ip:port>')))] },
      null,
      2,
    ),
  );
  for (const e of result.errors) {
    assert.ok(isWebhookCallFailure(e.status, e.message), `only the API server's webhook-call failure: ${e.status} ${e.message}`);
    assert.equal(e.retried, 'succeeded', `creation ${e.i} retried 1 s later`);
  }
  assert.equal(result.injected, result.due, 'every creation was injected, after one retry at most');
});
