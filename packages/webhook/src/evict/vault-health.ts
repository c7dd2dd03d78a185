/**
 * Before evicting a pod, check that Vault answers: the replacement pod's init container
 * must log in, or the eviction trades a pod with working credentials for one stuck in
 * Init. Unauthenticated `sys/health` through node-vault with every option explicit, so
 * VAULT_ADDR, VAULT_TOKEN, VAULT_SKIP_VERIFY, VAULT_PREFIX and DEBUG change nothing.
 *
 * One answer serves every attempt for a second, healthy and unhealthy alike, and
 * attempts while a question is out share it: during a rotation most attempts are refused
 * by a PDB, and asking per attempt made sys/health most of Vault's load at 10,000 pods
 * (docs/performance.md, Cluster scale). A second is far below how long a replacement's
 * init takes to log in, so a stale "healthy" costs no more than the check could save.
 */
import vault from 'node-vault';

export type VaultHealth = { readonly ok: true } | { readonly ok: false; readonly reason: string };
export type VaultHealthCheck = () => Promise<VaultHealth>;

export interface VaultHealthOptions {
  readonly addr: string;
  /** PEM text of the CA that signs Vault's certificate; system roots when absent. */
  readonly caPem?: string;
  readonly timeoutMs?: number;
  /** How long one answer serves (ms); default DEFAULT_HEALTH_CACHE_MS. */
  readonly cacheMs?: number;
  /** Injected for tests; Date.now otherwise. */
  readonly now?: () => number;
}

export const DEFAULT_HEALTH_CACHE_MS = 1000;

interface HealthBody {
  initialized?: boolean;
  sealed?: boolean;
}

export function createVaultHealthCheck(options: VaultHealthOptions): VaultHealthCheck {
  const client = vault({
    endpoint: options.addr,
    apiVersion: 'v1',
    debug: () => undefined,
    // strictSSL here overrides VAULT_SKIP_VERIFY, which node-vault reads on its own.
    requestOptions: { strictSSL: true, timeout: options.timeoutMs ?? 3000, ...(options.caPem === undefined ? {} : { ca: options.caPem }) },
  });
  // Constructor options fall back to the environment when empty: pin them afterwards.
  Object.assign(client, { token: '', namespace: '', pathPrefix: '' });
  const ask = async (): Promise<VaultHealth> => {
    let body: HealthBody;
    try {
      // Standbys answer for the cluster; only a sealed or uninitialised node means no login.
      body = (await client.read('sys/health?standbyok=true&perfstandbyok=true')) as HealthBody;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { ok: false, reason: `Vault at ${options.addr} does not answer${typeof code === 'string' ? ` (${code})` : ''}` };
    }
    if (body?.initialized === false) return { ok: false, reason: `Vault at ${options.addr} is not initialised` };
    if (body?.sealed !== false) return { ok: false, reason: `Vault at ${options.addr} is sealed` };
    return { ok: true };
  };
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? DEFAULT_HEALTH_CACHE_MS;
  let cached: { readonly atMs: number; readonly answer: Promise<VaultHealth> } | undefined;
  return () => {
    const at = now();
    if (cached !== undefined && at - cached.atMs < cacheMs && at >= cached.atMs) return cached.answer;
    cached = { atMs: at, answer: ask() };
    return cached.answer;
  };
}
