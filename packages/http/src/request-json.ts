/**
 * One JSON request over node:http(s), for the injected containers' only peers (Vault and
 * the eviction endpoint). Not node-vault: in the sidecar it costs 8 MB of private memory
 * (26.1 against 18.0 MB) in every pod for the pod's whole life; in the init container,
 * loading it (axios, form-data, and undici, which axios's fetch adapter pulls in) takes
 * longer than vault agent's whole run (docs/performance.md, "Init"). Nor fetch, whose
 * undici would load on the first call for the same job. Never reads the environment
 * (no proxy, no VAULT_*), always verifies TLS, bounds the answer's size and the wait.
 */
// Loaded on the first request, not at import: the init container's startup snapshot cannot
// hold node:http's parser binding, and a plain-http Vault never needs TLS loaded. Not
// `import ... from 'node:http'` either: building that ESM namespace reads every export,
// and node:http's lazy WebSocket getter then loads undici, zlib, http2 and worker_threads
// (about 35 ms of every init container's start, several MB of every sidecar's memory).
const requestOf = (https: boolean) => (https ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http')).request;

export interface JsonRequest {
  readonly url: URL;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** PEM of the CA for https; Node's bundled roots when absent. */
  readonly caPem: string | undefined;
  readonly timeoutMs: number;
  /** Bytes kept of the answer (a longer one parses as no body); 64 KiB when absent. */
  readonly maxAnswerBytes?: number;
}

export interface JsonAnswer {
  readonly status: number;
  /** The parsed body, or undefined when it was empty or not JSON. */
  readonly body: unknown;
  /** The `Retry-After` header, when the answer had one (the webhook's rate limit sends it). */
  readonly retryAfter: string | undefined;
}

/** The request got no HTTP answer; only the socket error code is kept. */
export class NoAnswerError extends Error {
  readonly code: string;
  constructor(code: string) {
    super(`no answer (${code})`);
    this.name = 'NoAnswerError';
    this.code = code;
  }
}

const MAX_ANSWER_BYTES = 64 * 1024;

export function requestJson(req: JsonRequest): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const https = req.url.protocol === 'https:';
    const send = requestOf(https);
    const outgoing = send(
      req.url,
      {
        method: req.method,
        agent: false,
        headers: { ...req.headers, accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) },
        timeout: req.timeoutMs,
        ...(https ? { rejectUnauthorized: true, ...(req.caPem === undefined ? {} : { ca: req.caPem }) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= (req.maxAnswerBytes ?? MAX_ANSWER_BYTES)) chunks.push(chunk);
        });
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          const retryAfter = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, body, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined });
        });
        res.on('error', (err: NodeJS.ErrnoException) => reject(new NoAnswerError(err.code ?? 'ECONNRESET')));
      },
    );
    // A whole-request bound, not only socket idleness: a peer that trickles is no answer either.
    const timer = setTimeout(() => outgoing.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), req.timeoutMs);
    outgoing.on('close', () => clearTimeout(timer));
    outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    outgoing.on('error', (err: NodeJS.ErrnoException) => reject(new NoAnswerError(err.code ?? 'EUNKNOWN')));
    outgoing.end(payload);
  });
}
