/**
 * A Vault dev server (in-memory, unsealed, root token chosen by us) configured the way
 * vault-courier expects to find a production Vault/OpenBao: kubernetes auth that checks
 * tokens with a real TokenReview against the dev cluster's API server, a KV v2 mount at
 * `secret/`, and the database engine at `database/` connected to the PostgreSQL instance.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CourierError, DEFAULT_AUTH_PATH } from '@vault-courier/core';
import { freePort } from './ports.ts';
import { startProcess, waitUntilReady, withPortRetry, type ManagedProcess } from './process.ts';
import type { Postgres } from './postgres.ts';
import type { Placement } from './etcd.ts';
import { NODE_IP } from './node/netns.ts';
import { vaultHttpClient, type VaultHttpClient } from './vault-http.ts';

export const KUBERNETES_AUTH_PATH = DEFAULT_AUTH_PATH;
export const KV_MOUNT = 'secret';
export const DATABASE_MOUNT = 'database';
/** The database connection name under `database/config/`. */
export const DATABASE_CONNECTION = 'postgres';

/** Vault's serving certificate with a node: TLS as in production, signed by the cluster CA. */
export interface VaultTls {
  readonly certPath: string;
  readonly keyPath: string;
  readonly caPem: string;
}

/**
 * With a node, Vault listens with TLS on :8200 (every address of the namespace, the node's
 * included); dev mode's own plain listener stays on loopback inside the namespace, where
 * nothing uses it. Each listener's cluster port is the next one up, so they are apart.
 */
export function vaultTlsListener(tls: VaultTls, port: number): string {
  return `listener "tcp" {
  address = "0.0.0.0:${port}"
  cluster_address = "127.0.0.1:${port + 1}"
  tls_cert_file = "${tls.certPath}"
  tls_key_file = "${tls.keyPath}"
}
`;
}

export interface VaultServer {
  /** Where this process reaches it. */
  readonly addr: string;
  /** Where pods and the cluster's own processes reach it. */
  readonly inClusterAddr: string;
  /** The CA that signs Vault's certificate (with a node); undefined: plain HTTP on loopback. */
  readonly caPem: string | undefined;
  readonly rootToken: string;
  readonly process: ManagedProcess;
}

/** An admin (root token) or anonymous ('') client: see vault-http.ts. `caPem`: Vault's CA when it serves TLS. */
export function vaultClient(addr: string, token: string, caPem?: string): VaultHttpClient {
  return vaultHttpClient(addr, token, { caPem });
}

export async function startVaultServer(options: { binary: string; dir: string; logPath: string; timeoutMs: number; placement?: Placement & { readonly tls: VaultTls } }): Promise<VaultServer> {
  const rootToken = `root-${randomUUID()}`;
  // The dev server writes its token helper file into $HOME: keep it in the temp dir.
  const home = join(options.dir, 'vault-home');
  await mkdir(home, { recursive: true, mode: 0o700 });
  const placement = options.placement;
  return withPortRetry(async () => {
    const port = placement === undefined ? await freePort() : 8200;
    const scheme = placement === undefined ? 'http' : 'https';
    const addr = `${scheme}://127.0.0.1:${placement?.publishedPort ?? port}`;
    const caPem = placement?.tls.caPem;
    const tlsArgs: string[] = [];
    if (placement !== undefined) {
      const config = join(options.dir, 'vault-listener.hcl');
      await writeFile(config, vaultTlsListener(placement.tls, port));
      tlsArgs.push(`-config=${config}`);
    }
    const proc = startProcess({
      name: 'vault',
      command: options.binary,
      logPath: options.logPath,
      netns: placement?.netns,
      env: { HOME: home, PATH: '/usr/bin:/bin' },
      args: ['server', '-dev', `-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${placement === undefined ? port : port + 10}`, ...tlsArgs, '-log-level=warn'],
    });
    const client = vaultClient(addr, rootToken, caPem);
    try {
      await waitUntilReady(proc, async () => (await client.health()).initialized === true, options.timeoutMs);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return { addr, inClusterAddr: placement === undefined ? addr : `https://${NODE_IP}:${port}`, caPem, rootToken, process: proc };
  });
}

export interface VaultRole {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly policies: readonly string[];
  /** Vault token TTL in seconds. */
  readonly ttl: number;
  /** The audience the token must carry; default `vault`. */
  readonly audience?: string;
}

export interface DatabaseRole {
  readonly name: string;
  readonly ttlSeconds: number;
  readonly maxTtlSeconds: number;
}

/** Root-token operations for tests and the demo. */
export interface VaultAdmin {
  readonly client: VaultHttpClient;
  /** A kubernetes-auth role bound to one namespace and service account. */
  createVaultRole(role: VaultRole): Promise<void>;
  /** Writes `data` as the new version of `secret/data/<path>` (KV v2). */
  writeKv(path: string, data: Record<string, unknown>): Promise<void>;
  /** A role under `database/roles/<name>` whose users live `ttlSeconds`. */
  createDatabaseRole(role: DatabaseRole): Promise<void>;
  writePolicy(name: string, hcl: string): Promise<void>;
}

async function vaultCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (cause) {
    throw new CourierError('vault', `Vault refused to ${what}`, { cause });
  }
}

