/**
 * Child processes of the dev cluster: each in its own process group (so its children die
 * with it), output appended to a log file, stopped with a signal then SIGKILL. Every live
 * group is also killed when this Node process exits or is interrupted, so a failing or
 * cancelled test leaves nothing running.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CourierError } from '@vault-courier/core';
import { requireExecutable } from './binaries.ts';

export interface ProcessSpec {
  /** Component name, used in errors: `etcd`, `kube-apiserver`, ... */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logPath: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Run as this user and group instead of ours (PostgreSQL refuses to run as root). */
  readonly uid?: number;
  readonly gid?: number;
  /** The signal that asks for a quick clean shutdown (PostgreSQL: SIGINT). */
  readonly stopSignal?: NodeJS.Signals;
  /** Run inside this network namespace (/run/netns/<name>), entered with nsenter. */
  readonly netns?: string;
}

/** Enters a network namespace only (never `ip netns exec`: see node/netns.ts). */
export const NSENTER = '/usr/bin/nsenter';

/** The argv to spawn: nsenter enters the namespace, then drops to uid/gid, then execs the command. */
export function spawnArgv(spec: ProcessSpec): { command: string; args: string[]; uid?: number; gid?: number } {
  if (spec.netns === undefined) return { command: spec.command, args: [...spec.args], uid: spec.uid, gid: spec.gid };
  const drop = spec.uid === undefined ? [] : [`--setuid=${spec.uid}`, `--setgid=${spec.gid ?? spec.uid}`];
  return { command: NSENTER, args: [`--net=${spec.netns}`, ...drop, '--', spec.command, ...spec.args] };
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** What it was started with: startProcess(spec) starts it again, same flags, ports and data. */
  readonly spec: ProcessSpec;
  /** Resolves when the process has exited, whoever stopped it. */
  readonly exited: Promise<ExitStatus>;
  exitStatus(): ExitStatus | undefined;
  /** Sends the stop signal to the group, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** SIGSTOP to the group: the process stays, its sockets accept connections, nothing answers. */
  pause(): void;
  /** SIGCONT to the group. */
  resume(): void;
}

const live = new Map<number, string>();
const tempDirs = new Set<string>();
/** Synchronous removals of what processes leave on the machine (a node's mounts, cgroups, namespace). */
const finalizers = new Set<() => void>();
let handlersInstalled = false;
let signalsOwnedByMain = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Synchronous: runs from 'exit', where nothing asynchronous happens any more. */
function killEverything(): void {
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
  live.clear();
  for (const finalize of finalizers) finalize();
  finalizers.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killEverything);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      // A main that stops its cluster in order (pods first, so sidecars revoke their
      // tokens) handles the signal itself; the 'exit' handler still catches what is left.
      if (signalsOwnedByMain && signal !== 'SIGHUP') return;
      killEverything();
      // Re-raise with the default disposition so our parent sees the usual exit status.
      process.kill(process.pid, signal);
    });
  }
}

/**
 * A process group killed (SIGKILL) if this Node process exits or is interrupted first:
 * the one registry for the dev cluster's components and the runner's containers, so one
 * set of signal handlers cleans up everything. Call the returned function once it exited.
 */
export function trackProcessGroup(pid: number, name: string): () => void {
  installHandlers();
  live.set(pid, name);
  return () => live.delete(pid);
}

/**
 * For a main (the demo, `npm run cluster`) that stops in order on SIGINT and SIGTERM
 * itself: the kill-everything handler then stays out of the way of those two signals.
 */
export function ownSignals(): void {
  installHandlers();
  signalsOwnedByMain = true;
}

/** Runs `finalize` synchronously when this process exits, unless removed first (call the returned function). */
export function registerFinalizer(finalize: () => void): () => void {
  installHandlers();
  finalizers.add(finalize);
  return () => finalizers.delete(finalize);
}

/** A directory removed when this process exits, if `stop()` did not remove it first. */
export function registerTempDir(dir: string): void {
  installHandlers();
  tempDirs.add(dir);
}

