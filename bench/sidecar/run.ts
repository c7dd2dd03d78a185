/**
 * The sidecar's cost over a pod's idle life: private memory (RssAnon from
 * /proc/<pid>/status, Pss and Private_Dirty from /proc/<pid>/smaps_rollup) and CPU time
 * over an idle window in which the Vault token is renewed (token TTL 30 s: about every
 * 20 s for both tools), next to `vault agent` run as vault-k8s runs its sidecar (auto_auth
 * kubernetes, templates for the same 3 secrets, renewing, never exiting). Our sidecar
 * runs as its image runs it, then under each V8 flag set in FLAG_SETS, all side by side
 * in the same window. Each process runs its own copy of its binary, so Pss does not
 * share the binary's pages with the other processes of the run (or of the machine).
 * Usage: bash scripts/node.sh bench/sidecar/run.ts [--quick]   (300 s idle; --quick: 30 s)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SIDECAR_NODE_FLAGS } from '@vault-courier/core/admission/containers';
import { startDevCluster } from '@vault-courier/devcluster';
import { defaultBinaries } from '@vault-courier/devcluster/binaries';
import { agentConfig, checkDelivered, initEnv, setUpVault } from '../vault-setup.ts';

const QUICK = process.argv.includes('--quick');
const IDLE_SECONDS = QUICK ? 30 : 300;
/** Start-up (login, first render, the first GC) is not idle: the window opens after it. */
const SETTLE_SECONDS = 5;
const TOKEN_TTL_SECONDS = 30;
const ROOT = path.resolve(import.meta.dirname, '../..');
const SIDECAR = existsSync(path.join(ROOT, 'packages/sidecar/dist/sidecar.mjs')) ? path.join(ROOT, 'packages/sidecar/dist/sidecar.mjs') : path.join(ROOT, 'packages/sidecar/src/main.ts');
const INIT = path.join(ROOT, 'packages/init/src/main.ts');
/** Our sidecar as the injected container runs it first; then the levers measured beside it. */
const FLAG_SETS: readonly { label: string; flags: readonly string[]; env?: NodeJS.ProcessEnv }[] = [
  { label: 'as injected', flags: SIDECAR_NODE_FLAGS },
  { label: 'no V8 flags', flags: [] },
  { label: '--lite-mode', flags: ['--lite-mode'] },
  { label: '--jitless', flags: ['--jitless'] },
  { label: '--max-semi-space-size=1', flags: ['--max-semi-space-size=1'] },
  { label: '--lite-mode --max-semi-space-size=1', flags: ['--lite-mode', '--max-semi-space-size=1'] },
  { label: '--lite-mode --single-threaded', flags: ['--lite-mode', '--single-threaded'] },
  { label: '--lite-mode --v8-pool-size=1, UV_THREADPOOL_SIZE=1, MALLOC_ARENA_MAX=1', flags: ['--lite-mode', '--v8-pool-size=1'], env: { UV_THREADPOOL_SIZE: '1', MALLOC_ARENA_MAX: '1' } },
];

interface Sample {
  readonly rssAnonKiB: number;
  readonly rssKiB: number;
  readonly pssKiB: number;
  readonly privateDirtyKiB: number;
  readonly cpuMs: number;
}

function field(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /proc`);
  return Number(m[1]);
}

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  // Nanoseconds on a CPU, summed over every thread (V8's and libuv's, Go's): finer than
  // /proc/<pid>/stat's 10 ms ticks, which round an idle window's few ms to 0 or 10.
  const tasks = readdirSync(`/proc/${pid}/task`);
  const ns = tasks.reduce((sum, t) => sum + Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]), 0);
  return { rssAnonKiB: field(status, 'RssAnon'), rssKiB: field(status, 'VmRSS'), pssKiB: field(rollup, 'Pss'), privateDirtyKiB: field(rollup, 'Private_Dirty'), cpuMs: ns / 1e6 };
}

interface Side {
  readonly tool: string;
  readonly child: ChildProcess;
  output: string;
  /** Log lines that say a renewal of the Vault token succeeded. */
  readonly renewal: RegExp;
}

function startSide(tool: string, binary: string, args: readonly string[], env: NodeJS.ProcessEnv, renewal: RegExp): Side {
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const side: Side = { tool, child, output: '', renewal };
  const keep = (c: Buffer) => (side.output += c.toString());
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return side;
}

function run(binary: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(binary)} exited ${code}: ${stderr.slice(-500)}`))));
  });
}

const mib = (kib: number) => (kib / 1024).toFixed(1);

