/**
 * Every benchmark, one after the other, each printing its figures beside the reference it
 * is measured against. Usage: npm run bench   (after `npm run setup` or `npm test`)
 *   bench/webhook/run.ts   POST /mutate throughput, latency and memory next to vault-k8s
 *   bench/init/run.ts      init container wall time next to `vault agent` as an init
 *   bench/sidecar/run.ts   sidecar memory and idle CPU next to `vault agent` as a sidecar (5 min)
 *   bench/devcluster.ts    start-to-ready time and memory of the real parts
 *   bench/rotation/run.ts  one full rotation by eviction of 20 replicas on the real node (root)
 *   bench/scale/run.ts     Vault and eviction load of 10,000 rotating pods, simulated
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const BENCHMARKS = ['bench/webhook/run.ts', 'bench/init/run.ts', 'bench/sidecar/run.ts', 'bench/devcluster.ts', 'bench/rotation/run.ts', 'bench/scale/run.ts'] as const;

spawnSync(process.execPath, [path.join(root, 'scripts/bundle.ts')], { cwd: root, stdio: 'inherit' });
let failed = 0;
for (const bench of BENCHMARKS) {
  console.log(`\n=== ${bench}`);
  const run = spawnSync(process.execPath, [path.join(root, bench)], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) {
    failed += 1;
    console.error(`${bench} failed (exit ${String(run.status ?? run.signal)})`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
