/**
 * Vault configured for a cluster, the one way every cluster shape gets it (the tests'
 * loopback control plane, the embedded node and kind): a reviewer service account bound
 * to system:auth-delegator whose token Vault sends with each TokenReview, kubernetes auth
 * pointed at the API server as Vault reaches it, KV v2 at `secret/`, and (with PostgreSQL)
 * the database engine connected to it. Only what the Vault lacks is mounted, so a dev
 * server's own `secret/` is kept and a second run changes nothing.
 */
import { decodeJwt } from 'jose';
import type { KubeConfig } from '@kubernetes/client-node';
import { CourierError } from '@vault-courier/core';
import { bindClusterRole, createServiceAccount, requestServiceAccountToken } from './kube.ts';
import { configureDatabase, configureKubernetesAuth, DATABASE_MOUNT, KUBERNETES_AUTH_PATH, KV_MOUNT, type DatabaseConnection } from './vault.ts';
import type { VaultHttpClient } from './vault-http.ts';

const REVIEWER_NAMESPACE = 'kube-system';
const REVIEWER_SERVICE_ACCOUNT = 'vault-token-reviewer';
const REVIEWER_TOKEN_SECONDS = 7 * 24 * 3600;

/** One entry of sys/auth or sys/mounts, keyed there by `<path>/`. */
export interface VaultMountEntry {
  readonly type?: string;
  readonly options?: { readonly version?: string } | null;
}

export type VaultSetupStep = 'enable-kubernetes-auth' | 'mount-kv-v2' | 'mount-database';

/**
 * What a Vault still needs, from its sys/auth and sys/mounts answers. A path taken by
 * something else is an error naming it: mounting over it would fail half-way.
 */
export function vaultSetupPlan(auths: Readonly<Record<string, VaultMountEntry>>, mounts: Readonly<Record<string, VaultMountEntry>>, withDatabase: boolean): VaultSetupStep[] {
  const steps: VaultSetupStep[] = [];
  const authPath = `${KUBERNETES_AUTH_PATH.replace(/^auth\//, '')}/`;
  const check = (table: Readonly<Record<string, VaultMountEntry>>, path: string, type: string, step: VaultSetupStep, version?: string): void => {
    const entry = table[path];
    if (entry === undefined) return void steps.push(step);
    const sameVersion = version === undefined || entry.options?.version === version;
    if (entry.type !== type || !sameVersion) {
      const has = `${entry.type ?? 'unknown'}${entry.options?.version === undefined ? '' : ` v${entry.options.version}`}`;
      throw new CourierError('config', `Vault's ${path} is ${has}, not ${type}${version === undefined ? '' : ` v${version}`}: use a Vault (dev mode) where ${path} is free or already ${type}`);
    }
  };
  check(auths, authPath, 'kubernetes', 'enable-kubernetes-auth');
  check(mounts, `${KV_MOUNT}/`, 'kv', 'mount-kv-v2', '2');
  if (withDatabase) check(mounts, `${DATABASE_MOUNT}/`, 'database', 'mount-database');
  return steps;
}

export interface VaultClusterSetup {
  /** The API server as Vault reaches it (it sends TokenReviews there). */
  readonly apiServerUrlForVault: string;
  /** The CA of the API server's certificate. */
  readonly apiServerCaPem: string;
  /** Where Vault reaches PostgreSQL, and its superuser; undefined: no database engine. */
  readonly postgres?: DatabaseConnection;
}

/** Tables of sys/auth and sys/mounts: newer Vaults nest them under `data`. */
function mountTable(answer: unknown): Record<string, VaultMountEntry> {
  const body = answer as { data?: Record<string, VaultMountEntry> } & Record<string, VaultMountEntry>;
  return body.data ?? body;
}

export async function configureVaultForCluster(kc: KubeConfig, client: VaultHttpClient, setup: VaultClusterSetup): Promise<void> {
  await createServiceAccount(kc, REVIEWER_NAMESPACE, REVIEWER_SERVICE_ACCOUNT);
  await bindClusterRole(kc, {
    bindingName: `${REVIEWER_SERVICE_ACCOUNT}-auth-delegator`,
    clusterRole: 'system:auth-delegator',
    namespace: REVIEWER_NAMESPACE,
    serviceAccount: REVIEWER_SERVICE_ACCOUNT,
  });
  // No audience asked for: the API server's own, which its TokenReview accepts on any cluster.
  const reviewerJwt = await requestServiceAccountToken(kc, { namespace: REVIEWER_NAMESPACE, serviceAccount: REVIEWER_SERVICE_ACCOUNT, audiences: [], expirationSeconds: REVIEWER_TOKEN_SECONDS });
  // The issuer is whatever the cluster signs tokens as: read from a token it signed, not guessed.
  const issuer = decodeJwt(reviewerJwt).iss;
  if (issuer === undefined) throw new CourierError('kubernetes', 'the API server issued a service-account token without an iss claim');
  const [auths, mounts] = await Promise.all([client.read('sys/auth'), client.read('sys/mounts')]);
  const steps = vaultSetupPlan(mountTable(auths), mountTable(mounts), setup.postgres !== undefined);
  if (steps.includes('mount-kv-v2')) await client.mount({ mount_point: KV_MOUNT, type: 'kv', options: { version: '2' }, description: 'KV v2' });
  await configureKubernetesAuth(client, { apiServerUrl: setup.apiServerUrlForVault, caPem: setup.apiServerCaPem, reviewerJwt, issuer }, { enable: steps.includes('enable-kubernetes-auth') });
  if (setup.postgres !== undefined) await configureDatabase(client, setup.postgres, { enable: steps.includes('mount-database') });
}
