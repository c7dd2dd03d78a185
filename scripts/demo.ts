/**
 * The local demo (npm run demo): a real cluster with one node, vault-courier installed by
 * its Helm chart, and a Deployment whose database credentials rotate by eviction, told as
 * a timeline. The loop itself is packages/devcluster/src/demo/loop.ts, the same one
 * `npm run demo:kind` (scripts/demo-kind.ts) runs on kind; presentDemo() is the part of
 * this script both share: arguments, Ctrl-C, --once.
 *
 * Usage (scripts/demo.sh runs the set-up first):
 *   node scripts/demo.ts            runs until Ctrl-C
 *   node scripts/demo.ts --once     exits 0 after one full rotation of every replica
 *   node scripts/demo.ts --ttl=90   database credentials TTL in seconds (default 60)
 */
import path from 'node:path';
import { NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE } from '@vault-courier/core';
import { ownSignals, startLoop, type DemoRun } from '@vault-courier/devcluster';

export interface DemoArgs {
  readonly once: boolean;
  readonly dbTtlSeconds: number;
}

/** `--once` and `--ttl=<seconds>`, and whatever else `extra` accepts; undefined for anything else. */
export function parseDemoArgs(args: readonly string[], extra: (arg: string) => boolean = () => false): DemoArgs | undefined {
  const ttlArg = args.find((a) => a.startsWith('--ttl='));
  const dbTtlSeconds = ttlArg === undefined ? 60 : Number(ttlArg.slice('--ttl='.length));
  const unknown = args.filter((a) => a !== '--once' && !a.startsWith('--ttl=') && !extra(a));
  if (unknown.length > 0 || !Number.isInteger(dbTtlSeconds) || dbTtlSeconds < 20) return undefined;
  return { once: args.includes('--once'), dbTtlSeconds };
}

export interface Presentation {
  readonly args: DemoArgs;
  /** What is about to start, printed first. */
  readonly intro: string;
  /** Starts the demo, printing timeline lines with `say`; `lines`: printed once it is up. */
  start(say: (line: string) => void): Promise<{ run: DemoRun; lines: readonly string[]; stop(): Promise<void> }>;
  /** Printed when everything is stopped. */
  readonly stopped: string;
}

/** Runs a demo until Ctrl-C, SIGTERM or (with --once) one full rotation; resolves to the exit code. */
export async function presentDemo(p: Presentation): Promise<number> {
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  // Ctrl-C reaches every process of the terminal's group; the cluster's own run in groups
  // of their own, so only this one hears it, and stops them in order.
  ownSignals();
  const started: { stop?: () => Promise<void> } = {};
  let stopping: Promise<number> | undefined;
  const finish = (code: number, why: string): Promise<number> =>
    (stopping ??= (async () => {
      say(`${why}: stopping the pods (their sidecars revoke their Vault tokens), then the cluster`);
      // Before the loop is up there is nothing to revoke: exiting runs the clean-up that removes the cluster.
      if (started.stop === undefined) return code;
      await started.stop();
      say(p.stopped);
      return code;
    })());
  const signalled = new Promise<number>((resolve) => {
    process.once('SIGINT', () => void finish(130, 'Ctrl-C').then(resolve));
    process.once('SIGTERM', () => void finish(143, 'SIGTERM').then(resolve));
  });
  say(p.intro);
  const up = await Promise.race([p.start(say), signalled]);
  if (typeof up === 'number') return up;
  started.stop = up.stop;
  const { run } = up;
  say(`ready: namespace ${run.namespace} (label ${NAMESPACE_LABEL}=${NAMESPACE_LABEL_VALUE}, Pod Security restricted), Deployment ${run.deployment} with ${run.timeline().replicas} replicas and a PodDisruptionBudget maxUnavailable 1`);
  for (const line of up.lines) say(line);
  if (!p.args.once) return signalled;
  const limitMs = (p.args.dbTtlSeconds * 3 + 120) * 1000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([signalled, run.rotated.then(() => 'rotated' as const), new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limitMs)))]);
  clearTimeout(timer);
  if (typeof outcome === 'number') return outcome;
  return outcome === 'rotated' ? finish(0, '--once: one full rotation done') : finish(1, `--once: no full rotation within ${limitMs / 1000} s`);
}

async function main(): Promise<number> {
  const args = parseDemoArgs(process.argv.slice(2));
  if (args === undefined) {
    console.error('usage: node scripts/demo.ts [--once] [--ttl=<seconds, >= 20>]');
    return 2;
  }
  return presentDemo({
    args,
    intro: `vault-courier demo: starting a cluster with one node (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy, CoreDNS), Vault and PostgreSQL, then vault-courier from its Helm chart (database TTL ${args.dbTtlSeconds} s)`,
    start: async (say) => {
      const loop = await startLoop({ dbTtlSeconds: args.dbTtlSeconds, onTimeline: say });
      const kubectl = loop.cluster.node?.kubectl ?? 'kubectl';
      return {
        run: loop,
        stop: () => loop.stop(),
        lines: [
          `component logs: ${path.join(loop.cluster.dir, 'logs')}; kubeconfig: ${loop.cluster.kubeconfigPath}`,
          `kubectl: ${kubectl} (try: KUBECONFIG=${loop.cluster.kubeconfigPath} ${kubectl} -n ${loop.namespace} get pods)`,
        ],
      };
    },
    stopped: 'stopped: every process ended, temp dir removed',
  });
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
