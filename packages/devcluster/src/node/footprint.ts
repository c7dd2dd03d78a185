/**
 * Everything a cluster with a node leaves on the machine while it runs, and its removal:
 * used by stop() after the orderly shutdown, by the exit handler, and by the next start
 * for a cluster whose orchestrator was killed (SIGKILL leaves no handler a chance).
 *
 * A cluster is found by its directory (owner.json names the orchestrator's pid and start
 * time, the namespace and the cgroup root); its processes by that namespace, that cgroup
 * root, and command lines naming the directory; its mounts by path.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cgroupRootsWithPrefix, pidsInCgroupRoot, removeCgroupRoot } from './cgroups.ts';
import { restoreSysctls, type SysctlValues } from './machine.ts';
import { NETNS_DIR } from './netns.ts';

export const CLUSTER_PREFIX = 'vault-courier-';
export const DIR_PREFIX = `${CLUSTER_PREFIX}devcluster-`;
const OWNER_FILE = 'owner.json';
const SYSCTL_FILE = 'machine-sysctls.json';
/** Paths the kubelet uses whatever --root-dir says. */
const KUBELET_FIXED_LOG_DIR = '/var/log/containers';
const KUBELET_DEVICE_PLUGINS = '/var/lib/kubelet/device-plugins';
/** containerd's shims put their sockets here whatever its state directory is. */
const SHIM_SOCKET_DIR = '/run/containerd/s';

export interface Footprint {
  readonly dir: string;
  /** /run/netns/<name> */
  readonly netnsPath: string;
  readonly cgroupName: string;
}

interface Owner extends Footprint {
  readonly pid: number;
  readonly startTicks: string;
}

function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function recordOwner(footprint: Footprint): void {
  const owner: Owner = { ...footprint, pid: process.pid, startTicks: startTicks(process.pid) ?? '' };
  writeFileSync(path.join(footprint.dir, OWNER_FILE), JSON.stringify(owner));
}

export function saveSysctls(dir: string, values: SysctlValues): void {
  writeFileSync(path.join(dir, SYSCTL_FILE), JSON.stringify(values));
}

function netnsInode(netnsPath: string): number | undefined {
  try {
    return statSync(netnsPath).ino;
  } catch {
    return undefined;
  }
}

/** Pids of every process that belongs to the cluster, ourselves excepted. */
export function clusterPids(footprint: Footprint): number[] {
  const inode = netnsInode(footprint.netnsPath);
  const pids = new Set(pidsInCgroupRoot(footprint.cgroupName));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      if (inode !== undefined && readlinkSync(`/proc/${entry}/ns/net`) === `net:[${inode}]`) pids.add(pid);
      else if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(footprint.dir)) pids.add(pid);
    } catch {
      // gone meanwhile
    }
  }
  pids.delete(process.pid);
  return [...pids];
}

function killAll(footprint: Footprint): number[] {
  const deadline = Date.now() + 10_000;
  let pids = clusterPids(footprint);
  while (pids.length > 0 && Date.now() < deadline) {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    spawnSync('/bin/sleep', ['0.1']);
    pids = clusterPids(footprint);
  }
  return pids;
}

/** Mount points under the cluster's directory (and its namespace file), deepest first. */
export function clusterMounts(footprint: Footprint, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === footprint.dir || p.startsWith(`${footprint.dir}/`) || p === footprint.netnsPath);
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

function unmountAll(footprint: Footprint): string[] {
  for (let round = 0; round < 5; round++) {
    const mounts = clusterMounts(footprint);
    if (mounts.length === 0) return [];
    for (const mount of mounts) spawnSync('/usr/bin/umount', ['-l', mount]);
  }
  return clusterMounts(footprint);
}

/** Removes `dir` if it is empty; a directory another process uses is left alone. */
function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
  } catch {
    // absent
  }
}

function removeOwnLogLinks(footprint: Footprint): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(KUBELET_FIXED_LOG_DIR);
  } catch {
    return; // never created
  }
  for (const entry of entries) {
    const link = path.join(KUBELET_FIXED_LOG_DIR, entry);
    try {
      if (lstatSync(link).isSymbolicLink() && readlinkSync(link).startsWith(footprint.dir)) unlinkSync(link);
    } catch {
      // removed meanwhile
    }
  }
}

/**
 * A shim killed with SIGKILL leaves its socket in containerd's fixed directory. One that no
 * process has bound any more (not in /proc/net/unix) serves nothing: remove it.
 */
