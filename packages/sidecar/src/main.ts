/**
 * The sidecar binary: the only file that reads the environment, the state volume and
 * signals. Everything it decides lives in sidecar.ts (and core's deadline()), and what
 * it does without a readable lease manifest in unreadable-manifest.ts and rotate-now.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
// Subpath imports: the core index would pull the webhook's dependencies into this bundle.
import { createLogger } from '@vault-courier/core/support/logger';
import { CourierError } from '@vault-courier/core/support/errors';
import { MANIFEST_FILE, SIDECAR_CONTAINER_NAME, VAULT_TOKEN_FILE } from '@vault-courier/core/contract/names';
import { parseSidecarConfig, rotationMode } from './config.ts';
import { createDeadlineReporter } from './deadline-report.ts';
import { createEndpointClient } from './endpoint.ts';
import { createRotateNow } from './rotate-now.ts';
import { createSidecar } from './sidecar.ts';
import { decideStart, type ManifestRead } from './unreadable-manifest.ts';
import { createVaultToken } from './vault-token.ts';

// At info until the configuration, which validates the level, is parsed.
const log = createLogger({ name: SIDECAR_CONTAINER_NAME });

/** The file's text, or the code of the error that kept it from being read. */
async function readState(file: string): Promise<ManifestRead> {
  try {
    return { text: await readFile(file, 'utf8') };
  } catch (err) {
    return { errorCode: String((err as NodeJS.ErrnoException).code ?? 'error') };
  }
}

async function main(): Promise<void> {
  const config = parseSidecarConfig(process.env);
  log.level = config.logLevel;
  const manifestPath = join(config.stateDir, MANIFEST_FILE);
  const tokenPath = join(config.stateDir, VAULT_TOKEN_FILE);
  const [manifestRead, tokenRead] = await Promise.all([readState(manifestPath), readState(tokenPath)]);
  const mode = rotationMode(config);
  // Generous: the API server retries PDB status conflicts for a while before it answers 409.
  const post = createEndpointClient({ baseUrl: config.serviceUrl, caPem: config.serviceCaPem, timeoutMs: 30_000 });
  const readEvictJwt = async () => (await readFile(config.evictJwtPath, 'utf8')).trim();
  const logger = log.child({ namespace: config.podNamespace, pod: config.podName, uid: config.podUid });
  const vaultToken = (token: string) => createVaultToken({ addr: config.vaultAddr, caPem: config.vaultCaPem, namespace: config.vaultNamespace, token, requestTimeoutMs: 5000 });
  const start = decideStart(manifestPath, manifestRead, mode);

  let life: { start(): Promise<void> | void; shutdown(): Promise<void> };
  if (start.action === 'rotate-now') {
    life = createRotateNow({
      problem: start.problem,
      endpoint: start.endpoint,
      mode,
      post,
      readEvictJwt,
      vault: 'text' in tokenRead ? vaultToken(tokenRead.text.trim()) : undefined,
      terminationGracePeriodSeconds: config.gracePeriodSeconds,
      logger,
    });
  } else {
    if (!('text' in tokenRead)) throw new CourierError('io', `the Vault token file ${tokenPath} cannot be read (${tokenRead.errorCode}); the init container writes it before the sidecar starts`);
    life = createSidecar({
      manifest: start.manifest,
      pod: { uid: config.podUid, terminationGracePeriodSeconds: config.gracePeriodSeconds },
      mode,
      vault: vaultToken(tokenRead.text.trim()),
      post,
      readEvictJwt,
      reportDeadline: createDeadlineReporter({ post, readJwt: readEvictJwt, mode: mode.mode, logger }),
      logger,
    });
  }

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
    void life.shutdown().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => terminate('SIGTERM'));
  process.on('SIGINT', () => terminate('SIGINT'));
  await life.start();
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'sidecar failed to start');
  process.exit(1);
});
