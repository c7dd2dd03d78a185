/**
 * Publishes services of the cluster's namespace on the machine's own loopback, as kind
 * publishes its API server: tests, kubectl and a user's tools reach them at 127.0.0.1.
 * A forwarder inside the namespace listens on filesystem sockets (forwarder-main.ts);
 * here, in the orchestrator, a loopback TCP listener per service dials its socket.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { startProcess, type ManagedProcess } from '../process.ts';
import { joinSockets } from './join-sockets.ts';
import type { NetworkNamespace } from './netns.ts';

export interface PublishedPort {
  readonly name: string;
  /** Inside the namespace. */
  readonly target: { readonly host: string; readonly port: number };
  /** On the machine's loopback. */
  readonly port: number;
}

export interface Publisher {
  readonly ports: Readonly<Record<string, PublishedPort>>;
  readonly process: ManagedProcess;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

export async function publishPorts(options: {
  netns: NetworkNamespace;
  dir: string;
  logPath: string;
  targets: Readonly<Record<string, { host: string; port: number }>>;
}): Promise<Publisher> {
  const socketOf = (name: string) => path.join(options.dir, `${name}.sock`);
  const entries = Object.entries(options.targets);
  const proc = startProcess({
    name: 'loopback-forwarder',
    command: process.execPath,
    args: [path.join(import.meta.dirname, 'forwarder-main.ts'), ...entries.map(([name, t]) => `${socketOf(name)}=${t.host}:${t.port}`)],
    netns: options.netns.path,
    logPath: options.logPath,
  });
  const deadline = Date.now() + 10_000;
  while (!entries.every(([name]) => existsSync(socketOf(name)))) {
    if (Date.now() > deadline || proc.exitStatus() !== undefined) throw new Error(`the loopback forwarder did not open its sockets; see ${options.logPath}`);
    await sleep(20);
  }
  const servers: Server[] = [];
  // Watches hold connections open for minutes: close() must end them, not wait for them.
  const open = new Set<Socket>();
  const ports: Record<string, PublishedPort> = {};
  for (const [name, target] of entries) {
    const server = createServer((inbound) => {
      open.add(inbound);
      inbound.once('close', () => open.delete(inbound));
      joinSockets(inbound, createConnection(socketOf(name)));
    });
    servers.push(server);
    ports[name] = { name, target, port: await listen(server) };
  }
  return {
    ports,
    process: proc,
    async close() {
      for (const socket of open) socket.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      await proc.stop();
    },
  };
}
