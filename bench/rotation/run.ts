/**
 * One full rotation by eviction on the real node: the demo's loop (packages/devcluster's
 * startLoop: vault-courier installed by its chart, a Deployment of the demo app with a
 * PodDisruptionBudget maxUnavailable 1, database credentials of `--ttl` seconds) with
 * `--replicas` replicas, watched from outside:
 *   - availability: a watch of the pods (Ready and not terminating) and the Deployment's
 *     status.unavailableReplicas;
 *   - blocked evictions: the webhook's EvictionBlocked Events, its
 *     vault_courier_eviction_requests_total, and the sidecars' "eviction blocked" lines;
 *   - credentials used after expiry: every query the app logs (it queries every 5 s and
 *     logs its user) and every session in pg_stat_activity, against the user's VALID UNTIL
 *     in pg_roles (Vault writes the lease's expiry there);
 *   - cost: Vault's file audit log and the API server's apiserver_request_total over the
 *     rotation, per eviction; CPU and memory of the machine.
 * The goals (≤ 1 unavailable, 0 credentials used after expiry) are the reference.
 * vault-k8s has no rotation by eviction: its agent sidecar re-renders the file in place and
 * the application must notice; so there is no vault-k8s column.
 *
 * Needs root (a network namespace, a kubelet, containerd) and the real parts and images
 * (bash scripts/setup.sh).
 * Usage: bash scripts/node.sh bench/rotation/run.ts [--replicas=20] [--ttl=60] [--timeout=480]
 */
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { AppsV1Api, CoreV1Api, makeInformer, type KubeConfig, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME } from '@vault-courier/core';
import { isEvicted, SETUP_COMMAND, startLoop, WEBHOOK_NAMESPACE, type ContainerRef, type Loop } from '@vault-courier/devcluster';
import { auditRequestsByPath, counterDelta, cpuJiffies, mostUnavailable, parseRotationArgs, ROTATION_USAGE, samplesOf, usesAfterExpiry, type CredentialUse, type Sample } from './figures.ts';

const SAMPLE_MS = 1_000;

