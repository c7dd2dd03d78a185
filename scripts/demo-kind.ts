/**
 * The demo on kind, after scripts/demo-kind.sh made the cluster and loaded the images onto
 * its node: Vault (dev mode) and PostgreSQL from their official images, then the very
 * steps `npm run demo` runs on the embedded cluster (packages/devcluster/src/demo/loop.ts):
 * Vault set up for the cluster, vault-courier by its chart, namespace `demo` opted in,
 * the demo app with its PDB, the same timeline.
 *
 * Usage (scripts/demo-kind.sh passes these): node scripts/demo-kind.ts --kubeconfig=<file> [--once] [--ttl=<seconds>]
 */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { runLoop } from '@vault-courier/devcluster';
import { startKindBackends, BACKENDS_NAMESPACE } from '@vault-courier/devcluster/demo/kind';
import { parseDemoArgs, presentDemo } from './demo.ts';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** An executable on PATH, as an absolute path (Helm runs with a PATH of its own). */
function onPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, name);
    if (dir !== '' && isExecutable(file)) return file;
  }
  throw new Error(`${name} is not on PATH`);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const kubeconfigPath = argv.find((a) => a.startsWith('--kubeconfig='))?.slice('--kubeconfig='.length);
  const args = parseDemoArgs(argv, (a) => a.startsWith('--kubeconfig='));
  if (args === undefined || kubeconfigPath === undefined) {
    console.error('usage: node scripts/demo-kind.ts --kubeconfig=<file> [--once] [--ttl=<seconds, >= 20>]   (npm run demo:kind runs it)');
    return 2;
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const dir = await mkdtemp(path.join(tmpdir(), 'vault-courier-kind-'));
  const context = kubeConfig.getCurrentContext();
  return presentDemo({
    args,
    intro: `vault-courier demo on kind (context ${context}): Vault (dev mode) and PostgreSQL from their official images, then vault-courier from its Helm chart (database TTL ${args.dbTtlSeconds} s)`,
    start: async (say) => {
      const backends = await startKindBackends({ kubeConfig, kubeconfigPath, kubectl: onPath('kubectl'), helm: onPath('helm'), dir });
      say(`backends: Vault and PostgreSQL running in namespace ${BACKENDS_NAMESPACE}, reached through kubectl port-forward`);
      const run = await runLoop(backends.target, { dbTtlSeconds: args.dbTtlSeconds, onTimeline: say }).catch(async (err: unknown) => {
        backends.stop();
        throw err;
      });
      return {
        run,
        stop: async () => {
          await run.stop();
          backends.stop();
          await rm(dir, { recursive: true, force: true });
        },
        lines: [`kubectl: kubectl --context ${context} -n ${run.namespace} get pods`],
      };
    },
    stopped: 'stopped: the demo pods are gone (their tokens revoked)',
  });
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error('demo:kind failed:', err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
