/**
 * Rotation at cluster scale, by simulation (bench/scale/model.ts): what Vault and the API
 * server must absorb when many pods that started together keep rotating by eviction, with
 * core's deadline() jitter and without it. A platform team sizes Vault from the first table.
 * Usage: bash scripts/node.sh bench/scale/run.ts [--pods=10000] [--deployments=200] [--ttl=3600] [--token-ttl=7200] [--hours=24]
 *   [--login-ms=1500] [--ready-ms=3000] [--pdb-lag-ms=500] [--grace=30] [--webhook-replicas=2]
 * The Vault token lives twice the database lease, as in the demo's Vault role, so the lease
 * decides and the sidecar never renews before its pod is evicted.
 * The timing defaults are a little slower than this machine's real node, where bench/rotation
 * measured an evicted pod's replacement delivering its credentials 0.9 s and Ready 1.7 s after
 * the eviction (a production node also schedules among many and may pull images); the
 * sustained rates scale with 1 / (ready + PDB lag), so pass the cluster's own figures.
 */
import { cpus } from 'node:os';
import { DEFAULT_HEALTH_CACHE_MS } from '@vault-courier/webhook/evict/vault-health';
import { peaks, simulate, type ScaleConfig, type ScaleResult, type SeriesName } from './model.ts';

const DEFAULTS = { pods: 10_000, deployments: 200, ttl: 3600, 'token-ttl': 7200, hours: 24, 'login-ms': 1500, 'ready-ms': 3000, 'pdb-lag-ms': 500, grace: 30, 'webhook-replicas': 2 } as const;
type Flag = keyof typeof DEFAULTS;

function parseArgs(args: readonly string[]): Record<Flag, number> | string {
  const values: Record<Flag, number> = { ...DEFAULTS };
  for (const arg of args) {
    const match = /^--([a-z-]+)=(\d+)$/.exec(arg);
    const flag = match?.[1];
    if (flag === undefined || !Object.hasOwn(DEFAULTS, flag) || match?.[2] === undefined) return `unknown or malformed argument ${JSON.stringify(arg)} (flags: ${Object.keys(DEFAULTS).map((f) => `--${f}=<n>`).join(' ')})`;
    values[flag as Flag] = Number(match[2]);
  }
  if (values.pods % values.deployments !== 0) return `--pods=${values.pods} must be a multiple of --deployments=${values.deployments}`;
  if (values['ready-ms'] < values['login-ms']) return '--ready-ms must be at least --login-ms (a pod is Ready after its init logged in)';
  if (values.ttl < 60 || values.hours < 1) return '--ttl is at least 60 and --hours at least 1';
  return values;
}

function configFor(flags: Record<Flag, number>, pods: number, deployments: number, jitter: boolean, healthCacheMs = DEFAULT_HEALTH_CACHE_MS): ScaleConfig {
  return {
    deployments,
    replicasPerDeployment: pods / deployments,
    dbTtlSeconds: flags.ttl,
    tokenTtlSeconds: flags['token-ttl'],
    secretsPerPod: 1,
    terminationGracePeriodSeconds: flags.grace,
    jitter,
    durationSeconds: flags.hours * 3600,
    timing: { loginAfterEvictionMs: flags['login-ms'], readyAfterEvictionMs: flags['ready-ms'], pdbLagMs: flags['pdb-lag-ms'] },
    seed: 1,
    webhookReplicas: flags['webhook-replicas'],
    healthCacheMs,
  };
}

/** Peaks over the rotations: the rollout's own second (every pod logging in at t = 0) is left out. */
const peak = (r: ScaleResult, name: SeriesName) => peaks(r.perSecond[name], 60, 1);
const total = (r: ScaleResult, name: SeriesName) => r.perSecond[name].reduce((a, b) => a + b, 0);
const mean = (r: ScaleResult, name: SeriesName) => r.perSecond[name].reduce((a, b) => a + b, 0) / r.perSecond[name].length;
const n = (x: number) => (Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(1));
const ratio = (a: number, b: number) => (b === 0 ? '—' : `${(a / b).toFixed(2)}×`);

function run(config: ScaleConfig): { result: ScaleResult; ms: number } {
  const started = performance.now();
  const result = simulate(config);
  return { result, ms: performance.now() - started };
}

const flags = parseArgs(process.argv.slice(2));
if (typeof flags === 'string') {
  console.error(flags);
  process.exit(2);
}

