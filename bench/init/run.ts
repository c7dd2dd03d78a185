/**
 * Init container wall time, process start to exit, delivering 3 secrets (2 KV v2, 1
 * database credential) against the dev cluster's real Vault with kubernetes auth:
 * vault-courier's init next to `vault agent` configured as vault-k8s configures its init
 * container (exit_after_auth, auto_auth kubernetes with the same JWT file, templates
 * rendering the same 3 secrets as JSON). Runs alternate between the sides so machine noise
 * hits all alike. Our side twice: from the startup snapshot the image runs, and from the bundle.
 * Usage: bash scripts/node.sh bench/init/run.ts [runs]   (default 20)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDevCluster } from '@vault-courier/devcluster';
import { defaultBinaries } from '@vault-courier/devcluster/binaries';
import { agentConfig, checkDelivered, initEnv, setUpVault } from '../vault-setup.ts';

const RUNS = Number(process.argv[2] ?? 20);
const ROOT = path.resolve(import.meta.dirname, '../..');
const SNAPSHOT = path.join(ROOT, 'packages/init/dist/init.blob');
const BUNDLE = path.join(ROOT, 'packages/init/dist/init.mjs');
/**
 * Our side: what the image runs (the startup snapshot), and the plain bundle it is made
 * from, so the snapshot's share is measured in the same run. The source when nothing is built.
 */
const VARIANTS: readonly { tool: string; args: readonly string[] }[] = existsSync(SNAPSHOT)
  ? [
      { tool: 'vault-courier init (snapshot, as the image runs it)', args: ['--snapshot-blob', SNAPSHOT] },
      { tool: 'vault-courier init (bundle, no snapshot)', args: [BUNDLE] },
    ]
  : [{ tool: 'vault-courier init (source)', args: [path.join(ROOT, 'packages/init/src/main.ts')] }];
const GNU_TIME = '/usr/bin/time';

function timeProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string; stderr: string }> {
  const started = performance.now();
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, stdout, stderr });
      else reject(new Error(`${path.basename(command)} exited ${code}: ${stderr.slice(-500)}`));
    });
  });
}

/** From our init's last log line: the time spent logging in, fetching and writing. */
function deliveryMs(stdout: string): number {
  const line = stdout.split('\n').find((l) => l.includes('"all secrets delivered"'));
  if (line === undefined) throw new Error('vault-courier init did not log "all secrets delivered"');
  return (JSON.parse(line) as { elapsedMs: number }).elapsedMs;
}

function stats(samples: readonly number[]): { median: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? (sorted[Math.floor(mid)] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
  return { median, p95: at(0.95) };
}

const cluster = await startDevCluster({ vault: true, postgres: true });
// The pod's volumes are emptyDir medium Memory: tmpfs here too, for both tools.
const work = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'bench-init-'));
try {
  const setup = await setUpVault(cluster, work, { tokenTtl: 900, tokenMaxTtl: 900, dbTtl: 600 });

  const vaultBinary = defaultBinaries().vault;
  const ours = VARIANTS.map(() => ({ wall: [] as number[], delivery: [] as number[] }));
  const agent: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [v, variant] of VARIANTS.entries()) {
      const secretsDir = path.join(work, `run-${i}-${v}`, 'secrets');
      const stateDir = path.join(work, `run-${i}-${v}`, 'state');
      for (const d of [secretsDir, stateDir]) mkdirSync(d, { recursive: true });
      const ourRun = await timeProcess(process.execPath, variant.args, initEnv(setup, secretsDir, stateDir));
      ours[v]?.wall.push(ourRun.ms);
      ours[v]?.delivery.push(deliveryMs(ourRun.stdout));
      checkDelivered(secretsDir, variant.tool);
    }
    const run = path.join(work, `run-${i}`);
    const agentDir = path.join(run, 'agent');
    mkdirSync(agentDir, { recursive: true });
    const config = path.join(run, 'agent.hcl');
    writeFileSync(config, agentConfig(setup, agentDir, { exitAfterAuth: true }));
    agent.push((await timeProcess(vaultBinary, ['agent', `-config=${config}`, '-log-level=warn'], { PATH: '/usr/bin:/bin', HOME: run })).ms);
    checkDelivered(agentDir, 'vault agent');
  }

  const a = stats(agent);
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  console.log(`\ninit container wall time, process start to exit, 3 secrets (2 KV v2, 1 database), ${RUNS} runs each, interleaved`);
  console.log(`vault-courier init: node ${process.version}; vault agent: ${vaultBinary}\n`);
  console.table([
    ...VARIANTS.flatMap((variant, v) => {
      const o = stats(ours[v]?.wall ?? []);
      const d = stats(ours[v]?.delivery ?? []);
      return [
        { tool: variant.tool, median: fmt(o.median), p95: fmt(o.p95), 'median / agent': (o.median / a.median).toFixed(2) },
        { tool: '  of which login + fetch + write', median: fmt(d.median), p95: fmt(d.p95), 'median / agent': '' },
      ];
    }),
    { tool: 'vault agent (exit_after_auth)', median: fmt(a.median), p95: fmt(a.p95), 'median / agent': '1.00' },
  ]);

  // Peak RSS (what a memory limit must leave room for), in a pass of its own so the timed
  // runs above carry no wrapper: GNU time's %M, where it is installed.
  if (existsSync(GNU_TIME)) {
    const peakMiB = async (command: string, args: readonly string[], env: (run: string) => NodeJS.ProcessEnv) => {
      const kib: number[] = [];
      for (let i = 0; i < 3; i++) {
        const run = mkdtempSync(path.join(work, 'peak-'));
        for (const d of ['secrets', 'state']) mkdirSync(path.join(run, d));
        const { stderr } = await timeProcess(GNU_TIME, ['-f', 'peak %M', command, ...args], env(run));
        kib.push(Number(/peak (\d+)/.exec(stderr)?.[1]));
      }
      return (Math.max(...kib) / 1024).toFixed(1);
    };
    const rows = [];
    for (const variant of VARIANTS) rows.push({ tool: variant.tool, 'peak RSS MiB, max of 3': await peakMiB(process.execPath, variant.args, (run) => initEnv(setup, path.join(run, 'secrets'), path.join(run, 'state'))) });
    const config = path.join(work, 'peak-agent.hcl');
    writeFileSync(config, agentConfig(setup, mkdtempSync(path.join(work, 'peak-agent-')), { exitAfterAuth: true }));
    rows.push({ tool: 'vault agent (exit_after_auth)', 'peak RSS MiB, max of 3': await peakMiB(vaultBinary, ['agent', `-config=${config}`, '-log-level=warn'], (run) => ({ PATH: '/usr/bin:/bin', HOME: run })) });
    console.table(rows);
  } else console.log(`(no ${GNU_TIME}: peak memory not measured)`);
} finally {
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
}
