/**
 * The cluster's own network namespace. Every part of a cluster with a node runs inside it
 * through `nsenter --net` (never `ip netns exec`: that remounts /sys, so the kubelet loses
 * the cgroup mounts, and gives each process a mount namespace of its own, so containerd
 * would not see the volumes the kubelet mounts). The namespace is persisted by a bind
 * mount on /run/netns/<name> made by `unshare`, which, unlike `ip netns add`, leaves no
 * shared mount of /run/netns behind on the machine.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CourierError } from '@vault-courier/core';
import { NSENTER } from '../process.ts';

const run = promisify(execFile);

/** The node's address, on `lo` inside the namespace: the API server, Vault, PostgreSQL and DNS listen there. */
export const NODE_IP = '10.250.0.1';
/** The CNI bridge's range: pods get addresses here. */
export const POD_CIDR = '10.88.0.0/24';
export const SERVICE_CIDR = '10.96.0.0/16';
/** The `kubernetes` Service's ClusterIP (the first of SERVICE_CIDR): SAN of the API server's certificate. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const NETNS_DIR = '/run/netns';

export interface NetworkNamespace {
  readonly name: string;
  /** /run/netns/<name>: what `nsenter --net=` takes. */
  readonly path: string;
}

async function sh(what: string, file: string, args: readonly string[]): Promise<void> {
  try {
    await run(file, [...args]);
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? '';
    throw new CourierError('io', `could not ${what}: ${file} ${args.join(' ')}: ${stderr.trim()}`, { cause });
  }
}

export async function createNetworkNamespace(name: string): Promise<NetworkNamespace> {
  const ns = { name, path: `${NETNS_DIR}/${name}` };
  await mkdir(NETNS_DIR, { recursive: true });
  await writeFile(ns.path, '', { flag: 'wx' }).catch((cause: unknown) => {
    throw new CourierError('io', `network namespace ${name} exists already at ${ns.path}; a stale cluster is cleaned up on the next start, or remove it with: umount ${ns.path}; rm ${ns.path}`, { cause });
  });
  try {
    await sh(`create network namespace ${name}`, '/usr/bin/unshare', [`--net=${ns.path}`, '/bin/true']);
    const inside = (args: readonly string[]) => sh(`configure network namespace ${name}`, NSENTER, [`--net=${ns.path}`, '--', ...args]);
    await inside(['/usr/sbin/ip', 'link', 'set', 'lo', 'up']);
    await inside(['/usr/sbin/ip', 'addr', 'add', `${NODE_IP}/32`, 'dev', 'lo']);
    // Pods reach Services and the node's address through the bridge's gateway: routing.
    await inside(['/usr/sbin/sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  } catch (err) {
    await deleteNetworkNamespace(ns.path);
    throw err;
  }
  return ns;
}

/** Idempotent: unmounts and removes /run/netns/<name>; the namespace dies with its last process. */
export async function deleteNetworkNamespace(path: string): Promise<void> {
  await run('/usr/bin/umount', [path]).catch(() => undefined);
  await rm(path, { force: true });
}
