/**
 * `node scripts/demo.ts --once` as a newcomer runs it (npm run demo -- --once, after
 * set-up): it must exit 0 after one full rotation of every replica, tell it in its
 * timeline, and leave no process of its own behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { processesMentioning, REPO_ROOT } from './helpers.ts';

const TIMEOUT_MS = 330_000;

test('npm run demo -- --once: one full rotation of every replica, then exit 0', { timeout: TIMEOUT_MS + 30_000 }, async () => {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/demo.ts'), '--once'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
