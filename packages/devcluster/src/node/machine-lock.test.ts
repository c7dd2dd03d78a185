import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { acquireMachineLock, HOLDER_ENV, machineLockPath } from './machine-lock.ts';

const MODULE = new URL('./machine-lock.ts', import.meta.url).pathname;

function cacheEnv(t: { after(fn: () => void): void }): NodeJS.ProcessEnv {
  const dir = mkdtempSync(path.join(tmpdir(), 'vault-courier-lock-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { ...process.env, VAULT_COURIER_CACHE: dir };
}

/** A Node process that takes the lock, prints `locked`, then waits to be killed. */
function holder(env: NodeJS.ProcessEnv) {
  const code = `const { acquireMachineLock } = await import(${JSON.stringify(MODULE)}); await acquireMachineLock(); console.log('locked'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const locked = new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, locked, exited };
}

test('the lock file is in the cache, not /tmp/vc-node.lock (which callers may hold around a whole run)', () => {
  assert.equal(machineLockPath({ VAULT_COURIER_CACHE: '/c' }), '/c/node.lock');
});

/** Takes the lock; `waiting` resolves once it found the lock busy. */
function take(env: NodeJS.ProcessEnv) {
  let busy: () => void = () => undefined;
  const waiting = new Promise<void>((resolve) => (busy = resolve));
  let held = false;
  const lock = acquireMachineLock({ env, onWait: () => busy() }).then((l) => ((held = true), l));
  return { waiting, lock, held: () => held };
}

test('a second taker waits until the first releases, and is told it waits', async (t) => {
  const env = cacheEnv(t);
  const first = await acquireMachineLock({ env });
  const second = take(env);
  await second.waiting;
  assert.equal(second.held(), false, 'not while the first holds it');
  first.release();
  (await second.lock).release();
});

test('the death of the holder releases it, even by SIGKILL', async (t) => {
  const env = cacheEnv(t);
  const h = holder(env);
  await h.locked;
  const next = take(env);
  await next.waiting;
  h.child.kill('SIGKILL');
  await h.exited;
  (await next.lock).release();
});

test('processes started by the holder do not inherit the lock file', async (t) => {
  const lock = await acquireMachineLock({ env: cacheEnv(t) });
  t.after(() => lock.release());
  const child = spawn('/bin/sleep', ['5'], { stdio: 'ignore' });
  t.after(() => child.kill());
  const open = readdirSync(`/proc/${child.pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${child.pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
  assert.deepEqual(open.filter((file) => file === lock.path), []);
});

test("the holder's claim counts for its direct child only", async (t) => {
  const env = cacheEnv(t);
  const lock = await acquireMachineLock({ env });
  assert.deepEqual(lock.childEnv, { [HOLDER_ENV]: String(process.pid) });
  // As if our parent held it for us: granted at once, though the lock is held.
  const asChild = await acquireMachineLock({ env: { ...env, [HOLDER_ENV]: String(process.ppid) } });
  assert.equal(asChild.waitedMs, 0);
  // A claim naming any other process (a grandparent, ourselves) is no claim: we wait.
  const notOurs = take({ ...env, [HOLDER_ENV]: String(process.pid) });
  await notOurs.waiting;
  assert.equal(notOurs.held(), false);
  lock.release();
  (await notOurs.lock).release();
});

test('a taker who asks again right after releasing queues behind the one already waiting', async (t) => {
  const env = cacheEnv(t);
  const first = await acquireMachineLock({ env });
  const waiter = take(env);
  await waiter.waiting;
  first.release();
  const again = take(env);
  const held = await waiter.lock;
  await again.waiting;
  assert.equal(again.held(), false, 'the one asking again waits');
  held.release();
  (await again.lock).release();
});
