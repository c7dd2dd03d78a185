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

export async function startEtcd(options: { binary: string; dir: string; logPath: string; timeoutMs: number }): Promise<Etcd> {
  const [clientPort, peerPort] = await freePorts(2);
  // One data dir per attempt: a retry on other ports must not meet the last one's member.
  const dataDir = join(options.dir, `etcd-${clientPort}`);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const proc = startProcess({
    name: 'etcd',
    command: options.binary,
    logPath: options.logPath,
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
    await waitUntilReady(proc, async () => JSON.parse((await probe(`${url}/health`)).body).health === 'true', options.timeoutMs);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { url, process: proc };
}
