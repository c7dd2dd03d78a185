/**
 * One real node per machine at a time. The kubelet uses fixed paths whatever --root-dir
 * says (/var/lib/kubelet/device-plugins, /var/log/containers) and sets machine-wide
 * sysctls, and the next start's clean-up removes what a dead cluster left: two nodes at
 * once would share those paths and clean up each other. Test files otherwise run side by
 * side, so the devcluster takes this lock itself before a node starts and releases it
 * once the node's footprint is gone.
 *
 * Node has no flock(2): the lock file is opened here (close-on-exec, so no component
 * inherits it) and `flock(1)` is given that open file as fd 3. A flock lock belongs to the
 * open file, not the process: it stays held after flock(1) exits, for as long as this
 * process keeps the file open, and the kernel releases it when this process dies however
 * it dies. A crashed test file holds nothing.
 *
 * flock wakes its waiters in no particular order, and a file that starts one node after
 * another asks again the moment it released: a waiter could lose every time. So waiters
 * queue first: whoever holds `<lock>.queue` is the only one waiting on the lock itself, and
 * a file asking again queues behind it.
 *
 * A parent that holds the lock for a child's whole life (a test that starts `npm run
 * cluster` and kills it) says so with VAULT_COURIER_NODE_LOCK_HOLDER=<its pid>; only its
 * direct child takes that for the lock, so nothing further down inherits the claim.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { CourierError } from '@vault-courier/core';

export const HOLDER_ENV = 'VAULT_COURIER_NODE_LOCK_HOLDER';

export interface MachineLock {
  readonly path: string;
  /** Milliseconds spent waiting for another node to stop. */
  readonly waitedMs: number;
  /** Environment for a child process whose node this lock covers. */
  readonly childEnv: Readonly<Record<string, string>>;
  /** Idempotent. */
  release(): void;
}

/** Not /tmp/vc-node.lock, which callers may hold around a whole run of several nodes. */
export function machineLockPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.VAULT_COURIER_CACHE ?? path.join(homedir(), '.cache', 'vault-courier'), 'node.lock');
}

/** flock(1) on the open file `fd`; resolves with its exit code (0: locked, 1: busy with -n). */
function flockOnFd(fd: number, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/flock', [...args, '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (cause) => reject(new CourierError('io', `could not run /usr/bin/flock for the node lock: ${cause.message}; install util-linux`, { cause })));
    child.once('close', (code) => (code === 0 || code === 1 ? resolve(code) : reject(new CourierError('io', `flock on the node lock exited ${code}: ${stderr.trim()}`))));
  });
}

/** Asking again from the process that holds it would wait for itself forever. */
let heldHere = false;

function heldByParent(env: NodeJS.ProcessEnv): boolean {
  return env[HOLDER_ENV] !== undefined && Number(env[HOLDER_ENV]) === process.ppid;
}

/**
 * Waits until no other real node runs on this machine (`onWait` is told once, when it has
 * to wait), then holds the lock until release() or this process's exit.
 */
export async function acquireMachineLock(options: { onWait?: (lockPath: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<MachineLock> {
  const env = options.env ?? process.env;
  const lockPath = machineLockPath(env);
  const began = Date.now();
  if (heldByParent(env)) return { path: lockPath, waitedMs: 0, childEnv: {}, release: () => undefined };
  if (heldHere) throw new CourierError('config', 'this process already holds the node lock (a node of its own runs, or its stop left parts behind); stop it before starting another: one node per machine, see docs/real-parts.md');
  heldHere = true;
  mkdirSync(path.dirname(lockPath), { recursive: true });
  const queue = openSync(`${lockPath}.queue`, 'a');
  const fd = openSync(lockPath, 'a');
  let open = true;
  const release = () => {
    if (!open) return;
    closeSync(fd);
    open = false;
    heldHere = false;
  };
  let told = false;
  const lock = async (file: number) => {
    if ((await flockOnFd(file, ['--exclusive', '--nonblock'])) === 0) return;
    if (!told) options.onWait?.(lockPath);
    told = true;
    await flockOnFd(file, ['--exclusive']);
  };
  try {
    await lock(queue);
    await lock(fd);
  } catch (err) {
    release();
    throw err;
  } finally {
    closeSync(queue);
  }
  return { path: lockPath, waitedMs: Date.now() - began, childEnv: { [HOLDER_ENV]: String(process.pid) }, release };
}
