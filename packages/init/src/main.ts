/**
 * vault-courier init container: the only file that reads process.env, builds the real
 * clients and handles signals. Exit codes: 0 delivered, 1 delivery failed (the last log
 * line says why, in one line), 2 invalid configuration (every problem, each naming its
 * variable).
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { CourierError, createLogger, parseInitConfig } from '@vault-courier/core';
import { createVaultClient } from './vault-client.ts';
import { deliver, failureReason } from './deliver.ts';

/** One Vault request; the retry loop, bounded by the deadline, covers the rest. */
const REQUEST_TIMEOUT_MS = 10_000;

async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleepFor(ms, undefined, signal === undefined ? undefined : { signal });
  } catch (err) {
    // Surface why we were stopped (another secret failed, SIGTERM), not a bare AbortError.
    throw signal?.aborted === true ? signal.reason : err;
  }
}

async function main(): Promise<number> {
  const logger = createLogger({ name: 'vault-courier-init' });
  const parsed = parseInitConfig(process.env);
  if ('errors' in parsed) {
    logger.error({ problems: parsed.errors }, `invalid configuration: ${parsed.errors.join('; ')}`);
    return 2;
  }
  const { config } = parsed;
  const log = logger.child({ pod: config.pod.name, namespace: config.pod.namespace });
  const controller = new AbortController();
  const stop = (signal: string) => () => controller.abort(new CourierError('io', `stopped by ${signal} before the secrets were delivered`));
  process.once('SIGTERM', stop('SIGTERM'));
  process.once('SIGINT', stop('SIGINT'));
  try {
    await deliver(
      config,
      {
        vault: createVaultClient({ addr: config.vaultAddr, caPem: config.vaultCaPem, namespace: config.vaultNamespace, requestTimeoutMs: REQUEST_TIMEOUT_MS }),
        readJwt: () => readFile(config.vaultJwtPath, 'utf8'),
        logger: log,
        now: Date.now,
        sleep,
        random: Math.random,
      },
      controller.signal,
    );
    return 0;
  } catch (err) {
    log.error({ err }, failureReason(err));
    return 1;
  }
}

// Exit explicitly: idle keep-alive sockets to Vault must not hold the pod's start.
function start(): void {
  void main().then((code) => process.exit(code));
}

// The image runs this file from a V8 startup snapshot (scripts/bundle.ts): every module
// above is already evaluated when the process starts, and start() runs on deserialization.
const { startupSnapshot } = process.getBuiltinModule('node:v8');
if (startupSnapshot.isBuildingSnapshot()) {
  // What the first Vault request loads, as far as a snapshot can hold it: node:http's
  // parser and TLS cannot be in one, net and crypto can (the first request's load: 1 to
  // 2 ms instead of 2 to 12). Math.random and crypto are reseeded on deserialization.
  process.getBuiltinModule('node:net');
  process.getBuiltinModule('node:crypto');
  startupSnapshot.setDeserializeMainFunction(start);
} else start();
