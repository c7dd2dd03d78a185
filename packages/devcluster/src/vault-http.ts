/**
 * The root client the tests and the demo configure Vault with: a few HTTP calls on fetch,
 * so that test infrastructure never runs through the product's own Vault client (a bug
 * there must not be hidden by the same bug in the harness). Nothing is read from the
 * environment: the address and token are the ones given.
 */
import { CourierError } from '@vault-courier/core';

/** Vault's answers are shaped by path; callers read the fields they asked for. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type VaultAnswer = any;

export interface VaultHttpClient {
  read(path: string, options?: { headers?: Record<string, string> }): Promise<VaultAnswer>;
  write(path: string, body: Record<string, unknown>, options?: { headers?: Record<string, string> }): Promise<VaultAnswer>;
  mount(options: { mount_point: string; type: string; description?: string; options?: Record<string, string> }): Promise<void>;
  enableAuth(options: { mount_point: string; type: string; description?: string }): Promise<void>;
  addPolicy(options: { name: string; rules: string }): Promise<void>;
  /** sys/health's body whatever its status (503 sealed, 501 not initialised). */
  health(): Promise<{ initialized?: boolean; sealed?: boolean }>;
  kubernetesLogin(options: { role: string; jwt: string; mount_point: string }): Promise<VaultAnswer>;
}

/** What Vault said, without the request body (it may carry a secret). */
export function vaultError(method: string, path: string, status: number, body: unknown): CourierError {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  const said = Array.isArray(errors) && errors.length > 0 ? errors.map(String).join('; ') : 'no error text';
  const error = new CourierError('vault', `Vault answered ${status} to ${method} ${path}: ${said}`);
  return Object.assign(error, { status });
}

export function vaultHttpClient(addr: string, token: string, timeoutMs = 30_000): VaultHttpClient {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, anyStatus = false): Promise<VaultAnswer> => {
    const answer = await fetch(`${addr}/v1/${path}`, {
      method,
      headers: { ...(token === '' ? {} : { 'X-Vault-Token': token }), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await answer.text();
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (!answer.ok && !anyStatus) throw vaultError(method, path, answer.status, parsed);
    return parsed;
  };
  return {
    read: (path, options) => call('GET', path, undefined, options?.headers),
    write: (path, body, options) => call('POST', path, body, options?.headers),
    mount: async ({ mount_point, ...rest }) => void (await call('POST', `sys/mounts/${mount_point}`, rest)),
    enableAuth: async ({ mount_point, ...rest }) => void (await call('POST', `sys/auth/${mount_point}`, rest)),
    addPolicy: async ({ name, rules }) => void (await call('PUT', `sys/policies/acl/${name}`, { policy: rules })),
    health: () => call('GET', 'sys/health?standbyok=true&sealedcode=200&uninitcode=200', undefined, {}, true),
    kubernetesLogin: ({ role, jwt, mount_point }) => call('POST', `auth/${mount_point}/login`, { role, jwt }),
  };
}
