/**
 * `npm run cluster` as a user runs it: the lines it prints once ready work in a shell
 * (KUBECONFIG, VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, kubectl), the README's example
 * Deployment runs injected on it, and SIGTERM removes everything. A cluster whose
 * orchestrator was killed with SIGKILL (its components live on in their own process
 * groups) is removed whole by the next start's clean-up.
 *
 * Each test holds the machine's node lock for its `npm run cluster` (which then takes it
 * as its parent's): another test file's node must not start, and clean up the killed
 * cluster first, between the SIGKILL and this test's own clean-up; and no timeout may
 * count the time another file's node kept the lock.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { acquireMachineLock, removeStaleClusters, type MachineLock } from '@vault-courier/devcluster';
import { processesMentioning, REPO_ROOT, waitFor } from './helpers.ts';

const run = promisify(execFile);

interface Started {
  readonly child: ChildProcess;
  readonly env: Record<string, string>;
  readonly kubectl: string;
  readonly exited: Promise<number | null>;
  output(): string;
}

async function startCluster(lock: MachineLock): Promise<Started> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/cluster.ts'), '--ttl=120'], { cwd: REPO_ROOT, env: { ...process.env, ...lock.childEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await waitFor('the cluster ready lines', 240_000, () => (/^kubectl: /m.test(stdout) || child.exitCode !== null ? true : undefined), 250);
  assert.equal(child.exitCode, null, `npm run cluster exited early:\n${stdout}\n${stderr}`);
  const env = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
  const kubectl = /^kubectl: (.*)$/m.exec(stdout)?.[1] ?? '';
  return { child, env, kubectl, exited, output: () => `${stdout}\n${stderr}` };
}

/** A GET's status, trusting only `ca` (what VAULT_CACERT names). */
function httpsStatus(url: string, headers: Record<string, string>, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    https.get(url, { headers, ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

function assertReadyLines(env: Record<string, string>, kubectl: string): void {
  for (const key of ['KUBECONFIG', 'VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_CACERT']) assert.ok(env[key], `export ${key}=… printed`);
  for (const file of [env.KUBECONFIG, env.VAULT_CACERT, kubectl]) assert.ok(path.isAbsolute(file ?? '') && existsSync(file ?? ''), `${file} is an absolute path that exists`);
  assert.match(env.VAULT_ADDR ?? '', /^https:\/\/127\.0\.0\.1:\d+$/, 'Vault is published on loopback, over TLS');
}

function footprintOf(kubeconfig: string): { dir: string; netns: string } {
  const dir = path.dirname(kubeconfig);
  return { dir, netns: `/run/netns/${path.basename(dir).replace('vault-courier-devcluster-', 'vault-courier-')}` };
}

function leftovers(dir: string, netns: string): { netns: boolean; mounts: number; processes: number[]; dir: boolean } {
  const mounts = execFileSync('/usr/bin/findmnt', ['-rn', '-o', 'TARGET']).toString().split('\n').filter((m) => m.startsWith(dir)).length;
  return { netns: existsSync(netns), mounts, processes: processesMentioning(dir), dir: existsSync(dir) };
}

// In hooks, so that no test's timeout counts the wait.
let lock: MachineLock;
beforeEach(async () => {
  lock = await acquireMachineLock();
});
afterEach(() => lock.release());

test('npm run cluster: the printed lines work, the README example runs injected, SIGTERM removes everything', { timeout: 400_000 }, async () => {
  const cluster = await startCluster(lock);
  try {
    const { env, kubectl } = cluster;
    assertReadyLines(env, kubectl);
    // The discovery cache in the cluster's directory, not in ~/.kube.
    const kenv = { ...process.env, KUBECONFIG: env.KUBECONFIG, KUBECACHEDIR: path.join(path.dirname(env.KUBECONFIG ?? ''), 'kubectl-cache') };
    const nodes = (await run(kubectl, ['get', 'nodes', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}'], { env: kenv })).stdout;
    assert.equal(nodes, 'True', 'kubectl with the printed KUBECONFIG sees a Ready node');
    const lookup = await httpsStatus(`${env.VAULT_ADDR}/v1/auth/token/lookup-self`, { 'X-Vault-Token': env.VAULT_TOKEN ?? '' }, readFileSync(env.VAULT_CACERT ?? ''));
    assert.equal(lookup, 200, 'VAULT_ADDR, VAULT_TOKEN and VAULT_CACERT reach Vault over verified TLS');

    await run(kubectl, ['apply', '-f', path.join(REPO_ROOT, 'docs/examples/try-deployment.yaml')], { env: kenv });
    await run(kubectl, ['-n', 'demo', 'rollout', 'status', 'deployment/try-me', '--timeout=180s'], { env: kenv });
    const pods = JSON.parse((await run(kubectl, ['-n', 'demo', 'get', 'pods', '-l', 'app=try-me', '-o', 'json'], { env: kenv })).stdout) as { items: { metadata: { name: string; annotations?: Record<string, string> } }[] };
    assert.equal(pods.items.length, 2);
    for (const pod of pods.items) {
      assert.equal(pod.metadata.annotations?.['vault-courier.io/status'], 'injected');
      // Ready means started (the example has no probe): its first line may come a moment later.
      const log = await waitFor(`${pod.metadata.name}'s first line`, 30_000, async () => {
        const { stdout } = await run(kubectl, ['-n', 'demo', 'logs', pod.metadata.name, '-c', 'app'], { env: kenv });
        return stdout === '' ? undefined : stdout;
      });
      assert.match(log, /^database user v-/m, `${pod.metadata.name} read its database credentials`);
    }
  } finally {
    process.kill(-(cluster.child.pid ?? 0), 'SIGTERM');
  }
  const code = await cluster.exited;
  assert.equal(code, 143, cluster.output());
  const { dir, netns } = footprintOf(cluster.env.KUBECONFIG ?? '');
  assert.deepEqual(leftovers(dir, netns), { netns: false, mounts: 0, processes: [], dir: false }, 'nothing of the cluster is left');
});

test('a cluster whose orchestrator was killed with SIGKILL is removed whole by the next clean-up', { timeout: 300_000 }, async () => {
  const cluster = await startCluster(lock);
  const { dir, netns } = footprintOf(cluster.env.KUBECONFIG ?? '');
  // Only the orchestrator: the components run in process groups of their own and live on.
  cluster.child.kill('SIGKILL');
  await cluster.exited;
  const orphaned = leftovers(dir, netns);
  assert.ok(orphaned.netns && orphaned.mounts > 0 && orphaned.processes.length > 0, `the killed cluster left its parts running: ${JSON.stringify(orphaned)}`);
  const removed = removeStaleClusters();
  assert.ok(removed.some((f) => f.dir === dir), 'the stale cluster was found');
  assert.deepEqual(leftovers(dir, netns), { netns: false, mounts: 0, processes: [], dir: false }, 'nothing of it is left');
});
