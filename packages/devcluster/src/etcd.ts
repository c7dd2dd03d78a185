/** etcd for the API server: one member, loopback only, no fsync (state is throw-away). */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { probe } from './http-probe.ts';
import { freePorts } from './ports.ts';
import { startProcess, waitUntilReady, type ManagedProcess } from './process.ts';

export interface Etcd {
  readonly url: string;
  readonly process: ManagedProcess;
}

/** Where a component runs when the cluster has a node: inside its namespace, reached from here through a published loopback port. */
export interface Placement {
  readonly netns: string;
  readonly publishedPort: number;
}

export async function startEtcd(options: { binary: string; dir: string; logPath: string; timeoutMs: number; placement?: Placement }): Promise<Etcd> {
  // Inside a namespace of its own every port is free.
  const [clientPort, peerPort] = options.placement === undefined ? await freePorts(2) : [2379, 2380];
  // One data dir per attempt: a retry on other ports must not meet the last one's member.
  const dataDir = join(options.dir, `etcd-${clientPort}`);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const proc = startProcess({
    name: 'etcd',
    command: options.binary,
    logPath: options.logPath,
    netns: options.placement?.netns,
    args: [
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
  });
  try {
    const probeUrl = options.placement === undefined ? url : `http://127.0.0.1:${options.placement.publishedPort}`;
    await waitUntilReady(proc, async () => JSON.parse((await probe(`${probeUrl}/health`)).body).health === 'true', options.timeoutMs);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { url, process: proc };
}
