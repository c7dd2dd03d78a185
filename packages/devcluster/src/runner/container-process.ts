/**
 * One container run as a local process: its own process group (so a signal reaches
 * whatever it started), output appended line by line to the container's log file.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { trackProcessGroup } from '../process.ts';
import type { ContainerPlan } from './pod-plan.ts';

export interface ContainerExit {
  /** 128 + the signal's number when a signal ended it, as a container runtime reports. */
  readonly exitCode: number;
  readonly signal: string | null;
  readonly finishedAt: Date;
}

export interface ContainerProcess {
  readonly pid: number;
  readonly startedAt: Date;
  readonly exited: Promise<ContainerExit>;
  /** Signals the process group; a process already gone is not an error. */
  signal(signal: NodeJS.Signals): void;
}

export interface SpawnOptions {
  readonly cwd: string;
  readonly logFile: string;
  readonly onLine?: (line: string) => void;
}

/** The exit code a container runtime reports for a process ended by `signal`. */
export function exitCodeFor(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal === null ? undefined : constants.signals[signal];
  return 128 + (number ?? 0);
}

export function spawnContainer(plan: ContainerPlan, options: SpawnOptions): ContainerProcess {
  const [file, ...args] = plan.argv;
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(file ?? '', args, { cwd: options.cwd, env: { ...plan.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid ?? 0;
  // Nothing outlives the runner's process, even on Ctrl-C: the same registry as the cluster's.
  const untrack = pid === 0 ? () => undefined : trackProcessGroup(pid, plan.argv.join(' '));
  const pipe = (stream: Readable | null): void => {
    if (stream === null) return;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      log.write(`${line}\n`);
      options.onLine?.(line);
    });
  };
  pipe(child.stdout);
  pipe(child.stderr);
  const exited = new Promise<ContainerExit>((resolve) => {
    child.once('error', (err) => {
      log.write(`process runner: cannot start ${plan.argv.join(' ')}: ${err.message}\n`);
      if (child.pid === undefined) resolve({ exitCode: 127, signal: null, finishedAt: new Date() });
    });
    child.once('close', (code, signal) => {
      untrack();
      log.end();
      resolve({ exitCode: exitCodeFor(code, signal), signal, finishedAt: new Date() });
    });
  });
  return {
    pid,
    startedAt: new Date(),
    exited,
    signal(signal) {
      if (pid === 0) return;
      try {
        process.kill(-pid, signal);
      } catch {
        // already gone
      }
    },
  };
}
