/**
 * A PostgreSQL cluster in the temp dir, on a free loopback port, its unix socket inside
 * the temp dir. PostgreSQL refuses to run as root, so when we are root it runs as
 * `nobody`, owning its directory. TCP logins need the password (scram-sha-256), so a
 * credential Vault issued is really checked; the socket trusts local users.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { CourierError } from '@vault-courier/core';
import { requireExecutable } from './binaries.ts';
import { freePort } from './ports.ts';
import { startProcess, waitUntilReady, withPortRetry, type ManagedProcess } from './process.ts';
import type { Placement } from './etcd.ts';
import { NODE_IP, POD_CIDR } from './node/netns.ts';

const run = promisify(execFile);

export interface Postgres {
  /** `postgresql://postgres:<password>@127.0.0.1:<port>/postgres`: the superuser, from this process. */
  readonly url: string;
  /** Where this process reaches it. */
  readonly host: string;
  readonly port: number;
  /** Where Vault reaches it (inside the cluster's namespace when there is one). */
  readonly forVault: { readonly host: string; readonly port: number };
  /** Where pods reach it. */
  readonly inCluster: { readonly host: string; readonly port: number };
  readonly superuser: string;
  readonly password: string;
  readonly socketDir: string;
  readonly process: ManagedProcess;
}

export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** Who PostgreSQL runs as: ourselves, or `nobody` when we are root. */
export async function postgresUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const [uid, gid] = await Promise.all([run('id', ['-u', 'nobody']), run('id', ['-g', 'nobody'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function startPostgres(options: { binDir: string; dir: string; logPath: string; timeoutMs: number; placement?: Placement }): Promise<Postgres> {
  const initdb = join(options.binDir, 'initdb');
  const postgres = join(options.binDir, 'postgres');
  requireExecutable('initdb (PostgreSQL 15)', initdb);
  requireExecutable('postgres (PostgreSQL 15)', postgres);
  const runAs = await postgresUser();
  const home = join(options.dir, 'postgres');
  const dataDir = join(home, 'data');
  const socketDir = join(home, 'run');
  const passwordFile = join(home, 'superuser-password');
  const password = randomBytes(18).toString('base64url');
  await mkdir(socketDir, { recursive: true, mode: 0o700 });
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs !== undefined) {
    await Promise.all([home, socketDir, passwordFile].map((path) => chown(path, runAs.uid, runAs.gid)));
  }
  const env = { PATH: '/usr/bin:/bin', LANG: 'C', HOME: home };
  try {
    await run(
      initdb,
      ['-D', dataDir, '-U', 'postgres', `--pwfile=${passwordFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '--no-locale', '-E', 'UTF8', '--no-sync', '--no-instructions'],
      { env, uid: runAs?.uid, gid: runAs?.gid },
    );
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? '';
    throw new CourierError('io', `initdb failed in ${dataDir}: ${stderr.trim()}`, { cause });
  }
  const placement = options.placement;
  // initdb lets TCP logins in from loopback only; pods connect from the bridge.
  if (placement !== undefined) await appendFile(join(dataDir, 'pg_hba.conf'), `host all all ${POD_CIDR} scram-sha-256\n`);
  return withPortRetry(async () => {
    const port = placement === undefined ? await freePort() : 5432;
    const proc = startProcess({
      name: 'postgres',
      command: postgres,
      logPath: options.logPath,
      env,
      uid: runAs?.uid,
      gid: runAs?.gid,
      // SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to leave.
      stopSignal: 'SIGINT',
      netns: placement?.netns,
      args: [
        '-D', dataDir, '-p', String(port), '-k', socketDir,
        // In the namespace: also on the node's address, where pods reach it.
        '-c', `listen_addresses=${placement === undefined ? '127.0.0.1' : `127.0.0.1,${NODE_IP}`}`,
        '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
        '-c', 'shared_buffers=16MB', '-c', 'max_connections=50',
      ],
    });
    const publishedPort = placement?.publishedPort ?? port;
    const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${publishedPort}/postgres`;
    try {
      await waitUntilReady(proc, () => canConnect(url), options.timeoutMs);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return {
      url,
      host: '127.0.0.1',
      port: publishedPort,
      forVault: { host: '127.0.0.1', port },
      inCluster: placement === undefined ? { host: '127.0.0.1', port } : { host: NODE_IP, port },
      superuser: 'postgres',
      password,
      socketDir,
      process: proc,
    };
  });
}

export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  await client.connect();
  await client.end();
  return true;
}
