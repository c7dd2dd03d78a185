/**
 * POST /mutate: vault-courier's webhook bundle next to HashiCorp's vault-k8s injector, the
 * same AdmissionReview (bench/webhook/review.ts), the same certificate, each server pinned to
 * core 0, wrk on core 1 (its CPU printed: it must stay well under one core). Per side and
 * run, a fresh process: memory idle (before any review), a warm-up, the maximum throughput
 * on 32 connections, latency at a paced load both sustain, memory after the load. Sides are
 * interleaved (A B, then B A, ...) and each figure is min / median / max over the runs; the
 * ratio is of the medians, vault-courier over vault-k8s.
 * Usage: node bench/webhook/run.ts [--runs 3] [--seconds 10] [--node-flags "--max-semi-space-size=2"]
 *   vault-k8s comes from bench/webhook/vault-k8s.sh (built once, cached); wrk from Debian's
 *   package (apt-get install wrk). Timed runs on a shared machine: flock /tmp/vc-bench.lock.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDevCluster } from '@vault-courier/devcluster';
import { freePorts } from '@vault-courier/devcluster/ports';
import { coreBusySeconds, cpuSeconds, haveWrk, memory, runLoad, type LoadResult, type Memory } from './measure.ts';
import { benchReview } from './review.ts';
import { courierSpec, inClusterIdentity, SERVER_NAME, startSide, vaultK8sSpec, type Identity, type SideSpec } from './sides.ts';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    'paced-connections': { type: 'string', default: '10' },
    'paced-delay-ms': { type: 'string', default: '10' },
    'node-flags': { type: 'string', default: '' },
  },
});
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const SERVER_CORE = 0;
const LOAD_CORE = 1;

interface Sample {
  readonly idle: Memory;
  readonly after: Memory;
  readonly max: LoadResult;
  readonly paced: LoadResult;
  /** Server CPU seconds per wall second during the maximum-throughput phase. */
  readonly serverCores: number;
  /** What every other process took of the server's core meanwhile (a shared machine). */
  readonly otherCores: number;
  readonly patchOps: number;
}

/** One review through node:https, checked: an allowed answer with a JSON patch. */
function reviewOnce(url: string, body: Buffer, caPem: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: caPem, servername: SERVER_NAME, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const answer = JSON.parse(text) as { response?: { allowed?: boolean; patch?: string } };
        const patch = answer.response?.patch;
        if (res.statusCode !== 200 || answer.response?.allowed !== true || patch === undefined) {
          reject(new Error(`${url} answered ${res.statusCode}: ${text.slice(0, 400)}`));
          return;
        }
        resolve((JSON.parse(Buffer.from(patch, 'base64').toString()) as unknown[]).length);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function measure(spec: SideSpec, caPem: string, bodyFile: string, body: Buffer, dir: string): Promise<Sample> {
  const side = await startSide(spec, caPem);
  try {
    const idle = memory(side.pid);
    const patchOps = await reviewOnce(side.url, body, caPem);
    const load = { url: side.url, bodyFile, core: LOAD_CORE, dir };
    await runLoad({ ...load, connections: Number(values.connections), seconds: Number(values.warmup) });
    const before = cpuSeconds(side.pid);
    const coreBefore = coreBusySeconds(SERVER_CORE);
    const max = await runLoad({ ...load, connections: Number(values.connections), seconds: SECONDS });
    const serverSeconds = cpuSeconds(side.pid) - before;
    const serverCores = serverSeconds / max.seconds;
    const otherCores = Math.max(0, coreBusySeconds(SERVER_CORE) - coreBefore - serverSeconds) / max.seconds;
    const paced = await runLoad({ ...load, connections: Number(values['paced-connections']), seconds: SECONDS, delayMs: Number(values['paced-delay-ms']) });
    for (const result of [max, paced]) if (result.errors > 0) throw new Error(`${spec.name}: ${result.errors} failed requests under load (log: ${side.logFile})`);
    return { idle, after: memory(side.pid), max, paced, serverCores, otherCores, patchOps };
  } finally {
    await side.stop();
  }
}

function vaultK8sBinary(): string | undefined {
  const got = spawnSync('bash', [path.join(import.meta.dirname, 'vault-k8s.sh')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (got.status === 0) return got.stdout.trim();
  if (got.status !== 3) throw new Error(`bench/webhook/vault-k8s.sh failed (exit ${String(got.status ?? got.signal)})`);
  return undefined;
}

const stats = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor((s.length - 1) / 2)]!, max: s.at(-1)! };
};

if (!(await haveWrk())) {
  console.error('bench/webhook: wrk is not on PATH; install it (Debian: apt-get install wrk, or bash scripts/setup.sh) and rerun');
  process.exit(1);
}
const bundled = spawnSync(process.execPath, [path.join(root, 'scripts/bundle.ts'), 'webhook'], { cwd: root, stdio: 'inherit' });
if (bundled.status !== 0) throw new Error('bundling the webhook failed: npm run build');
const vaultK8s = vaultK8sBinary();
if (vaultK8s === undefined) console.log('bench/webhook: vault-k8s is not available (see above); measuring vault-courier alone');

