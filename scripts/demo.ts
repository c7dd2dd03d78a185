/**
 * The local demo (npm run demo): a real cluster with one node, vault-courier installed by
 * its Helm chart, and a Deployment whose database credentials rotate by eviction, told as
 * a timeline. The loop itself is packages/devcluster/src/demo/loop.ts.
 *
 * Usage (scripts/demo.sh runs the set-up first):
 *   node scripts/demo.ts            runs until Ctrl-C
 *   node scripts/demo.ts --once     exits 0 after one full rotation of every replica
 *   node scripts/demo.ts --ttl=90   database credentials TTL in seconds (default 60)
 */
import path from 'node:path';
import { NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE } from '@vault-courier/core';
import { ownSignals, startLoop, type Loop } from '@vault-courier/devcluster';

/** `--once` and `--ttl=<seconds>`; undefined for anything else. */
export function parseDemoArgs(args: readonly string[]): { once: boolean; dbTtlSeconds: number } | undefined {
  const ttlArg = args.find((a) => a.startsWith('--ttl='));
  const dbTtlSeconds = ttlArg === undefined ? 60 : Number(ttlArg.slice('--ttl='.length));
  const unknown = args.filter((a) => a !== '--once' && !a.startsWith('--ttl='));
  if (unknown.length > 0 || !Number.isInteger(dbTtlSeconds) || dbTtlSeconds < 20) return undefined;
  return { once: args.includes('--once'), dbTtlSeconds };
}

async function main(): Promise<number> {
  const parsed = parseDemoArgs(process.argv.slice(2));
  if (parsed === undefined) {
    console.error('usage: node scripts/demo.ts [--once] [--ttl=<seconds, >= 20>]');
    return 2;
  }
  const { once, dbTtlSeconds } = parsed;
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  // Ctrl-C reaches every process of the terminal's group; the cluster's own run in groups
  // of their own, so only this one hears it, and stops them in order.
  ownSignals();
  const started: { loop?: Loop } = {};
  let stopping: Promise<number> | undefined;
  const finish = (code: number, why: string): Promise<number> =>
    (stopping ??= (async () => {
      say(`${why}: stopping the pods (their sidecars revoke their Vault tokens), then the node and the control plane`);
      // Before the loop is up there is nothing to revoke: exiting runs the clean-up that removes the cluster.
      if (started.loop === undefined) return code;
      await started.loop.stop();
      say('stopped: every process ended, temp dir removed');
      return code;
    })());
  const signalled = new Promise<number>((resolve) => {
    process.once('SIGINT', () => void finish(130, 'Ctrl-C').then(resolve));
    process.once('SIGTERM', () => void finish(143, 'SIGTERM').then(resolve));
  });
  say(`vault-courier demo: starting a cluster with one node (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy, CoreDNS), Vault and PostgreSQL, then vault-courier from its Helm chart (database TTL ${dbTtlSeconds} s)`);
  const loop = await Promise.race([startLoop({ dbTtlSeconds, onTimeline: say }), signalled]);
  if (typeof loop === 'number') return loop;
  started.loop = loop;
  say(`ready: namespace ${loop.namespace} (label ${NAMESPACE_LABEL}=${NAMESPACE_LABEL_VALUE}, Pod Security restricted), Deployment ${loop.deployment} with 3 replicas and a PodDisruptionBudget maxUnavailable 1`);
  say(`component logs: ${path.join(loop.cluster.dir, 'logs')}; kubeconfig: ${loop.cluster.kubeconfigPath}`);
  say(`kubectl: ${loop.cluster.node?.kubectl ?? 'kubectl'} (try: KUBECONFIG=${loop.cluster.kubeconfigPath} ${loop.cluster.node?.kubectl ?? 'kubectl'} -n ${loop.namespace} get pods)`);
  if (!once) return signalled;
  const limitMs = (dbTtlSeconds * 3 + 120) * 1000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([signalled, loop.rotated.then(() => 'rotated' as const), new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limitMs)))]);
  clearTimeout(timer);
  if (typeof outcome === 'number') return outcome;
  return outcome === 'rotated' ? finish(0, '--once: one full rotation done') : finish(1, `--once: no full rotation within ${limitMs / 1000} s`);
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error('demo failed:', err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
