/**
 * The three Vault calls the init container makes, over node-vault with every option set
 * explicitly. node-vault on its own reads VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE and
 * VAULT_PREFIX from the environment, skips TLS verification when VAULT_SKIP_VERIFY has any
 * value (even "false"), and logs request bodies, the login JWT among them, under
 * DEBUG=node-vault; axios's follow-redirects logs every request's headers, the Vault token
 * among them, under DEBUG=follow-redirects. None of that may happen here: the endpoint, CA,
 * namespace and token come from our configuration only, and the `debug` module is switched off.
 * node-vault sends its `namespace` as X-Vault-Namespace on every request it makes.
 */
import createDebug from 'debug';
import nodeVault from 'node-vault';
import { VaultFailureError, type VaultFailure } from './vault-errors.ts';

export interface VaultApi {
  /** POST <authPath>/login {role, jwt}; resolves with Vault's raw answer. */
  login(authPath: string, role: string, jwt: string): Promise<unknown>;
  /** GET <path> with the token; resolves with Vault's raw answer. */
  read(path: string, token: string): Promise<unknown>;
  /** POST auth/token/revoke-self: the token's dynamic leases die with it. */
  revokeSelf(token: string): Promise<void>;
}

export interface VaultClientOptions {
  readonly addr: string;
  /** PEM text; undefined: Node's bundled roots. Verification is never turned off. */
  readonly caPem: string | undefined;
  /** Per request: a Vault that accepts the connection and then hangs is a retryable failure. */
  readonly requestTimeoutMs: number;
  /** Vault Enterprise / OpenBao namespace; absent: no X-Vault-Namespace header. */
  readonly namespace?: string | undefined;
}

const noDebug = (): void => {};

function vaultErrors(body: unknown): string[] {
  const errors = typeof body === 'object' && body !== null ? (body as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(errors)) return [];
  return errors.filter((e): e is string => typeof e === 'string').map((e) => e.replace(/\s+/g, ' ').trim().slice(0, 300));
}

/**
 * Keeps the HTTP status, Vault's error strings and the socket error code, nothing else:
 * node-vault's and axios's errors carry the request config, whose headers hold the token and
 * whose body holds the JWT.
 */
export function toVaultFailure(err: unknown): VaultFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { response?: { statusCode?: unknown; body?: unknown }; code?: unknown };
  if (typeof e.response?.statusCode === 'number') return { status: e.response.statusCode, vaultErrors: vaultErrors(e.response.body) };
  return { vaultErrors: [], ...(typeof e.code === 'string' ? { code: e.code } : {}) };
}

async function call<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (err) {
    throw new VaultFailureError(toVaultFailure(err));
  }
}

/**
 * A node-vault client that nothing in the environment can redirect, authenticate or make
 * talkative: every option explicit, the env fallbacks undone, `debug` switched off.
 * `token` is '' for an anonymous client (a login); callers pass tokens per request.
 */
export function createNodeVault(options: VaultClientOptions & { readonly token?: string }): nodeVault.client {
  // follow-redirects creates its logger lazily, on the first request: disabling every
  // namespace now covers it, whatever DEBUG said when `debug` was loaded.
  createDebug.disable();
  const tls = { strictSSL: true, ...(options.caPem === undefined ? {} : { ca: options.caPem }) };
  const token = options.token ?? '';
  const namespace = options.namespace ?? '';
  // rpDefaults is read by node-vault but missing from its typings.
  const vaultOptions: nodeVault.VaultOptions & { rpDefaults: { strictSSL: boolean; timeout: number } } = {
    apiVersion: 'v1',
    endpoint: options.addr,
    token,
    namespace,
    pathPrefix: '',
    noCustomHTTPVerbs: true,
    debug: noDebug,
    rpDefaults: { strictSSL: true, timeout: options.requestTimeoutMs },
    requestOptions: { ...tls, timeout: options.requestTimeoutMs },
  };
  const client = nodeVault(vaultOptions);
  // node-vault replaces an empty token, namespace or prefix with VAULT_TOKEN, VAULT_NAMESPACE
  // or VAULT_PREFIX (`config.x || process.env.X`); only an assignment afterwards sticks.
  return Object.assign(client, { token, namespace, pathPrefix: '', endpoint: options.addr });
}

export function createVaultClient(options: VaultClientOptions): VaultApi {
  const client = createNodeVault(options);

  const withToken = (token: string) => ({ headers: { 'X-Vault-Token': token } });
  return {
    login: (authPath, role, jwt) => call(() => client.write(`${authPath}/login`, { role, jwt }) as Promise<unknown>),
    read: (path, token) => call(() => client.read(path, withToken(token)) as Promise<unknown>),
    revokeSelf: async (token) => {
      await call(() => client.write('auth/token/revoke-self', {}, withToken(token)) as Promise<unknown>);
    },
  };
}