/** GET on the API server as the cluster's admin (its own /metrics, or a pod's through the proxy). */
async function getText(kc: KubeConfig, urlPath: string): Promise<string> {
  const url = new URL(urlPath, kc.getCurrentCluster()?.server);
  const options = { method: 'GET', hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers: {} };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => ((res.statusCode ?? 0) === 200 ? resolve(text) : reject(new Error(`GET ${urlPath}: ${res.statusCode} ${text.slice(0, 200)}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function webhookEvictionSamples(kc: KubeConfig): Promise<Sample[]> {
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: WEBHOOK_NAMESPACE });
  const texts = await Promise.all(
    pods.items
      .filter((p) => (p.spec?.containers ?? []).some((c) => (c.ports ?? []).some((port) => port.name === 'metrics')))
      .map((p) => {
        const port = p.spec?.containers.flatMap((c) => c.ports ?? []).find((x) => x.name === 'metrics')?.containerPort;
        return getText(kc, `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/pods/${p.metadata?.name ?? ''}:${port ?? 0}/proxy/metrics`);
      }),
  );
  return texts.flatMap((t) => samplesOf(t, 'vault_courier_eviction_requests_total'));
}

interface LogEntry {
  readonly ref: ContainerRef;
  readonly entry: Record<string, unknown>;
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const verdict = (ok: boolean) => (ok ? 'pass' : 'FAIL');
const pct = (f: number) => `${(f * 100).toFixed(0)}%`;
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const sum = (m: ReadonlyMap<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Everything seen during one rotation, before any arithmetic. */
interface Observed {
  readonly replicas: number;
  readonly createdAt: number;
  readonly windowStart: number;
  readonly windowEnd: number;
  /** How the window closed: every original rotated, no eviction accepted for a while, or the timeout. */
  readonly outcome: 'rotated' | 'stalled' | 'timeout';
  readonly stallSeconds: number;
  /** Pod name → creation and first Ready, epoch ms. */
  readonly podCreatedAt: ReadonlyMap<string, number>;
  readonly readyAt: ReadonlyMap<string, number>;
  readonly notReadyAtEnd: number;
  /** Ready, non-terminating pods at each change inside the window. */
  readonly available: readonly number[];
  readonly unavailableReplicas: readonly number[];
  readonly evictedAt: ReadonlyMap<string, number>;
  readonly logs: readonly LogEntry[];
  readonly sessions: readonly CredentialUse[];
  /** Database user → its VALID UNTIL, epoch ms. */
  readonly expiry: ReadonlyMap<string, number>;
  readonly blockedEvents: { readonly events: number; readonly count: number };
  readonly webhook: ReadonlyMap<string, number>;
  readonly vaultByPath: ReadonlyMap<string, number>;
  readonly apiByResource: ReadonlyMap<string, number>;
  readonly cpu: readonly { atMs: number; busy: number; total: number }[];
  readonly peakUsedBytes: number;
}

const median = (xs: readonly number[]) => (xs.length === 0 ? undefined : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
const fmtMedian = (xs: readonly number[]) => {
  const m = median(xs);
  return m === undefined ? '—' : seconds(m);
};

/** How long after `fromMs` every original had rotated, if it did. */
function rotatedAfter(o: Observed, fromMs: number): string {
  return o.outcome === 'rotated' && Number.isFinite(fromMs) ? seconds(o.windowEnd - fromMs) : 'not reached';
}

function outcomeText(o: Observed, timeoutSeconds: number): string {
  if (o.outcome === 'rotated') return 'yes';
  return o.outcome === 'stalled' ? `no: stalled (no eviction for ${o.stallSeconds} s)` : `no (timeout ${timeoutSeconds} s)`;
}

/** Each accepted eviction's replacement: the first pod created after it, not yet matched. */
function replacementTimes(accepted: readonly number[], o: Observed): { delivered: number[]; ready: number[]; idle: number[] } {
  const created = [...o.podCreatedAt].sort((a, b) => a[1] - b[1]);
  const deliveredAt = new Map(o.logs.filter((l) => l.ref.container === INIT_CONTAINER_NAME && l.entry.msg === 'all secrets delivered').map((l) => [l.ref.pod, Date.parse(String(l.entry.time))]));
  const used = new Set<string>();
  const delivered: number[] = [];
  const ready: number[] = [];
  // The budget frees once a replacement is Ready: how long until the next eviction took it.
  const idle: number[] = [];
  for (const [i, at] of accepted.entries()) {
    const pod = created.find(([name, t]) => t >= at - 1000 && !used.has(name))?.[0];
    if (pod === undefined) continue;
    used.add(pod);
    const d = deliveredAt.get(pod);
    const r = o.readyAt.get(pod);
    if (d !== undefined) delivered.push(d - at);
    if (r !== undefined) ready.push(r - at);
    const next = accepted[i + 1];
    if (r !== undefined && next !== undefined && next >= r) idle.push(next - r);
  }
  return { delivered, ready, idle };
}

/** Busy fraction of each interval between consecutive /proc/stat samples. */
function busyFractions(cpu: Observed['cpu']): number[] {
  return cpu.slice(1).map((s, i) => (s.busy - (cpu[i]?.busy ?? s.busy)) / Math.max(1, s.total - (cpu[i]?.total ?? 0)));
}

/** How each pod fared against its user's VALID UNTIL: the least margin of an eviction, and how many expired first. */
function expiryFacts(o: Observed): { least: number | undefined; expiredFirst: number } {
  // Margin: how long before its credentials expired each evicted pod was marked.
  const userOfPod = new Map(o.logs.filter((l) => l.ref.container === 'app' && l.entry.msg === 'connected to the database').map((l) => [l.ref.pod, String(l.entry.user)]));
  const margins = [...o.evictedAt].flatMap(([pod, at]) => {
    const e = o.expiry.get(userOfPod.get(pod) ?? '');
    return e === undefined ? [] : [e - at];
  });
  const least = margins.length === 0 ? undefined : Math.min(...margins);
  // A pod whose user's VALID UNTIL passed while it still ran (not evicted by then, or never).
  const expiredFirst = [...userOfPod].filter(([pod, user]) => {
    const e = o.expiry.get(user);
    return e !== undefined && e < Math.min(o.evictedAt.get(pod) ?? Infinity, o.windowEnd);
  }).length;
  return { least, expiredFirst };
}

function printFigures(o: Observed, args: { dbTtlSeconds: number; timeoutSeconds: number }): void {
  const evictions = [...o.evictedAt.values()].filter((t) => t >= o.windowStart && t <= o.windowEnd).length;
  const perEviction = (n: number) => (evictions === 0 ? '—' : (n / evictions).toFixed(1));
  const appUses: CredentialUse[] = o.logs
    .filter((l) => l.ref.container === 'app' && (l.entry.msg === 'connected to the database' || l.entry.msg === 'query ok') && typeof l.entry.user === 'string')
    .map((l) => ({ user: String(l.entry.user), atMs: Date.parse(String(l.entry.time)) }));
  const lateQueries = usesAfterExpiry(appUses, o.expiry);
  const lateSessions = usesAfterExpiry(o.sessions, o.expiry);
  const blockedLines = o.logs.filter((l) => l.ref.container === SIDECAR_CONTAINER_NAME && String(l.entry.msg).startsWith('eviction blocked')).length;
  const webhookBlocked = [...o.webhook].filter(([k]) => k.endsWith(' blocked')).reduce((n, [, v]) => n + v, 0);
  const webhookQueued = [...o.webhook].filter(([k]) => k.endsWith(' queued')).reduce((n, [, v]) => n + v, 0);
  const queuedLines = o.logs.filter((l) => l.ref.container === SIDECAR_CONTAINER_NAME && String(l.entry.msg).startsWith('eviction queued')).length;
  const { least, expiredFirst } = expiryFacts(o);
  const initMs = o.logs.filter((l) => l.ref.container === INIT_CONTAINER_NAME && l.entry.msg === 'all secrets delivered').map((l) => Number(l.entry.elapsedMs)).sort((a, b) => a - b);
  const busy = busyFractions(o.cpu.filter((s) => s.atMs >= o.windowStart && s.atMs <= o.windowEnd));
  const allBusy = busyFractions(o.cpu);
  const mostPods = mostUnavailable(o.available, o.replicas);
  const mostDeployment = Math.max(0, ...o.unavailableReplicas);
  const firstEviction = Math.min(...o.evictedAt.values());
  const connectionsLost = o.logs.filter((l) => l.ref.container === 'app' && (l.entry.msg === 'database connection lost' || l.entry.msg === 'query failed')).length;
  const accepted = [...o.evictedAt.values()].sort((a, b) => a - b);
  const gaps = accepted.slice(1).map((t, i) => t - (accepted[i] ?? t));
  // The mean, not the median: the last few waiting sidecars sleep their longest backoff, so the tail sets the pace.
  const cycle = gaps.length === 0 ? undefined : mean(gaps);
  const replacement = replacementTimes(accepted, o);
  // With the rotation queue a long budget's pods ask from their start (core's budgetLead), so
  // the window is the whole time from the issue to the limit (TTL − grace 5 s − margin 5 s).
  const fitWindowMs = (args.dbTtlSeconds - 10) * 1000;

  console.log(`\nrotation of ${o.replicas} replicas, PDB maxUnavailable 1, database TTL ${args.dbTtlSeconds} s (window: all Ready → every original replaced and its user revoked)`);
  console.table([
    { figure: 'most pods unavailable at once (watch of the pods)', measured: mostPods, goal: '≤ 1', result: verdict(mostPods <= 1) },
    { figure: 'most unavailable (Deployment status.unavailableReplicas)', measured: mostDeployment, goal: '≤ 1', result: verdict(mostDeployment <= 1) },
    { figure: 'app queries with credentials past their expiry', measured: lateQueries.length, goal: 0, result: verdict(lateQueries.length === 0) },
    { figure: 'PostgreSQL sessions seen past their user’s VALID UNTIL', measured: lateSessions.length, goal: 0, result: verdict(lateSessions.length === 0) },
    { figure: 'every original rotated', measured: outcomeText(o, args.timeoutSeconds), goal: 'yes', result: verdict(o.outcome === 'rotated') },
    { figure: 'pods whose credentials expired before their eviction', measured: expiredFirst, goal: 0, result: verdict(expiredFirst === 0) },
    { figure: 'app lost its database connection (revoked at expiry)', measured: connectionsLost, goal: 0, result: verdict(connectionsLost === 0) },
    { figure: 'least margin: eviction before the credentials’ expiry', measured: least === undefined ? '—' : seconds(least), goal: '> 0', result: least === undefined ? '' : verdict(least > 0) },
    { figure: 'time: first eviction → every original rotated', measured: rotatedAfter(o, firstEviction), goal: '', result: '' },
    { figure: 'time: Deployment created → every original rotated', measured: rotatedAfter(o, o.createdAt), goal: '', result: '' },
    { figure: 'evictions in the window', measured: evictions, goal: '', result: '' },
    { figure: 'PDB cycle between accepted evictions: mean (median)', measured: cycle === undefined ? '—' : `${seconds(cycle)} (${fmtMedian(gaps)})`, goal: '', result: '' },
    { figure: 'eviction → replacement: credentials delivered / Ready, median', measured: `${fmtMedian(replacement.delivered)} / ${fmtMedian(replacement.ready)}`, goal: '', result: '' },
    { figure: 'replacement Ready → the next eviction (budget free), median / mean', measured: `${fmtMedian(replacement.idle)} / ${seconds(mean(replacement.idle))}`, goal: '', result: '' },
    { figure: 'replicas that fit: (TTL − grace − margin) ÷ cycle', measured: cycle === undefined ? '—' : Math.floor(fitWindowMs / cycle), goal: `≥ ${o.replicas}`, result: cycle === undefined ? '' : verdict(fitWindowMs / cycle >= o.replicas) },
    { figure: 'blocked evictions: EvictionBlocked Events (their count)', measured: `${o.blockedEvents.count} (${o.blockedEvents.events} Events)`, goal: '', result: '' },
    { figure: 'blocked evictions: webhook outcome=blocked / sidecar lines', measured: `${webhookBlocked} / ${blockedLines}`, goal: '', result: '' },
    { figure: 'queued (earliest expiry first): webhook outcome=queued / sidecar lines', measured: `${webhookQueued} / ${queuedLines}`, goal: '', result: '' },
    { figure: 'Vault requests per eviction (audit log)', measured: perEviction(sum(o.vaultByPath)), goal: '', result: '' },
    { figure: 'API server requests per eviction (apiserver_request_total)', measured: perEviction(sum(o.apiByResource)), goal: '', result: '' },
    { figure: 'init: login + fetch + write, median', measured: initMs.length === 0 ? '—' : `${initMs[Math.floor(initMs.length / 2)]} ms`, goal: '', result: '' },
    { figure: 'machine CPU busy in the window: mean / peak 1 s', measured: `${pct(mean(busy))} / ${pct(Math.max(0, ...busy))}`, goal: '', result: '' },
    { figure: 'machine CPU busy from Deployment created: peak 1 s', measured: pct(Math.max(0, ...allBusy)), goal: '', result: '' },
    { figure: 'machine memory in use, peak', measured: `${(o.peakUsedBytes / 2 ** 30).toFixed(1)} GiB of ${(totalmem() / 2 ** 30).toFixed(0)}`, goal: '', result: '' },
  ]);
  console.log('reference: the goals; vault-k8s has no rotation by eviction (its agent re-renders the file in place, the app must reload it), so it has no figure here');
  const top = (m: ReadonlyMap<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([what, count]) => ({ what, total: count, perEviction: perEviction(count) }));
  console.log('\nVault requests in the window, by path');
  console.table(top(o.vaultByPath, 12));
  console.log('API server requests in the window, by verb and resource (node heartbeats and controllers included)');
  console.table(top(o.apiByResource, 15));
  if (o.webhook.size > 0) console.log(`webhook eviction endpoint outcomes in the window: ${[...o.webhook].map(([k, v]) => `${k.trim()}=${v}`).join(', ')}`);
  if (o.outcome === 'stalled') {
    console.log(
      `stalled: ${o.notReadyAtEnd} of ${o.replicas} pods not Ready at the end, so the PDB allowed no eviction; pods whose credentials expired lost their database connection and crash-loop, ` +
        "and a PDB's default unhealthyPodEvictionPolicy (IfHealthyBudget) refuses to evict not-Ready pods while the budget is short: unhealthyPodEvictionPolicy: AlwaysAllow lets them go",
    );
  }
  for (const late of [...lateQueries, ...lateSessions].slice(0, 10)) console.log(`late use: ${late.user} at ${new Date(late.atMs).toISOString()}, expired ${new Date(o.expiry.get(late.user) ?? 0).toISOString()}`);
}

/** Watches the running loop until every original replica rotated (or the timeout). */
async function observe(loop: Loop, logs: readonly LogEntry[], args: { replicas: number; dbTtlSeconds: number; timeoutSeconds: number }, stops: (() => Promise<void> | void)[]): Promise<Observed> {
  const createdAt = Date.now();
  const { cluster, namespace } = loop;
  const { replicas } = args;
  const kc = cluster.kubeConfig;
  const vault = cluster.vault;
  const db = cluster.postgres;
  if (vault === undefined || db === undefined) throw new Error('the loop started without Vault or PostgreSQL');
  const auditFile = path.join(cluster.dir, 'vault-audit.log');
  await vault.client.write('sys/audit/bench', { type: 'file', options: { file_path: auditFile } });

  // Availability, and when each pod was marked evicted, from a watch of our own.
  const core = kc.makeApiClient(CoreV1Api);
  const available: number[] = [];
  const evictedAt = new Map<string, number>();
  const podCreatedAt = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const window: { start?: number; end?: number } = {};
  const open = () => window.start !== undefined && window.end === undefined;
  const pods = makeInformer<V1Pod>(kc, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace, labelSelector: 'app=demo-app' }), 'app=demo-app');
  const ready = (p: V1Pod) => p.metadata?.deletionTimestamp === undefined && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  const firstTime = (map: Map<string, number>, name: string, when: () => number) => {
    if (!map.has(name)) map.set(name, when());
  };
  const onPods = (pod: V1Pod) => {
    const name = pod.metadata?.name ?? '';
    if (isEvicted(pod)) firstTime(evictedAt, name, Date.now);
    // A watch hands over the JSON string, a list a Date.
    firstTime(podCreatedAt, name, () => Date.parse(String(pod.metadata?.creationTimestamp ?? new Date().toISOString())));
    if (ready(pod)) firstTime(readyAt, name, Date.now);
    const count = pods.list().filter(ready).length;
    if (window.start === undefined && count === replicas) window.start = Date.now();
    if (open()) available.push(count);
  };
  for (const verb of ['add', 'update', 'delete'] as const) pods.on(verb, onPods);
  await pods.start();
  stops.push(() => pods.stop());

  const apps = kc.makeApiClient(AppsV1Api);
  const unavailableReplicas: number[] = [];
  const deployments = makeInformer<V1Deployment>(kc, `/apis/apps/v1/namespaces/${namespace}/deployments`, () => apps.listNamespacedDeployment({ namespace }));
  deployments.on('update', (d) => {
    if (open()) unavailableReplicas.push(d.status?.unavailableReplicas ?? 0);
  });
  await deployments.start();
  stops.push(() => deployments.stop());

  // Each second: the machine's CPU and memory, every PostgreSQL client session, each role's VALID UNTIL.
  const pgClient = new pg.Client({ host: db.host, port: db.port, user: db.superuser, password: db.password, database: 'postgres' });
  await pgClient.connect();
  stops.push(() => pgClient.end());
  const sessions: CredentialUse[] = [];
  const expiry = new Map<string, number>();
  const cpu: { atMs: number; busy: number; total: number }[] = [];
  let peakUsedBytes = 0;
  const sample = () => {
    const now = Date.now();
    cpu.push({ atMs: now, ...cpuJiffies(readFileSync('/proc/stat', 'utf8')) });
    const availableKb = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
    if (availableKb !== undefined) peakUsedBytes = Math.max(peakUsedBytes, totalmem() - Number(availableKb) * 1024);
    pgClient.query<{ usename: string }>("SELECT usename FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename <> current_user").then(
      (r) => r.rows.forEach((row) => sessions.push({ user: row.usename, atMs: now })),
      () => undefined,
    );
    pgClient.query<{ rolname: string; validuntil: Date }>('SELECT rolname, rolvaliduntil AS validuntil FROM pg_roles WHERE rolvaliduntil IS NOT NULL').then(
      (r) => r.rows.forEach((row) => expiry.set(row.rolname, row.validuntil.getTime())),
      () => undefined,
    );
  };
  const sampler = setInterval(sample, SAMPLE_MS);
  stops.push(() => clearInterval(sampler));

  // The window opens when every replica is first Ready (no eviction is due before two
  // thirds of the TTL) and closes when every original was replaced and its user revoked.
  const limitAt = createdAt + args.timeoutSeconds * 1000;
  while (window.start === undefined) {
    if (Date.now() > limitAt) throw new Error(`not all ${replicas} replicas were Ready within ${args.timeoutSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const windowStart = window.start;
  const apiBefore = samplesOf(await getText(kc, '/metrics'), 'apiserver_request_total');
  const webhookBefore = await webhookEvictionSamples(kc);
  let timer: NodeJS.Timeout | undefined;
  // Stalled: no eviction accepted for a TTL (at least a minute) after the first one.
  const stallSeconds = Math.max(60, args.dbTtlSeconds);
  let stallPoll: NodeJS.Timeout | undefined;
  const stalled = new Promise<'stalled'>((resolve) => {
    stallPoll = setInterval(() => {
      const last = Math.max(...evictedAt.values());
      if (evictedAt.size > 0 && Date.now() - last > stallSeconds * 1000) resolve('stalled');
    }, SAMPLE_MS);
  });
  const outcome = await Promise.race([
    loop.rotated.then(() => 'rotated' as const),
    stalled,
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, limitAt - Date.now())))),
  ]);
  clearTimeout(timer);
  clearInterval(stallPoll);
  const notReadyAtEnd = replicas - pods.list().filter(ready).length;
  const windowEnd = Date.now();
  window.end = windowEnd;
  const apiAfter = samplesOf(await getText(kc, '/metrics'), 'apiserver_request_total');
  const webhookAfter = await webhookEvictionSamples(kc);
  // The last second's sessions and the audit device's last lines.
  await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  const blocked = (await core.listNamespacedEvent({ namespace })).items.filter((e) => e.reason === 'EvictionBlocked');
  return {
    replicas,
    createdAt,
    windowStart,
    windowEnd,
    outcome,
    stallSeconds,
    podCreatedAt,
    readyAt,
    notReadyAtEnd,
    available,
    unavailableReplicas,
    evictedAt,
    logs,
    sessions,
    expiry,
    blockedEvents: { events: blocked.length, count: blocked.reduce((n, e) => n + (e.count ?? e.series?.count ?? 1), 0) },
    webhook: counterDelta(webhookBefore, webhookAfter, (s) => `${s.labels.endpoint ?? ''} ${s.labels.outcome ?? ''}`),
    vaultByPath: auditRequestsByPath(readFileSync(auditFile, 'utf8').split('\n'), windowStart, windowEnd),
    apiByResource: counterDelta(apiBefore, apiAfter, (s) => `${s.labels.verb ?? ''} ${s.labels.resource ?? ''}${s.labels.subresource ? `/${s.labels.subresource}` : ''}`),
    cpu,
    peakUsedBytes,
  };
}

