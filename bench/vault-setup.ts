/**
 * What bench/init and bench/sidecar share: the 3 secrets (2 KV v2, 1 database credential),
 * the Vault side of kubernetes auth for the `web` service account in `shop`, and
 * `vault agent` configured as vault-k8s configures it (auto_auth kubernetes with the
 * pod's JWT file, a file sink, one template per secret rendering it as JSON).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createNamespace, createServiceAccount, requestServiceAccountToken, type DevCluster } from '@vault-courier/devcluster';
import type { SecretSpec } from '@vault-courier/core';

export const SECRETS: readonly SecretSpec[] = [
  { name: 'app', path: 'secret/data/app', format: { kind: 'json' } },
  { name: 'api', path: 'secret/data/api', format: { kind: 'json' } },
  { name: 'db', path: 'database/creds/web', format: { kind: 'json' } },
];

export interface VaultSetup {
  readonly addr: string;
  /** The projected service-account token (audience vault) both tools log in with. */
  readonly jwtPath: string;
}

/**
 * Vault tokens of the `web` role live `tokenTtl` seconds and renew up to `tokenMaxTtl`;
 * database users live `dbTtl` seconds.
 */
export async function setUpVault(cluster: DevCluster, work: string, ttls: { tokenTtl: number; tokenMaxTtl: number; dbTtl: number }): Promise<VaultSetup> {
  const vault = cluster.vault;
  if (vault === undefined) throw new Error('the dev cluster started without Vault');
  await createNamespace(cluster.kubeConfig, 'shop');
  await createServiceAccount(cluster.kubeConfig, 'shop', 'web');
  const jwtPath = path.join(work, 'vault-jwt');
  writeFileSync(jwtPath, await requestServiceAccountToken(cluster.kubeConfig, { namespace: 'shop', serviceAccount: 'web', audiences: ['vault'], expirationSeconds: 3600 }), { mode: 0o400 });
  await vault.writePolicy('web', ['secret/data/*', 'database/creds/web'].map((p) => `path "${p}" { capabilities = ["read"] }`).join('\n'));
  await vault.createVaultRole({ name: 'web', namespace: 'shop', serviceAccount: 'web', policies: ['web'], ttl: ttls.tokenTtl });
  // createVaultRole caps renewals at the TTL; a sidecar bench needs tokens that renew.
  await vault.client.write('auth/kubernetes/role/web', { token_ttl: ttls.tokenTtl, token_max_ttl: ttls.tokenMaxTtl });
  await vault.writeKv('app', { user: 'app', password: 'p4ss word' });
  await vault.writeKv('api', { key: 'k-123' });
  await vault.createDatabaseRole({ name: 'web', ttlSeconds: ttls.dbTtl, maxTtlSeconds: ttls.dbTtl });
  return { addr: vault.addr, jwtPath };
}

/** exitAfterAuth: the init container's agent (vault-k8s's `agent-init-first`); otherwise its sidecar, which keeps renewing. */
export function agentConfig(setup: VaultSetup, out: string, options: { exitAfterAuth: boolean }): string {
  const template = (secret: SecretSpec) => {
    const data = secret.path.startsWith('secret/data/') ? '.Data.data' : '.Data';
    return `template {\n  destination = "${path.join(out, secret.name)}"\n  contents = "{{ with secret \\"${secret.path}\\" }}{{ ${data} | toJSON }}{{ end }}"\n}\n`;
  };
  return [
    `exit_after_auth = ${String(options.exitAfterAuth)}`,
    'pid_file = ""',
    `vault {\n  address = "${setup.addr}"\n}`,
    `auto_auth {\n  method "kubernetes" {\n    mount_path = "auth/kubernetes"\n    config = {\n      role = "web"\n      token_path = "${setup.jwtPath}"\n    }\n  }\n  sink "file" {\n    config = {\n      path = "${path.join(out, '.vault-token')}"\n    }\n  }\n}`,
    'template_config {\n  exit_on_retry_failure = true\n}',
    ...SECRETS.map(template),
  ].join('\n');
}

/** The environment of our init container, as the webhook injects it. */
export function initEnv(setup: VaultSetup, secretsDir: string, stateDir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    VAULT_COURIER_VAULT_ADDR: setup.addr,
    VAULT_COURIER_AUTH_PATH: 'auth/kubernetes',
    VAULT_COURIER_ROLE: 'web',
    VAULT_COURIER_SECRETS: JSON.stringify(SECRETS),
    VAULT_COURIER_SECRETS_DIR: secretsDir,
    VAULT_COURIER_STATE_DIR: stateDir,
    VAULT_COURIER_VAULT_JWT_PATH: setup.jwtPath,
  };
}

export function checkDelivered(dir: string, tool: string): void {
  const files = readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
  if (files.join() !== 'api,app,db') throw new Error(`${tool} delivered ${files.join() || 'nothing'}`);
  for (const f of files) JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
}
