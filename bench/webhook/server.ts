/**
 * The webhook under benchmark, in its own process so the runner can pin it to one core.
 * Usage (by run.ts): node bench/webhook/server.ts <cert> <key>; prints its URL on stdout.
 * Logs at info level go to /dev/null: the per-review log line is part of the real cost.
 */
import { createLogger, parseConfig } from '@vault-courier/core';
import { pino } from 'pino';
import { startWebhook } from '@vault-courier/webhook/server';

const [cert, key] = process.argv.slice(2);
const config = parseConfig({
  VAULT_COURIER_LISTEN: '127.0.0.1:0',
  VAULT_COURIER_METRICS_LISTEN: '127.0.0.1:0',
  VAULT_COURIER_TLS_CERT: cert,
  VAULT_COURIER_TLS_KEY: key,
  VAULT_COURIER_VAULT_ADDR: 'https://vault.vault.svc:8200',
  VAULT_COURIER_DEFAULT_ROLE: 'app',
  VAULT_COURIER_INIT_IMAGE: 'ghcr.io/vault-courier/init:0.1.0',
  VAULT_COURIER_SIDECAR_IMAGE: 'ghcr.io/vault-courier/sidecar:0.1.0',
  VAULT_COURIER_SERVICE_URL: 'https://vault-courier.vault-courier.svc',
});
const logger = createLogger({ name: 'bench', destination: pino.destination({ dest: '/dev/null', sync: true }) });
const webhook = await startWebhook(config, logger);
console.log(webhook.url);
process.on('SIGTERM', () => {
  void webhook.close().then(() => process.exit(0));
});
