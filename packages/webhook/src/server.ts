/**
 * Starts the webhook for real: HTTPS for the API server (and sidecars), plain HTTP for
 * metrics and probes, the certificate reloaded when its files change, and a close() that
 * drains. main.ts calls it in the pod; tests and the demo call it in-process on
 * 127.0.0.1:0.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import { Registry } from 'prom-client';
import { CONFIG_ENV, CourierError, type InjectionConfig, type ListenAddress, type Logger, type WebhookConfig } from '@vault-courier/core';
import { createApp, createMetricsApp } from './app.ts';
import { createWebhookMetrics } from './metrics.ts';
import { readTlsMaterial, watchTls } from './tls.ts';

export interface StartOptions {
  /** Served on /metrics; main.ts adds the default process metrics to it. */
  readonly registry?: Registry;
  /** Extra routes on the HTTPS port (POST /evict), built with the app's registry and configuration. */
  readonly routes?: (context: { readonly registry: Registry; readonly config: InjectionConfig }) => readonly Router[];
  /** How often the certificate files are compared with the served pair. */
  readonly tlsPollIntervalMs?: number;
  /** How long close() lets in-flight requests finish before cutting connections. */
  readonly drainTimeoutMs?: number;
  /**
   * How long close() keeps serving, unready, before it stops accepting: the API server
   * and kube-proxy learn of the pod's removal from the Service with a delay, and a review
   * sent to a closed port fails a pod creation under failurePolicy Fail. Every answer in
   * that time closes its keep-alive connection.
   */
  readonly shutdownDelayMs?: number;
}

export interface RunningWebhook {
  /** `https://host:port` of the admission port. */
  readonly url: string;
  readonly port: number;
  readonly metricsUrl: string;
  readonly metricsPort: number;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

function readPem(file: string | undefined, variable: string): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new CourierError('config', `${variable}: cannot read "${file}" (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
}

/** The file-free view of the configuration that the admission path uses. */
export function loadInjectionConfig(config: WebhookConfig): InjectionConfig {
  return {
    vaultAddr: config.vaultAddr,
    vaultCaPem: readPem(config.vaultCaCertFile, CONFIG_ENV.vaultCaCert),
    authPath: config.authPath,
    defaultRole: config.defaultRole,
    defaultVaultNamespace: config.defaultVaultNamespace,
    initImage: config.initImage,
    sidecarImage: config.sidecarImage,
    serviceUrl: config.serviceUrl,
    serviceCaPem: readPem(config.serviceCaCertFile, CONFIG_ENV.serviceCaCert),
    initResources: config.initResources,
    sidecarResources: config.sidecarResources,
    evictOwnerKinds: config.evictOwnerKinds,
  };
}

function listen(server: HttpServer | HttpsServer, address: ListenAddress): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function urlOf(scheme: 'http' | 'https', requested: ListenAddress, bound: AddressInfo): string {
  const host = requested.host ?? 'localhost';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${bound.port}`;
}

function closeServer(server: HttpServer | HttpsServer, drainTimeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    // Keep-alive connections with no request in flight would hold close() open.
    server.closeIdleConnections();
  });
}

export async function startWebhook(config: WebhookConfig, logger: Logger, options: StartOptions = {}): Promise<RunningWebhook> {
  const files = { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile };
  const tls = readTlsMaterial(files);
  const injection = loadInjectionConfig(config);
  const registry = options.registry ?? new Registry();
  const metrics = createWebhookMetrics(registry);
  let ready = false;
  let draining = false;
  const app = createApp({ config: injection, logger, registry, routes: options.routes?.({ registry, config: injection }) ?? [] });
  // The API server pools keep-alive connections by the Service's name and resolves an
  // endpoint only when it dials: after this replica left the Service it would go on
  // sending reviews over the connections it holds, until the port closed under them.
  // While draining, each answer closes its connection, so the next review dials a Ready one.
  const server = createHttpsServer({ ...tls, minVersion: 'TLSv1.2', headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 65_000 }, (req, res) => {
    if (draining) res.setHeader('Connection', 'close');
    app(req, res);
  });
  const metricsServer = createHttpServer(createMetricsApp({ registry, isReady: () => ready }));
  const watcher = watchTls(server, files, tls, { logger, intervalMs: options.tlsPollIntervalMs ?? 5_000, onReload: (result) => metrics.tlsReloads.inc({ result }) });
  let bound: AddressInfo;
  let metricsBound: AddressInfo;
  try {
    bound = await listen(server, config.listen);
    metricsBound = await listen(metricsServer, config.metricsListen);
  } catch (cause) {
    watcher.stop();
    server.close();
    metricsServer.close();
    throw new CourierError('config', `cannot listen (${CONFIG_ENV.listen} / ${CONFIG_ENV.metricsListen}): ${(cause as Error).message}`, { cause });
  }
  ready = true;
  const url = urlOf('https', config.listen, bound);
  const metricsUrl = urlOf('http', config.metricsListen, metricsBound);
  logger.info({ url, metricsUrl }, 'webhook listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port: bound.port,
    metricsUrl,
    metricsPort: metricsBound.port,
    close: () => {
      closing ??= (async () => {
        ready = false;
        draining = true;
        watcher.stop();
        if ((options.shutdownDelayMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, options.shutdownDelayMs));
        const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
        await closeServer(server, drainTimeoutMs);
        await closeServer(metricsServer, drainTimeoutMs);
        logger.info('webhook stopped');
      })();
      return closing;
    },
  };
}