const { pods, deployments } = flags;
const withJitter = run(configFor(flags, pods, deployments, true));
const without = run(configFor(flags, pods, deployments, false));
console.log(
  `${n(pods)} pods in ${deployments} Deployments (${pods / deployments} replicas, PDB maxUnavailable 1 each), all started together by a rollout; ` +
    `${flags.ttl} s database TTL (Vault token ${flags['token-ttl']} s, renewed at 2/3 less up to 10% by the uid), 1 dynamic secret per pod, grace ${flags.grace} s; ${flags.hours} h simulated; ` +
    `replacement logs in ${flags['login-ms']} ms and is Ready ${flags['ready-ms']} ms after its eviction, PDB sees it ${flags['pdb-lag-ms']} ms later`,
);
console.log(`core deadline(): evict at 2/3 of the TTL, minus a jitter from the pod uid of up to min(60 s, 5% of the TTL); blocked: the sidecar's backoff (2 s doubling to 30 s, equal jitter, never past half the time left before the pod's limit); sys/health cached ${DEFAULT_HEALTH_CACHE_MS} ms per webhook replica; ${n(withJitter.result.rolloutLogins)} logins at t = 0 (the rollout itself) are not in the peaks\n`);
const rows: Record<string, { 'with jitter': string; 'without jitter': string; 'with / without': string }> = {};
for (const [label, name] of [
  ['evictions / s', 'evictions'],
  ['blocked eviction attempts (429) / s', 'blocked'],
  ['Vault logins / s', 'logins'],
  ['credential issues / s', 'issues'],
  ['all Vault requests / s (login, creds, lookup, renew, revoke, sys/health)', 'vaultRequests'],
] as const) {
  const a = peak(withJitter.result, name);
  const b = peak(without.result, name);
  rows[`peak ${label}, busiest second`] = { 'with jitter': n(a.perSecond), 'without jitter': n(b.perSecond), 'with / without': ratio(a.perSecond, b.perSecond) };
  rows[`peak ${label}, busiest minute's mean`] = { 'with jitter': n(a.perSecondOverWindow), 'without jitter': n(b.perSecondOverWindow), 'with / without': ratio(a.perSecondOverWindow, b.perSecondOverWindow) };
}
for (const [label, name] of [['mean Vault logins / s over the whole run', 'logins'], ['mean Vault requests / s over the whole run', 'vaultRequests']] as const) {
  rows[label] = { 'with jitter': n(mean(withJitter.result, name)), 'without jitter': n(mean(without.result, name)), 'with / without': ratio(mean(withJitter.result, name), mean(without.result, name)) };
}
const safety = (r: ScaleResult) => [n(r.expiredBeforeEviction), `${(r.leastMarginMs / 1000).toFixed(0)} s`, `${(r.longestWaitMs / 1000).toFixed(0)} s`] as const;
const [ja, jb, jc] = safety(withJitter.result);
const [wa, wb, wc] = safety(without.result);
rows['evictions after the credentials expired (goal 0)'] = { 'with jitter': ja, 'without jitter': wa, 'with / without': '' };
rows['least margin, eviction to expiry'] = { 'with jitter': jb, 'without jitter': wb, 'with / without': '' };
rows['longest wait, first attempt to accepted eviction'] = { 'with jitter': jc, 'without jitter': wc, 'with / without': '' };
rows['answers rate-limited by the webhook'] = { 'with jitter': n(withJitter.result.rateLimited), 'without jitter': n(without.result.rateLimited), 'with / without': '' };
console.table(rows);

// The webhook's sys/health cache: the same run (with jitter) asking Vault on every attempt.
const uncached = run(configFor(flags, pods, deployments, true, 0));
console.log(`\nthe webhook's sys/health cache (${DEFAULT_HEALTH_CACHE_MS} ms per answer, ${flags['webhook-replicas']} webhook replicas), with jitter: asked on every eviction attempt before, cached now`);
const cache: Record<string, { 'before: every attempt': string; 'now: cached': string; 'now / before': string }> = {};
for (const [label, name] of [['sys/health requests / s', 'health'], ['all Vault requests / s', 'vaultRequests']] as const) {
  const b = peak(uncached.result, name);
  const a = peak(withJitter.result, name);
  cache[`${label}, busiest second`] = { 'before: every attempt': n(b.perSecond), 'now: cached': n(a.perSecond), 'now / before': ratio(a.perSecond, b.perSecond) };
  cache[`${label}, busiest minute's mean`] = { 'before: every attempt': n(b.perSecondOverWindow), 'now: cached': n(a.perSecondOverWindow), 'now / before': ratio(a.perSecondOverWindow, b.perSecondOverWindow) };
  cache[`${label}, mean over the whole run`] = { 'before: every attempt': n(mean(uncached.result, name)), 'now: cached': n(mean(withJitter.result, name)), 'now / before': ratio(mean(withJitter.result, name), mean(uncached.result, name)) };
}
cache['evictions (must not change)'] = { 'before: every attempt': n(total(uncached.result, 'evictions')), 'now: cached': n(total(withJitter.result, 'evictions')), 'now / before': ratio(total(withJitter.result, 'evictions'), total(uncached.result, 'evictions')) };
console.table(cache);

// Growth with the pod count, two ways: Deployments of 50 replicas, and always 200 Deployments.
console.log('\nhow the peaks grow with the pod count (busiest second / busiest minute’s mean, per second)');
const growth: Record<string, Record<string, string>> = {};
const cell = (r: ScaleResult, name: SeriesName) => `${n(peak(r, name).perSecond)} / ${n(peak(r, name).perSecondOverWindow)}`;
for (const [shape, count, deploymentsFor] of [
  ['50 replicas each', [1000, 5000, 10_000, 20_000], (p: number) => p / 50],
  ['200 Deployments', [1000, 5000, 10_000, 20_000], () => 200],
] as const) {
  for (const p of count) {
    const d = deploymentsFor(p);
    const j = p === pods && d === deployments ? withJitter : run(configFor(flags, p, d, true));
    const w = p === pods && d === deployments ? without : run(configFor(flags, p, d, false));
    growth[`${n(p)} pods, ${d} × ${p / d}`] = {
      'logins/s, jitter': cell(j.result, 'logins'),
      'logins/s, none': cell(w.result, 'logins'),
      'evictions/s, jitter': cell(j.result, 'evictions'),
      'evictions/s, none': cell(w.result, 'evictions'),
      'Vault req/s, jitter': cell(j.result, 'vaultRequests'),
      'expired, jitter / none': `${j.result.expiredBeforeEviction} / ${w.result.expiredBeforeEviction}`,
    };
  }
  void shape;
}
console.table(growth);
console.log(`\nsimulated on ${cpus()[0]?.model ?? '?'}, Node ${process.version}: ${(withJitter.ms / 1000).toFixed(1)} s for ${n(pods)} pods × ${flags.hours} h`);
