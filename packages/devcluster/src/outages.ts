/**
 * Outages of the cluster's own real parts, for the fault tests (test/e2e/faults-vault.test.ts,
 * docs/faults.md): nothing is faked, each part is made unavailable the way it fails in
 * production without losing its state.
 * - Vault paused (SIGSTOP): its process and in-memory state stay, its listener still
 *   accepts connections and nothing answers, as a hung server. (Killing the dev server
 *   would lose its whole configuration.)
 * - Vault sealed through sys/seal with the root token, unsealed through sys/unseal with
 *   the key the dev server prints at start.
 * - PostgreSQL and kube-apiserver stopped (their own shutdown signal) and started again
 *   from the same spec: same flags, port and data directory (etcd keeps the API server's
 *   state). The restarted process replaces the old one in the cluster's process list, so
 *   stop() and the exit handlers stop it like any other.
 */
import { readFile } from 'node:fs/promises';
import { CourierError } from '@vault-courier/core';
import { probe, type TlsMaterial } from './http-probe.ts';
import { canConnect, type Postgres } from './postgres.ts';
import { startProcess, waitUntilReady, type ManagedProcess } from './process.ts';
import { vaultClient, type VaultServer } from './vault.ts';

export interface Outages {
  pauseVault(): void;
  resumeVault(): void;
  sealVault(): Promise<void>;
  unsealVault(): Promise<void>;
  stopPostgres(): Promise<void>;
  /** Started again on the same data directory and port; resolves once it accepts logins. */
  startPostgres(): Promise<void>;
  stopApiServer(): Promise<void>;
  /** Started again with the same flags; resolves once /readyz answers 200. */
  startApiServer(): Promise<void>;
}

export interface OutageParts {
  /** The cluster's live process list: a restarted process takes the old one's place. */
  readonly processes: ManagedProcess[];
  readonly vault?: VaultServer;
  readonly postgres?: Postgres;
  readonly apiServer: { readonly url: string; readonly adminTls: TlsMaterial };
  readonly timeoutMs: number;
}

/** The dev server prints its one unseal key at start: `Unseal Key: <base64>`. */
export function unsealKeyOf(devServerLog: string): string | undefined {
  return /^Unseal Key: (\S+)$/m.exec(devServerLog)?.[1];
}

export function createOutages(parts: OutageParts): Outages {
  const current = (name: string): ManagedProcess => {
    const proc = parts.processes.find((p) => p.name === name);
    if (proc === undefined) throw new CourierError('config', `the cluster runs no ${name}`);
    return proc;
  };
  const restart = async (name: string, ready: () => Promise<boolean>): Promise<void> => {
    const old = current(name);
    if (old.exitStatus() === undefined) throw new CourierError('config', `${name} is still running: stop it first`);
    const next = startProcess(old.spec);
    parts.processes.splice(parts.processes.indexOf(old), 1, next);
    await waitUntilReady(next, ready, parts.timeoutMs);
  };
  const vault = () => {
    if (parts.vault === undefined) throw new CourierError('config', 'the cluster runs no Vault: start it with vault: true');
    return parts.vault;
  };
  const postgres = () => {
    if (parts.postgres === undefined) throw new CourierError('config', 'the cluster runs no PostgreSQL: start it with postgres: true');
    return parts.postgres;
  };
  return {
    pauseVault: () => current('vault').pause(),
    resumeVault: () => current('vault').resume(),
    sealVault: async () => {
      const server = vault();
      await vaultClient(server.addr, server.rootToken, server.caPem).write('sys/seal', {});
    },
    unsealVault: async () => {
      const server = vault();
      const key = unsealKeyOf(await readFile(current('vault').logPath, 'utf8'));
      if (key === undefined) throw new CourierError('io', `no unseal key in ${current('vault').logPath}`);
      const answer = (await vaultClient(server.addr, '', server.caPem).write('sys/unseal', { key })) as { sealed?: boolean };
      if (answer.sealed !== false) throw new CourierError('vault', 'Vault is still sealed after sys/unseal with the dev server\'s key');
    },
    stopPostgres: () => current('postgres').stop(),
    startPostgres: () => restart('postgres', () => canConnect(postgres().url)),
    stopApiServer: () => current('kube-apiserver').stop(),
    startApiServer: () => restart('kube-apiserver', async () => (await probe(`${parts.apiServer.url}/readyz`, parts.apiServer.adminTls)).status === 200),
  };
}
