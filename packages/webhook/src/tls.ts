/**
 * The serving certificate, reloaded when its files change: cert-manager (or a kubelet
 * Secret update) replaces them in place, and the webhook must serve the new pair without
 * a restart. Like vault-k8s's GetCertificate, a new SecureContext is swapped in for new
 * connections; a half-written or mismatched pair is refused and the old one kept.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Server } from 'node:https';
import { CourierError, CONFIG_ENV, type Logger } from '@vault-courier/core';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Reads and checks the pair; throws CourierError('config') naming the variable. */
export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const read = (file: string, variable: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (cause) {
      throw new CourierError('config', `${variable}: cannot read "${file}" (${(cause as NodeJS.ErrnoException).code ?? 'error'}); mount the TLS Secret there`, { cause });
    }
  };
  const material = { cert: read(files.certFile, CONFIG_ENV.tlsCert), key: read(files.keyFile, CONFIG_ENV.tlsKey) };
  try {
    createSecureContext(material);
  } catch (cause) {
    throw new CourierError('config', `${CONFIG_ENV.tlsCert}/${CONFIG_ENV.tlsKey}: "${files.certFile}" and "${files.keyFile}" are not a matching PEM certificate and key`, { cause });
  }
  return material;
}

export interface TlsWatcher {
  /** Checks the files now (the timer calls it too); true if a new pair was installed. */
  check(): boolean;
  stop(): void;
}

export function watchTls(server: Server, files: TlsFiles, initial: TlsMaterial, options: { logger: Logger; intervalMs: number; onReload?: (result: 'ok' | 'failed') => void }): TlsWatcher {
  let current = initial;
  let lastFailure = '';
  const check = (): boolean => {
    let next: TlsMaterial;
    try {
      next = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
    } catch (err) {
      report(err);
      return false;
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return false;
    try {
      server.setSecureContext(next);
    } catch (err) {
      // Usually the moment between the certificate and the key being replaced: the next
      // tick sees the complete pair.
      report(err);
      return false;
    }
    current = next;
    lastFailure = '';
    options.logger.info({ certFile: files.certFile }, 'serving certificate reloaded');
    options.onReload?.('ok');
    return true;
  };
  const report = (err: unknown): void => {
    const text = err instanceof Error ? err.message : String(err);
    if (text === lastFailure) return;
    lastFailure = text;
    options.logger.warn({ err, certFile: files.certFile, keyFile: files.keyFile }, 'serving certificate not reloaded; keeping the previous one');
    options.onReload?.('failed');
  };
  const timer = setInterval(check, options.intervalMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