export function unregisterTempDir(dir: string): void {
  tempDirs.delete(dir);
}

export function startProcess(spec: ProcessSpec): ManagedProcess {
  requireExecutable(spec.name, spec.command);
  installHandlers();
  const log = openSync(spec.logPath, 'a');
  let child;
  const argv = spawnArgv(spec);
  try {
    child = spawn(argv.command, argv.args, {
      cwd: spec.cwd,
      env: spec.env ?? {},
      stdio: ['ignore', log, log],
      detached: true,
      uid: argv.uid,
      gid: argv.gid,
    });
  } finally {
    closeSync(log);
  }
  const pid = child.pid;
  if (pid === undefined) throw new CourierError('io', `${spec.name} could not be started from ${spec.command}; see ${spec.logPath}`);
  const untrack = trackProcessGroup(pid, spec.name);
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      status = { code, signal };
      untrack();
      // Children of the leader (PostgreSQL's backends) may outlive it for a moment.
      killGroup(pid, 'SIGKILL');
      resolve(status);
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    name: spec.name,
    pid,
    logPath: spec.logPath,
    spec,
    exited,
    exitStatus: () => status,
    stop(graceMs = 3000) {
      stopping ??= (async () => {
        if (status !== undefined) return;
        killGroup(pid, spec.stopSignal ?? 'SIGTERM');
        // A paused group would hold the stop signal pending until SIGKILL.
        killGroup(pid, 'SIGCONT');
        const timer = sleep(graceMs).then(() => 'timeout' as const);
        if ((await Promise.race([exited, timer])) === 'timeout') {
          killGroup(pid, 'SIGKILL');
          await exited;
        }
      })();
      return stopping;
    },
    pause: () => {
      if (status === undefined) killGroup(pid, 'SIGSTOP');
    },
    resume: () => {
      if (status === undefined) killGroup(pid, 'SIGCONT');
    },
  };
}

export function tailOfFile(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Whether a log says the process could not bind its port (another process took it). */
export function diedOfPortClash(logTail: string): boolean {
  return /address already in use|bind: address|could not bind|EADDRINUSE/i.test(logTail);
}

function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

/** A component died; the message carries the tail of its log. */
export class ComponentDiedError extends CourierError {
  readonly component: string;
  readonly logPath: string;
  /** It could not bind a port: starting it again on other ports may work. */
  readonly portClash: boolean;

  constructor(proc: ManagedProcess, status: ExitStatus, while_: string) {
    const tail = tailOfFile(proc.logPath);
    const portClash = diedOfPortClash(tail);
    super('io', `${proc.name} ${describeExit(status)} ${while_}; last lines of ${proc.logPath}:\n${tail}`, { retryable: portClash });
    this.name = 'ComponentDiedError';
    this.component = proc.name;
    this.logPath = proc.logPath;
    this.portClash = portClash;
  }
}

/**
 * Polls `probe` until it answers true. Throws with the tail of the log if the process dies
 * first, and with the last probe error if `timeoutMs` passes.
 */
export async function waitUntilReady(proc: ManagedProcess, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const status = proc.exitStatus();
    if (status !== undefined) throw new ComponentDiedError(proc, status, 'before it was ready');
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new CourierError('io', `${proc.name} was not ready within ${timeoutMs} ms; last lines of ${proc.logPath}:\n${tailOfFile(proc.logPath)}`, {
        cause: lastError,
        retryable: true,
      });
    }
    await sleep(50);
  }
}

/**
 * Starts a component on fresh ports, once more per attempt when it died because one of
 * its ports was taken between choosing it and binding it.
 */
export async function withPortRetry<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof ComponentDiedError && err.portClash) || attempt >= attempts) throw err;
    }
  }
}

/** Resident memory of every process in the group led by `pid`, in bytes (Linux /proc). */
export function groupRssBytes(pid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command name: state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pid) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      if (rss?.[1] !== undefined) total += Number(rss[1]) * 1024;
    } catch {
      // The process exited while we looked.
    }
  }
  return total;
}