/** Creation and revocation SQL: revocation also ends the user's open sessions. */
export const DATABASE_CREATION_SQL = [
  `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
  `GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";`,
];
export const DATABASE_REVOCATION_SQL = [
  `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';`,
  `REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{name}}";`,
  `DROP ROLE IF EXISTS "{{name}}";`,
];

export function vaultAdmin(client: VaultHttpClient): VaultAdmin {
  return {
    client,
    createVaultRole: (role) =>
      vaultCall(`create kubernetes auth role ${role.name}`, () =>
        client.write(`${KUBERNETES_AUTH_PATH}/role/${role.name}`, {
          bound_service_account_names: [role.serviceAccount],
          bound_service_account_namespaces: [role.namespace],
          audience: role.audience ?? 'vault',
          token_policies: [...role.policies],
          token_ttl: role.ttl,
          token_max_ttl: role.ttl,
        }),
      ).then(() => undefined),
    writeKv: (path, data) => vaultCall(`write ${KV_MOUNT}/data/${path}`, () => client.write(`${KV_MOUNT}/data/${path}`, { data })).then(() => undefined),
    createDatabaseRole: (role) =>
      vaultCall(`create database role ${role.name}`, () =>
        client.write(`${DATABASE_MOUNT}/roles/${role.name}`, {
          db_name: DATABASE_CONNECTION,
          creation_statements: DATABASE_CREATION_SQL,
          revocation_statements: DATABASE_REVOCATION_SQL,
          default_ttl: role.ttlSeconds,
          max_ttl: role.maxTtlSeconds,
        }),
      ).then(() => undefined),
    writePolicy: (name, hcl) => vaultCall(`write policy ${name}`, () => client.addPolicy({ name, rules: hcl })).then(() => undefined),
  };
}

export interface VaultKubernetesSetup {
  readonly apiServerUrl: string;
  readonly caPem: string;
  /** A long-lived token of a service account bound to system:auth-delegator. */
  readonly reviewerJwt: string;
  readonly issuer: string;
}

/** Kubernetes auth at `auth/kubernetes` (`enable`: mount it first). */
export async function configureKubernetesAuth(client: VaultHttpClient, setup: VaultKubernetesSetup, options: { enable: boolean }): Promise<void> {
  if (options.enable) await vaultCall('enable kubernetes auth', () => client.enableAuth({ mount_point: 'kubernetes', type: 'kubernetes', description: 'service-account tokens' }));
  await vaultCall('configure kubernetes auth', () =>
    client.write(`${KUBERNETES_AUTH_PATH}/config`, {
      kubernetes_host: setup.apiServerUrl,
      kubernetes_ca_cert: setup.caPem,
      token_reviewer_jwt: setup.reviewerJwt,
      issuer: setup.issuer,
      // Vault is told the reviewer token and CA: it must not look for a pod's own (in kind it runs in one).
      disable_local_ca_jwt: true,
    }),
  );
}

/** Where Vault reaches PostgreSQL, as whom. */
export type DatabaseConnection = Pick<Postgres, 'forVault' | 'superuser' | 'password'>;

/** The database engine at `database/` (`enable`: mount it first), connected to PostgreSQL. */
export async function configureDatabase(client: VaultHttpClient, postgres: DatabaseConnection, options: { enable: boolean }): Promise<void> {
  if (options.enable) await vaultCall('enable the database engine', () => client.mount({ mount_point: DATABASE_MOUNT, type: 'database', description: 'PostgreSQL users' }));
  await vaultCall('configure the PostgreSQL connection', () =>
    client.write(`${DATABASE_MOUNT}/config/${DATABASE_CONNECTION}`, {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${postgres.forVault.host}:${postgres.forVault.port}/postgres?sslmode=disable`,
      username: postgres.superuser,
      password: postgres.password,
      allowed_roles: '*',
      verify_connection: true,
    }),
  );
}
