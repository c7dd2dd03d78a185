/**
 * `node scripts/demo.ts` as a newcomer runs it (npm run demo, after set-up): with --once
 * it must exit 0 after one full rotation of every replica, tell it in its timeline, and
 * leave nothing behind; given Ctrl-C (SIGINT to the whole foreground process group) it
 * must stop by itself, in order, with every sidecar revoking its Vault token.
 *
 * Each test holds the machine's node lock for its demo (which then takes it as its
 * parent's), taken in a hook so that no timeout counts the time another file's node kept it.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { acquireMachineLock, type MachineLock } from '@vault-courier/devcluster';
import { processesMentioning, REPO_ROOT, waitFor } from './helpers.ts';

const TIMEOUT_MS = 330_000;

let lock: MachineLock;
beforeEach(async () => {
  lock = await acquireMachineLock();
});
afterEach(() => lock.release());

test('npm run demo -- --once: one full rotation of every replica, then exit 0', { timeout: TIMEOUT_MS + 30_000 }, async () => {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/demo.ts'), '--once'], { cwd: REPO_ROOT, env: { ...process.env, ...lock.childEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGINT'), TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  const output = `${stdout}\n${stderr}`;
  assert.equal(code, 0, `the demo exited ${code}:\n${output}`);

  const evicted = stdout.split('\n').filter((l) => /: eviction requested: accepted/.test(l));
  const revoked = stdout.split('\n').filter((l) => /database user \S+ revoked \(gone from pg_roles\)/.test(l));
  const connected = stdout.split('\n').filter((l) => /: running as database user /.test(l));
  assert.ok(evicted.length >= 3, `three evictions in the timeline:\n${stdout}`);
  assert.ok(revoked.length >= 3, `three old users revoked:\n${stdout}`);
  assert.ok(connected.length >= 6, `three originals and three replacements connected:\n${stdout}`);
  assert.match(stdout, /every replica rotated: 3 pods evicted and replaced, old users revoked, new users \S+, \S+, \S+/);
  assert.match(stdout, /--once: one full rotation done/);
  assert.match(stdout, /stopped: every process ended, temp dir removed/);
  assert.doesNotMatch(output, /password|"token"/i, 'no secret in the demo output');
  const dir = /component logs: (\S+)\/logs;/.exec(stdout)?.[1];
  assert.ok(dir, 'the demo names its temp dir');
  assert.deepEqual(processesMentioning(dir), [], 'no process of the demo is left running');
});

/** What a cluster leaves on the machine while it runs: none of it may outlive the demo. */
function machineFootprint(dir: string): { netns: boolean; mounts: number; processes: number[] } {
  const name = dir.replace(/.*vault-courier-devcluster-/, 'vault-courier-');
  const mounts = execFileSync('/usr/bin/findmnt', ['-rn', '-o', 'TARGET']).toString().split('\n').filter((m) => m.startsWith(dir)).length;
  return { netns: existsSync(`/run/netns/${name}`), mounts, processes: processesMentioning(dir) };
}

test('Ctrl-C: SIGINT to the whole process group stops the demo by itself, sidecars revoking their tokens', { timeout: 300_000 }, async () => {
  // Its own group, as a terminal's foreground job is: the signal goes to every process of it.
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/demo.ts')], { cwd: REPO_ROOT, env: { ...process.env, ...lock.childEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    await waitFor('three replicas connected to the database', 240_000, () => (stdout.split('\n').filter((l) => /: running as database user /.test(l)).length >= 3 ? true : undefined), 500);
    const dir = /component logs: (\S+)\/logs;/.exec(stdout)?.[1];
    assert.ok(dir, 'the demo names its temp dir');
    assert.equal(machineFootprint(dir).netns, true, 'the cluster has its network namespace while it runs');
    process.kill(-(child.pid ?? 0), 'SIGINT');
    const stoppedBy = Date.now() + 90_000;
    const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), stoppedBy - Date.now()))]);
    assert.equal(code, 130, `the demo exited by itself after one SIGINT:\n${stdout}`);
    const revoked = stdout.split('\n').filter((l) => /sidecar revoked its Vault token/.test(l));
    assert.ok(revoked.length >= 3, `every replica's sidecar revoked its token on the way out:\n${stdout}`);
    assert.match(stdout, /Ctrl-C: stopping the pods/);
    assert.match(stdout, /stopped: every process ended, temp dir removed/);
    assert.deepEqual(machineFootprint(dir), { netns: false, mounts: 0, processes: [] }, 'nothing of the cluster is left');
  } finally {
    if (child.exitCode === null) process.kill(-(child.pid ?? 0), 'SIGKILL');
  }
});
