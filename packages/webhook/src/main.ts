/**
 * The webhook process: the only file that reads process.env. Configuration errors stop
 * it at start, naming the variable; SIGTERM drains in-flight reviews, then exits.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createLogger, isCourierError, parseConfig, type WebhookConfig } from '@vault-courier/core';
import { assertInjectable } from './app.ts';
import { evictRoutes } from './evict/router.ts';
import { loadInjectionConfig, startWebhook } from './server.ts';

// At info until the configuration, which validates the level, is parsed.
const logger = createLogger({ name: 'vault-courier-webhook' });

/**
 * The configuration, and what the admission path will hand to the injected containers
 * (the CA files read), held to the containers' own validators.
 */
function loadConfig(): WebhookConfig {
  const parsed = parseConfig(process.env);
  const injection = loadInjectionConfig(parsed);
  assertInjectable(injection);
  return parsed;
}

let config: WebhookConfig;
try {
  config = loadConfig();
} catch (err) {
  logger.fatal({ err }, 'invalid configuration');
  // Also as plain lines: what `kubectl logs` readers look for first.
  console.error(`vault-courier-webhook: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
logger.level = config.logLevel;

const registry = new Registry();
collectDefaultMetrics({ register: registry });
// In the pod, the webhook's own service account: never loadFromDefault(), which quietly
// falls back to http://localhost:8080.
const kubeConfig = new KubeConfig();
kubeConfig.loadFromCluster();

const started = startWebhook(config, logger, {
  registry,
  shutdownDelayMs: 5_000,
  routes: evictRoutes(logger, kubeConfig),
});

let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'draining');
  started
    .then((webhook) => webhook.close())
    .then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
}
// Registered before the listeners open, so a SIGTERM during start still drains.
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

try {
  await started;
} catch (err) {
  logger.fatal({ err, kind: isCourierError(err) ? err.kind : undefined }, 'webhook failed to start');
  console.error(`vault-courier-webhook: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
