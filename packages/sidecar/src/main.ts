/**
 * The sidecar binary: the only file that reads the environment, the state volume and
 * signals. Everything it decides lives in sidecar.ts (and core's deadline()).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
// Subpath imports: the core index would pull the webhook's dependencies into this bundle.
import { createLogger } from '@vault-courier/core/support/logger';
import { parseManifest } from '@vault-courier/core/contract/manifest';
import { MANIFEST_FILE, SIDECAR_CONTAINER_NAME, VAULT_TOKEN_FILE } from '@vault-courier/core/contract/names';
import { parseSidecarConfig, rotationMode } from './config.ts';
import { createDeadlineReporter } from './deadline-report.ts';
import { createEndpointClient } from './endpoint.ts';
import { createSidecar } from './sidecar.ts';
import { createVaultToken } from './vault-token.ts';

// At info until the configuration, which validates the level, is parsed.
const log = createLogger({ name: SIDECAR_CONTAINER_NAME });

async function main(): Promise<void> {
  const config = parseSidecarConfig(process.env);
  log.level = config.logLevel;
  const [manifestText, vaultTokenText] = await Promise.all([readFile(join(config.stateDir, MANIFEST_FILE), 'utf8'), readFile(join(config.stateDir, VAULT_TOKEN_FILE), 'utf8')]);
  const manifest = parseManifest(manifestText);
  const mode = rotationMode(config);
  // Generous: the API server retries PDB status conflicts for a while before it answers 409.
  const post = createEndpointClient({ baseUrl: config.serviceUrl, caPem: config.serviceCaPem, timeoutMs: 30_000 });
  const readEvictJwt = async () => (await readFile(config.evictJwtPath, 'utf8')).trim();
  const logger = log.child({ namespace: config.podNamespace, pod: config.podName, uid: config.podUid });
  const sidecar = createSidecar({
    manifest,
    pod: { uid: config.podUid, terminationGracePeriodSeconds: config.gracePeriodSeconds },
    mode,
    vault: createVaultToken({ addr: config.vaultAddr, caPem: config.vaultCaPem, namespace: config.vaultNamespace, token: vaultTokenText.trim(), requestTimeoutMs: 5000 }),
    post,
    readEvictJwt,
    reportDeadline: createDeadlineReporter({ post, readJwt: readEvictJwt, mode: mode.mode, logger }),
    logger,
  });

  // A native sidecar (restartPolicy: Always) runs until the kubelet's SIGTERM, even with
  // nothing left to do (its pod gone, its token revoked): an exit would only be restarted.
  // The sidecar's own timers stop then, so this keeps the process alive.
  const idle = setInterval(() => undefined, 3_600_000);
  let terminating = false;
  const terminate = (signal: string) => {
    if (terminating) return;
    terminating = true;
    clearInterval(idle);
    log.info({ signal }, 'terminating: revoking the Vault token');
    void sidecar.shutdown().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => terminate('SIGTERM'));
  process.on('SIGINT', () => terminate('SIGINT'));
  await sidecar.start();
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'sidecar failed to start');
  process.exit(1);
});
