/**
 * Warm start-to-ready time and memory of the dev cluster (etcd, kube-apiserver,
 * kube-controller-manager, Vault, PostgreSQL), over 3 start/stop cycles.
 * Usage: bash scripts/node.sh bench/devcluster.ts
 */
import { startDevCluster } from '@vault-courier/devcluster';
import { groupRssBytes } from '@vault-courier/devcluster/process';

const RUNS = 3;
const rows: Array<{ run: number; readyMs: number; stopMs: number; rssMiB: number; perComponentMiB: string; readyAfterMs: string }> = [];
for (let run = 1; run <= RUNS; run++) {
  const cluster = await startDevCluster({ vault: true, postgres: true, controllers: true });
  const perComponentMiB = cluster.processes.map((p) => `${p.name}=${(groupRssBytes(p.pid) / 2 ** 20).toFixed(0)}`).join(' ');
  const rssMiB = cluster.memoryBytes() / 2 ** 20;
  const stopStarted = Date.now();
  await cluster.stop();
  rows.push({ run, readyMs: cluster.startupMs, stopMs: Date.now() - stopStarted, rssMiB: Math.round(rssMiB), perComponentMiB, readyAfterMs: JSON.stringify(cluster.readyAfterMs) });
}
console.table(rows);
const ready = rows.map((r) => r.readyMs).sort((a, b) => a - b);
console.log(`start-to-ready: median ${ready[Math.floor(RUNS / 2)]} ms (min ${ready[0]}, max ${ready[RUNS - 1]}); memory (sum of RSS): ${rows.map((r) => r.rssMiB).join(', ')} MiB`);