async function main(): Promise<number> {
  const args = parseRotationArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    console.error(`${args}\n${ROTATION_USAGE}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.log('bench/rotation skipped: it needs root (a network namespace, a kubelet and containerd); rerun as root');
    return 0;
  }
  const { replicas, dbTtlSeconds } = args;
  console.log(`rotation by eviction on the real node: ${replicas} replicas, PodDisruptionBudget maxUnavailable 1, database TTL ${dbTtlSeconds} s; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
  const logs: LogEntry[] = [];
  let loop: Loop;
  try {
    loop = await startLoop({
      dbTtlSeconds,
      replicas,
      onTimeline: (line) => console.log(line),
      onContainerLine: (ref, line) => {
        const entry = parseJson(line);
        if (entry !== undefined) logs.push({ ref, entry });
      },
    });
  } catch (err) {
    console.error(`bench/rotation could not start the cluster: ${(err as Error).message}\n(the real parts and images come from: ${SETUP_COMMAND})`);
    return 1;
  }
  const stops: (() => Promise<void> | void)[] = [];
  try {
    const observed = await observe(loop, logs, args, stops);
    printFigures(observed, args);
    return observed.outcome === 'rotated' ? 0 : 1;
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    await loop.stop();
  }
}

process.exitCode = await main();
