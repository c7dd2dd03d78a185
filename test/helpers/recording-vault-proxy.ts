/**
 * A fault-injector-style recorder in front of the real Vault: an HTTPS server (the test
 * PKI's 127.0.0.1 certificate) that notes each request's method, path and X-Vault-Namespace
 * header, then forwards it unchanged to the real Vault and streams Vault's answer back. The
 * Vault built here has no namespaces (an Enterprise and OpenBao feature) and ignores the
 * header, so the header can only be proven on the wire; the real Vault still answers every
 * call. Never records the token or a body: they hold credentials.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { CertificateFiles } from '@vault-courier/devcluster/pki';

export interface RecordedVaultRequest {
  readonly method: string;
  /** The request path without its query, e.g. `/v1/auth/token/lookup-self`. */
  readonly path: string;
  /** X-Vault-Namespace as it arrived; undefined when absent. */
  readonly namespace: string | undefined;
  /** Vault's answer. */
  status?: number;
}

export interface RecordingVaultProxy {
  /** `https://127.0.0.1:<port>`. */
  readonly addr: string;
  readonly requests: RecordedVaultRequest[];
  close(): Promise<void>;
}

export async function startRecordingVaultProxy(vaultAddr: string, serving: CertificateFiles): Promise<RecordingVaultProxy> {
  const target = new URL(vaultAddr);
  const requests: RecordedVaultRequest[] = [];
  const [cert, key] = await Promise.all([readFile(serving.certPath), readFile(serving.keyPath)]);
  const server = createServer({ cert, key }, (req, res) => {
    const namespace = req.headers['x-vault-namespace'];
    const recorded: RecordedVaultRequest = { method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', namespace: Array.isArray(namespace) ? namespace.join(',') : namespace };
    requests.push(recorded);
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent: false }, (answer) => {
      recorded.status = answer.statusCode;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      recorded.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    addr: `https://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