const nodeFlags = values['node-flags'].split(/\s+/).filter((f) => f !== '');
const body = benchReview();
const dir = mkdtempSync(path.join(tmpdir(), 'vault-courier-bench-webhook-'));
const bodyFile = path.join(dir, 'review.json');
writeFileSync(bodyFile, body);
const cluster = await startDevCluster({ controllers: false });
const samples: Record<string, Sample[]> = { 'vault-courier': [], 'vault-k8s': [] };
try {
  const tls = await cluster.issueCertificate({ name: 'bench-webhook', commonName: SERVER_NAME, dnsNames: [SERVER_NAME], ipAddresses: ['127.0.0.1'], usage: 'server' });
  const identities: Record<string, Identity> = {
    'vault-courier': await inClusterIdentity(cluster, 'vault-courier-webhook', dir),
    'vault-k8s': await inClusterIdentity(cluster, 'vault-agent-injector', dir),
  };
  for (let run = 1; run <= RUNS; run++) {
    const [port1, port2, port3] = await freePorts(3);
    const specs = [courierSpec(tls, port1!, port2!, nodeFlags), ...(vaultK8s === undefined ? [] : [vaultK8sSpec(vaultK8s, tls, port3!)])];
    if (run % 2 === 0) specs.reverse();
    for (const spec of specs) {
      process.stderr.write(`bench/webhook: run ${run}/${RUNS}, ${spec.name} ...\n`);
      samples[spec.name]!.push(await measure({ ...spec, identity: identities[spec.name]!, core: SERVER_CORE, dir }, cluster.caPem, bodyFile, body, dir));
    }
  }
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}

const courier = samples['vault-courier']!;
const reference = samples['vault-k8s']!;
const rows: Array<[string, (s: Sample) => number, number]> = [
  [`max throughput, ${values.connections} connections (req/s)`, (s) => s.max.perSecond, 0],
  ['  p50 at max (ms)', (s) => s.max.p50Ms, 2],
  ['  p99 at max (ms)', (s) => s.max.p99Ms, 2],
  ['  server CPU at max (cores)', (s) => s.serverCores, 2],
  ['  wrk CPU at max (cores)', (s) => s.max.generatorCores, 2],
  [`  other processes on core ${SERVER_CORE} at max (cores)`, (s) => s.otherCores, 2],
  [`paced: ${values['paced-connections']} connections, ${values['paced-delay-ms']} ms pause (req/s)`, (s) => s.paced.perSecond, 0],
  ['  p50 paced (ms)', (s) => s.paced.p50Ms, 3],
  ['  p99 paced (ms)', (s) => s.paced.p99Ms, 3],
  ['idle RSS (MiB)', (s) => s.idle.rssMiB, 1],
  ['idle anonymous (MiB)', (s) => s.idle.anonMiB, 1],
  ['after load RSS (MiB)', (s) => s.after.rssMiB, 1],
  ['after load anonymous (MiB)', (s) => s.after.anonMiB, 1],
  ['after load Pss (MiB)', (s) => s.after.pssMiB, 1],
  ['patch operations per review', (s) => s.patchOps, 0],
];
const fmt = (xs: readonly number[], digits: number) => {
  if (xs.length === 0) return 'skipped';
  const { min, median, max } = stats(xs);
  const f = (v: number) => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${f(min)} / **${f(median)}** / ${f(max)}`;
};
console.log(`\nPOST /mutate, ${body.length} B AdmissionReview, ${RUNS} runs interleaved; each server on core ${SERVER_CORE} (taskset), wrk on core ${LOAD_CORE}`);
console.log(`machine: ${cpus().length} cores (nproc), ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}${nodeFlags.length > 0 ? `, webhook flags ${nodeFlags.join(' ')}` : ''}`);
console.log('\n| what (min / median / max) | vault-courier | vault-k8s v1.7.6 | ratio |');
console.log('|---|---:|---:|---:|');
for (const [label, pick, digits] of rows) {
  const a = courier.map(pick);
  const b = reference.map(pick);
  // A reference median of 0 (no other process on the core) has no ratio worth printing.
  const ratio = b.length === 0 || stats(b).median === 0 ? '' : `${(stats(a).median / stats(b).median).toFixed(2)}×`;
  console.log(`| ${label} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${ratio} |`);
}
const shared = [...courier, ...reference].filter((s) => s.otherCores > 0.05).length;
if (shared > 0) console.log(`\nwarning: in ${shared} of ${courier.length + reference.length} runs other processes took more than 5% of core ${SERVER_CORE}: throughput and latency are not the servers' own (rerun on an idle machine)`);
if (reference.length > 0) {
  const ratio = (pick: (s: Sample) => number) => stats(courier.map(pick)).median / stats(reference.map(pick)).median;
  const goals = [
    { what: 'max throughput', ratio: ratio((s) => s.max.perSecond), goal: '≥ 1.20×', met: (r: number) => r >= 1.2 },
    { what: 'p99 paced', ratio: ratio((s) => s.paced.p99Ms), goal: '≤ 0.80×', met: (r: number) => r <= 0.8 },
    { what: 'anonymous memory after load', ratio: ratio((s) => s.after.anonMiB), goal: '≤ 2.00×', met: (r: number) => r <= 2 },
  ];
  console.log(`\ngoals: ${goals.map((g) => `${g.what} ${g.ratio.toFixed(2)}× (goal ${g.goal}: ${g.met(g.ratio) ? 'met' : 'MISSED'})`).join('; ')}`);
}
