/** One GET, for readiness probes: status and body, with optional TLS client material. */
import { request } from 'node:https';
import { request as requestHttp } from 'node:http';

export interface TlsMaterial {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

export function probe(url: string, tls?: TlsMaterial, headers: Record<string, string> = {}, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  const send = url.startsWith('https:') ? request : requestHttp;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'GET', timeout: timeoutMs, headers, ...(tls ?? {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
