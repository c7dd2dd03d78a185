/**
 * `npm run cluster`: the demo's cluster kept for a user to try things on, like
 * `kind create cluster` without Docker: one real node, Vault and PostgreSQL configured as
 * in the demo, vault-courier installed by its chart, namespace `demo` opted in. Once ready
 * it prints lines a script can read (`export KUBECONFIG=…`, `export VAULT_ADDR=…`,
 * `export VAULT_TOKEN=…`, `export VAULT_CACERT=…`, `kubectl: …`), then stays until Ctrl-C
 * or SIGTERM and removes everything.
 *
 * Usage: npm run cluster [-- --ttl=<database TTL seconds, default 300>]
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { embeddedTarget, ownSignals, prepareCluster, startDevCluster, type DevCluster } from '@vault-courier/devcluster';

export const CLUSTER_NAMESPACE = 'demo';

/** The lines a script reads: every path absolute. */
export function readyLines(cluster: DevCluster, vaultCaPath: string): string[] {
  return [
    `export KUBECONFIG=${cluster.kubeconfigPath}`,
    `export VAULT_ADDR=${cluster.vault?.addr ?? ''}`,
    `export VAULT_TOKEN=${cluster.vault?.rootToken ?? ''}`,
    `export VAULT_CACERT=${vaultCaPath}`,
    `kubectl: ${cluster.node?.kubectl ?? ''}`,
  ];
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const ttlArg = args.find((a) => a.startsWith('--ttl='));
  const ttl = ttlArg === undefined ? 300 : Number(ttlArg.slice('--ttl='.length));
  if (args.some((a) => !a.startsWith('--ttl=')) || !Number.isInteger(ttl) || ttl < 20) {
    console.error('usage: npm run cluster [-- --ttl=<database credentials TTL in seconds, >= 20>]');
    return 2;
  }
  ownSignals();
  let stopping: Promise<void> | undefined;
  // A signal during start-up stops what has started so far.
  const started: { cluster?: DevCluster } = {};
  const stop = (why: string) =>
    (stopping ??= (async () => {
      process.stderr.write(`${why}: stopping the pods, the node and the control plane\n`);
      await started.cluster?.stop();
      process.stderr.write('stopped: every process ended, nothing left on the machine\n');
    })());
  const signalled = new Promise<number>((resolve) => {
    process.once('SIGINT', () => void stop('Ctrl-C').then(() => resolve(130)));
    process.once('SIGTERM', () => void stop('SIGTERM').then(() => resolve(143)));
  });
  process.stderr.write('vault-courier cluster: starting one node, Vault and PostgreSQL, then vault-courier from its chart\n');
  // Vault bare: the shared steps set it up, as on kind (npm run demo:kind).
  const cluster = await startDevCluster({ vault: true, configureVault: false, postgres: true, controllers: true, node: true });
  started.cluster = cluster;
  await prepareCluster(embeddedTarget(cluster), CLUSTER_NAMESPACE, ttl);
  // Vault serves TLS with a certificate of the cluster CA, as the injected containers see it.
  const vaultCaPath = path.join(cluster.dir, 'vault-ca.crt');
  await writeFile(vaultCaPath, cluster.vault?.caPem ?? cluster.caPem);
  for (const line of readyLines(cluster, vaultCaPath)) process.stdout.write(`${line}\n`);
  process.stderr.write(`ready: namespace ${CLUSTER_NAMESPACE} is opted in (Vault role "demo", database/creds/demo lives ${ttl} s); Ctrl-C removes everything\n`);
  return signalled;
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error('cluster failed:', err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