const cluster = await startDevCluster({ vault: true, postgres: true });
// Binary copies on disk; the pod's volumes on tmpfs, as emptyDir medium Memory is.
const bins = mkdtempSync(path.join(tmpdir(), 'bench-sidecar-bin-'));
const work = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'bench-sidecar-'));
const sides: Side[] = [];
try {
  const setup = await setUpVault(cluster, work, { tokenTtl: TOKEN_TTL_SECONDS, tokenMaxTtl: 86_400, dbTtl: 3600 });
  const evictJwt = path.join(work, 'evict-jwt');
  writeFileSync(evictJwt, 'not-used-while-idle', { mode: 0o400 });

  for (const [i, set] of FLAG_SETS.entries()) {
    const pod = path.join(work, `ours-${i}`);
    const [secretsDir, stateDir] = [path.join(pod, 'secrets'), path.join(pod, 'state')];
    for (const d of [secretsDir, stateDir]) mkdirSync(d, { recursive: true });
    // The init container of this pod: a token and leases of its own for this sidecar.
    await run(process.execPath, [INIT], initEnv(setup, secretsDir, stateDir));
    checkDelivered(secretsDir, 'vault-courier init');
    const node = path.join(bins, `node-${i}`);
    copyFileSync(process.execPath, node);
    sides.push(
      startSide(`vault-courier sidecar, ${set.label}`, node, [...set.flags, SIDECAR], {
        VAULT_COURIER_VAULT_ADDR: setup.addr,
        VAULT_COURIER_STATE_DIR: stateDir,
        VAULT_COURIER_EVICT_JWT_PATH: evictJwt,
        // Never called while idle: the database lease's deadline is 40 min away.
        VAULT_COURIER_SERVICE_URL: 'https://127.0.0.1:9',
        VAULT_COURIER_POD_NAME: `web-${i}`,
        VAULT_COURIER_POD_NAMESPACE: 'shop',
        VAULT_COURIER_POD_UID: `uid-${i}`,
        VAULT_COURIER_GRACE_PERIOD_SECONDS: '30',
        ...set.env,
      }, /"msg":"Vault token renewed/g),
    );
  }
  // Node's floor: the same binary and flags, idle, with no code of ours.
  const bare = path.join(bins, 'node-bare');
  copyFileSync(process.execPath, bare);
  sides.push(startSide('bare node --lite-mode (the floor)', bare, ['--lite-mode', '-e', 'setInterval(() => {}, 1e6)'], {}, /(?!)/g));
  const vault = path.join(bins, 'vault');
  copyFileSync(defaultBinaries().vault, vault);
  const agentDir = path.join(work, 'agent');
  mkdirSync(agentDir);
  const config = path.join(work, 'agent.hcl');
  writeFileSync(config, agentConfig(setup, agentDir, { exitAfterAuth: false }));
  sides.push(startSide('vault agent (vault-k8s sidecar)', vault, ['agent', `-config=${config}`, '-log-level=info'], { PATH: '/usr/bin:/bin', HOME: work }, /renewed auth token/g));

  await sleep(SETTLE_SECONDS * 1000);
  checkDelivered(agentDir, 'vault agent');
  for (const s of sides) if (s.child.exitCode !== null) throw new Error(`${s.tool} exited ${s.child.exitCode}: ${s.output.slice(-800)}`);
  const before = new Map(sides.map((s) => [s, sample(s.child.pid ?? 0)]));
  const renewedBefore = new Map(sides.map((s) => [s, s.output.match(s.renewal)?.length ?? 0]));
  console.log(`idle for ${IDLE_SECONDS} s, Vault token TTL ${TOKEN_TTL_SECONDS} s ...`);
  await sleep(IDLE_SECONDS * 1000);
  for (const s of sides) if (s.child.exitCode !== null) throw new Error(`${s.tool} exited ${s.child.exitCode}: ${s.output.slice(-800)}`);
  const after = new Map(sides.map((s) => [s, sample(s.child.pid ?? 0)]));

  const agentSide = sides.at(-1) as Side;
  const agentAfter = after.get(agentSide) as Sample;
  const agentIdleCpu = agentAfter.cpuMs - (before.get(agentSide) as Sample).cpuMs;
  console.log(`\nsidecar, idle ${IDLE_SECONDS} s after a ${SETTLE_SECONDS} s start, 3 secrets (2 KV v2, 1 database), node ${process.version}, ${path.relative(ROOT, SIDECAR)}; ${defaultBinaries().vault}`);
  console.log('memory at the end of the window; CPU during it, every thread; ratios against vault agent\n');
  console.table(
    sides.map((s) => {
      const a = after.get(s) as Sample;
      const idleCpu = a.cpuMs - (before.get(s) as Sample).cpuMs;
      return {
        tool: s.tool,
        'RssAnon MiB': mib(a.rssAnonKiB),
        'Private_Dirty MiB': mib(a.privateDirtyKiB),
        'Pss MiB': mib(a.pssKiB),
        'RSS MiB': mib(a.rssKiB),
        'idle CPU ms': idleCpu.toFixed(1),
        'start CPU ms': (before.get(s) as Sample).cpuMs.toFixed(0),
        renewals: (s.output.match(s.renewal)?.length ?? 0) - (renewedBefore.get(s) ?? 0),
        'RssAnon ×': (a.rssAnonKiB / agentAfter.rssAnonKiB).toFixed(2),
        'Pss ×': (a.pssKiB / agentAfter.pssKiB).toFixed(2),
        'idle CPU ×': agentIdleCpu > 0 ? (idleCpu / agentIdleCpu).toFixed(2) : '-',
      };
    }),
  );
} finally {
  for (const s of sides) s.child.kill('SIGTERM');
  await Promise.all(sides.map((s) => (s.child.exitCode !== null || s.child.signalCode !== null ? undefined : new Promise((r) => s.child.once('close', r)))));
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(bins, { recursive: true, force: true });
}
