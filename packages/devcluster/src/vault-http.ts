/**
 * The root client the tests and the demo configure Vault with: a few HTTP calls on
 * node:http(s) (fetch takes no CA of its own), so that test infrastructure never runs through the product's own Vault client (a bug
 * there must not be hidden by the same bug in the harness). Nothing is read from the
 * environment: the address and token are the ones given.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
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

function send(url: string, options: { method: string; headers: Record<string, string>; body?: string; caPem?: string; timeoutMs: number }): Promise<{ status: number; text: string }> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method, headers: options.headers, timeout: options.timeoutMs, ...(options.caPem === undefined ? {} : { ca: options.caPem }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${options.method} ${url} timed out after ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export function vaultHttpClient(addr: string, token: string, options: { caPem?: string; timeoutMs?: number } = {}): VaultHttpClient {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, anyStatus = false): Promise<VaultAnswer> => {
    const answer = await send(`${addr}/v1/${path}`, {
      method,
      headers: { ...(token === '' ? {} : { 'X-Vault-Token': token }), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      caPem: options.caPem,
      timeoutMs: options.timeoutMs ?? 30_000,
    });
    const parsed: unknown = answer.text === '' ? undefined : JSON.parse(answer.text);
    if ((answer.status < 200 || answer.status > 299) && !anyStatus) throw vaultError(method, path, answer.status, parsed);
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
