/**
 * The kubelet's cgroupRoot: one directory per cluster in every cgroup v1 hierarchy (and in
 * cgroup2 where mounted), so pod cgroups stay apart from the machine's and from other
 * clusters', and can be found and removed after the kubelet has gone.
 */
import { readdirSync, rmdirSync, statSync, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export const CGROUP_FS = '/sys/fs/cgroup';

/** Every hierarchy's mount directory (/sys/fs/cgroup/memory, ..., /sys/fs/cgroup/unified). */
export function hierarchies(root = CGROUP_FS): string[] {
  try {
    return readdirSync(root)
      .map((entry) => path.join(root, entry))
      .filter((dir) => {
        try {
          return statSync(dir).isDirectory() && readdirSync(dir).some((f) => f === 'cgroup.procs');
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/** The kubelet exits naming the missing paths unless cgroupRoot exists in every hierarchy first. */
export function createCgroupRoot(name: string): void {
  for (const hierarchy of hierarchies()) mkdirSync(path.join(hierarchy, name), { recursive: true });
}

function subtree(dir: string): string[] {
  let children: string[] = [];
  try {
    children = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .flatMap((e) => subtree(path.join(dir, e.name)));
  } catch {
    return [];
  }
  return [...children, dir];
}

function procsOf(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((line) => line !== '').map(Number);
  } catch {
    return []; // removed meanwhile
  }
}

/** Pids in any cgroup under `name`, in any hierarchy. */
export function pidsInCgroupRoot(name: string): number[] {
  return [...new Set(hierarchies().flatMap((hierarchy) => subtree(path.join(hierarchy, name)).flatMap(procsOf)))];
}

/** rmdir, deepest first; a cgroup that still holds a process stays (the caller kills first). */
export function removeCgroupRoot(name: string): string[] {
  const left: string[] = [];
  for (const hierarchy of hierarchies()) {
    for (const dir of subtree(path.join(hierarchy, name))) {
      try {
        rmdirSync(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
      }
    }
  }
  return left;
}

/** Names of cluster cgroup roots present on the machine (for stale-cluster clean-up). */
export function cgroupRootsWithPrefix(prefix: string): string[] {
  const names = new Set<string>();
  for (const hierarchy of hierarchies()) {
    try {
      for (const entry of readdirSync(hierarchy)) if (entry.startsWith(prefix)) names.add(entry);
    } catch {
      // unreadable hierarchy
    }
  }
  return [...names];
}