function removeDeadShimSockets(): void {
  let sockets: string[] = [];
  try {
    sockets = readdirSync(SHIM_SOCKET_DIR);
  } catch {
    return;
  }
  const bound = new Set(readFileSync('/proc/net/unix', 'utf8').split('\n').map((line) => line.split(' ').pop() ?? ''));
  for (const socket of sockets) {
    const file = path.join(SHIM_SOCKET_DIR, socket);
    if (!bound.has(file)) rmSync(file, { force: true });
  }
}

function removeKubeletFixedPaths(footprint: Footprint): void {
  removeOwnLogLinks(footprint);
  removeDeadShimSockets();
  removeIfEmpty(SHIM_SOCKET_DIR);
  removeIfEmpty(path.dirname(SHIM_SOCKET_DIR));
  // The device-plugin socket is shared by every kubelet on the machine: only when none runs.
  if (spawnSync('/usr/bin/pgrep', ['-x', 'kubelet']).status === 0) return;
  rmSync(path.join(KUBELET_DEVICE_PLUGINS, 'kubelet.sock'), { force: true });
  for (const dir of [KUBELET_DEVICE_PLUGINS, path.dirname(KUBELET_DEVICE_PLUGINS), KUBELET_FIXED_LOG_DIR]) removeIfEmpty(dir);
}

export interface Leftovers {
  readonly pids: readonly number[];
  readonly mounts: readonly string[];
  readonly cgroups: readonly string[];
}

/**
 * Removes the whole footprint: processes (SIGKILL), mounts, cgroups, the namespace, the
 * kubelet's fixed paths, the directory; restores the sysctls the kubelet set. Synchronous,
 * so the exit handler can run it. Returns what could not be removed (empty when clean).
 */
export function removeFootprint(footprint: Footprint, options: { keepDir?: boolean } = {}): Leftovers {
  const pids = killAll(footprint);
  const mounts = unmountAll(footprint);
  const cgroups = removeCgroupRoot(footprint.cgroupName);
  spawnSync('/usr/bin/umount', [footprint.netnsPath]);
  rmSync(footprint.netnsPath, { force: true });
  removeKubeletFixedPaths(footprint);
  try {
    restoreSysctls(JSON.parse(readFileSync(path.join(footprint.dir, SYSCTL_FILE), 'utf8')) as SysctlValues);
  } catch {
    // the kubelet never started
  }
  if (options.keepDir !== true && mounts.length === 0) rmSync(footprint.dir, { recursive: true, force: true });
  return { pids, mounts, cgroups };
}

function ownerAlive(owner: Owner): boolean {
  return owner.pid !== process.pid && startTicks(owner.pid) === owner.startTicks;
}

/**
 * Clusters of earlier runs whose orchestrator is gone (killed with SIGKILL, a crashed
 * test): removed whole. A cluster whose orchestrator still runs is left alone, and so is
 * `starting`, the caller's own (any other of this process's clusters is an earlier one).
 */
export function removeStaleClusters(base = tmpdir(), starting?: Footprint): Footprint[] {
  const removed: Footprint[] = [];
  const live = new Set<string>(starting === undefined ? [] : [path.basename(starting.netnsPath), starting.cgroupName]);
  for (const entry of existsSync(base) ? readdirSync(base) : []) {
    if (!entry.startsWith(DIR_PREFIX)) continue;
    const dir = path.join(base, entry);
    if (dir === starting?.dir) continue;
    let owner: Owner;
    try {
      owner = JSON.parse(readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as Owner;
    } catch {
      continue;
    }
    if (ownerAlive(owner)) {
      live.add(path.basename(owner.netnsPath));
      live.add(owner.cgroupName);
      continue;
    }
    removeFootprint(owner);
    removed.push(owner);
  }
  // A namespace or cgroup root whose directory went first (rm -rf of /tmp).
  const orphanNetns = existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR).filter((n) => n.startsWith(CLUSTER_PREFIX) && !live.has(n)) : [];
  const orphanCgroups = cgroupRootsWithPrefix(CLUSTER_PREFIX).filter((n) => !live.has(n));
  for (const name of new Set([...orphanNetns, ...orphanCgroups])) {
    const footprint = { dir: path.join(base, `${DIR_PREFIX}${name.slice(CLUSTER_PREFIX.length)}`), netnsPath: path.join(NETNS_DIR, name), cgroupName: name };
    removeFootprint(footprint);
    removed.push(footprint);
  }
  return removed;
}
