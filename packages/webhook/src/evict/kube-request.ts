/**
 * One request to the API server with the credentials and CA the webhook's KubeConfig applies
 * on each call (a pod's token file rotates), through node:http(s). The eviction endpoint's
 * handful of calls go through this rather than client-node's generated CoreV1Api: that
 * client's serializer reaches every generated model, and the bundle that loads it holds
 * ~15 MiB more heap, before any request, for six calls (docs/performance.md, "Webhook").
 * A non-2xx answer throws client-node's ApiException with the body's text, as the generated
 * client does, so callers read `code` and `body` the same way.
 */
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';

export interface RawAnswer {
  readonly status: number;
  readonly body: Buffer;
}

/** The request as sent; transport failures reject with Node's own error. */
export async function sendWithCredentials(kc: KubeConfig, url: URL, init: { method: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<RawAnswer> {
  const opts: RequestOptions & { headers: Record<string, string> } = { method: init.method, headers: { ...init.headers }, signal: init.signal };
  if (init.body !== undefined) opts.headers['content-length'] = String(Buffer.byteLength(init.body));
  await kc.applyToHTTPSOptions(opts);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PATCH';
  /** Path and query on the API server, e.g. `/api/v1/namespaces/shop/pods/api-1`. */
  readonly path: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Default application/json; a JSON patch is application/json-patch+json. */
  readonly contentType?: string;
}

/** The answer's JSON (undefined for an empty body); ApiException for any status outside 2xx. */
export async function kubeRequest<T>(kc: KubeConfig, request: KubeRequest): Promise<T> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('the KubeConfig names no cluster server');
  // Appended, not resolved: a server URL may carry a path prefix (a proxy in front of the API server).
  const url = new URL(`${server.replace(/\/+$/, '')}${request.path}`);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';
  const answer = await sendWithCredentials(kc, url, { method: request.method, headers, ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }) });
  const text = answer.body.toString('utf8');
  if (answer.status < 200 || answer.status > 299) throw new ApiException(answer.status, `${request.method} ${request.path}`, text, {});
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** `/api/v1/namespaces/<namespace>/<resource>[/<name>[/<subresource>]]`, each segment escaped. */
export function corePath(namespace: string, resource: string, name?: string, subresource?: string): string {
  return ['/api/v1/namespaces', namespace, resource, name, subresource]
    .filter((s): s is string => s !== undefined)
    .map((s, i) => (i === 0 ? s : encodeURIComponent(s)))
    .join('/');
}
