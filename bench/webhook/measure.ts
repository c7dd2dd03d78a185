/**
 * What the webhook bench reads: CPU time and memory of a process from /proc, and one wrk run
 * (a load generator in C: one thread, epoll, microsecond latencies) pinned to its own core,
 * with wrk's own CPU time so the table shows it was not the bottleneck.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Fields of /proc/<pid>/stat after the command name (field 3 onwards), so index 0 is the state. */
function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
}

/** User + system CPU seconds of every thread of the process. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Busy seconds of one core, every process together (/proc/stat: all but idle and iowait). */
export function coreBusySeconds(core: number): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${core} `));
  if (line === undefined) throw new Error(`no cpu${core} in /proc/stat`);
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number) as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / TICKS_PER_SECOND;
}

export interface Memory {
  readonly rssMiB: number;
  /** RssAnon: heap, stacks, every private mapping not backed by a file. */
  readonly anonMiB: number;
  readonly pssMiB: number;
  readonly privateDirtyMiB: number;
}

function kiB(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (match === null) throw new Error(`no ${field} in /proc`);
  return Number(match[1]);
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    rssMiB: kiB(status, 'VmRSS') / 1024,
    anonMiB: kiB(status, 'RssAnon') / 1024,
    pssMiB: kiB(rollup, 'Pss') / 1024,
    privateDirtyMiB: kiB(rollup, 'Private_Dirty') / 1024,
  };
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Socket errors plus non-2xx answers: any is a failed run. */
  readonly errors: number;
  /** wrk's own CPU seconds per wall second (1 = one whole core). */
  readonly generatorCores: number;
}

export interface LoadOptions {
  readonly url: string;
  readonly bodyFile: string;
  readonly connections: number;
  readonly seconds: number;
  /** Per connection: wait this long after each answer before the next request (a paced, not saturating, load). */
  readonly delayMs?: number;
  /** The core wrk runs on. */
  readonly core: number;
  readonly dir: string;
}

// LuaJIT inside wrk: the body is read once; done() prints one machine-readable line.
const SCRIPT = `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb")); wrk.body = f:read("*a"); f:close()
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then function delay() return pause end end
function done(s, latency, requests)
  local e = s.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d\\n", s.requests, s.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

/** Whether wrk is on PATH (Debian: apt-get install wrk). */
export async function haveWrk(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = spawn('wrk', ['--version'], { stdio: 'ignore' });
    probe.once('error', () => resolve(false));
    probe.once('exit', () => resolve(true));
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const script = path.join(options.dir, 'post.lua');
  writeFileSync(script, SCRIPT);
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', '10s', '-s', script, options.url];
  // sh waits for wrk, then reads its own cutime/cstime: wrk's CPU, without polling a pid that may be gone.
  const wrapper = 'taskset -c "$0" wrk "$@"; status=$?; cat /proc/$$/stat; exit $status';
  const child = spawn('sh', ['-c', wrapper, String(options.core), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BENCH_BODY: options.bodyFile, BENCH_DELAY_MS: String(options.delayMs ?? 0) },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = /^BENCH (.*)$/m.exec(out);
  const stat = out.split('\n').find((l) => /^\d+ \(sh\)/.test(l));
  if (code !== 0 || line === null || stat === undefined) throw new Error(`wrk failed (exit ${code}): ${err.trim() || out.trim()}`);
  const [requests, durationUs, socketErrors, statusErrors, p50, p99, max] = line[1]!.split(' ').map(Number) as [number, number, number, number, number, number, number];
  const fields = statFields(stat);
  const seconds = durationUs / 1e6;
  return {
    requests,
    seconds,
    perSecond: requests / seconds,
    p50Ms: p50 / 1000,
    p99Ms: p99 / 1000,
    maxMs: max / 1000,
    errors: socketErrors + statusErrors,
    generatorCores: (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND / seconds,
  };
}
