import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isCourierError } from '@vault-courier/core';
import { acquireMachineLock, HOLDER_ENV, machineLockPath } from './machine-lock.ts';

const MODULE = new URL('./machine-lock.ts', import.meta.url).pathname;

function cacheEnv(t: { after(fn: () => void): void }): NodeJS.ProcessEnv {
  const dir = mkdtempSync(path.join(tmpdir(), 'vault-courier-lock-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { ...process.env, VAULT_COURIER_CACHE: dir };
}

/**
 * Another process taking the lock (one process holds it once): it prints `waiting`,
 * `locked` and `released`; `again` on its stdin releases it and asks at once again.
 */
function otherProcess(env: NodeJS.ProcessEnv) {
  const code = `
    const { acquireMachineLock } = await import(${JSON.stringify(MODULE)});
    const take = () => acquireMachineLock({ onWait: () => console.log('waiting') }).then((l) => (console.log('locked'), l));
    let lock = await take();
    process.stdin.on('data', async () => { lock.release(); console.log('released'); lock = await take(); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const checks = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const check of checks) check();
  });
  /** Resolves once it said `word` `times` times. */
  const seen = (word: string, times = 1) => new Promise<void>((resolve) => {
    const check = () => {
      if (out.split('\n').filter((line) => line === word).length < times) return;
      checks.delete(check);
      resolve();
    };
    checks.add(check);
    check();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, seen, exited, again: () => child.stdin.write('again\n'), said: () => out.split('\n').filter(Boolean) };
}

/** Takes the lock here; `waiting` resolves once it found the lock busy. */
function take(env: NodeJS.ProcessEnv) {
  let busy: () => void = () => undefined;
  const waiting = new Promise<void>((resolve) => (busy = resolve));
  let held = false;
  const lock = acquireMachineLock({ env, onWait: () => busy() }).then((l) => ((held = true), l));
  return { waiting, lock, held: () => held };
}

test('the lock file is in the cache, not /tmp/vc-node.lock (which callers may hold around a whole run)', () => {
  assert.equal(machineLockPath({ VAULT_COURIER_CACHE: '/c' }), '/c/node.lock');
});

test('the holder asking again is refused at once, not left waiting for itself', async (t) => {
  const env = cacheEnv(t);
  const lock = await acquireMachineLock({ env });
  t.after(() => lock.release());
  await assert.rejects(acquireMachineLock({ env }), (err: unknown) => isCourierError(err, 'config') && /already holds the node lock/.test(err.message));
  lock.release();
  (await acquireMachineLock({ env })).release();
});

test('a second taker waits until the holder releases, and is told it waits', async (t) => {
  const env = cacheEnv(t);
  const holder = otherProcess(env);
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.seen('locked');
  const second = take(env);
  await second.waiting;
  assert.equal(second.held(), false, 'not while the other holds it');
  holder.again();
  (await second.lock).release();
  await holder.seen('released');
});

test('the death of the holder releases it, even by SIGKILL', async (t) => {
  const env = cacheEnv(t);
  const holder = otherProcess(env);
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.seen('locked');
  const next = take(env);
  await next.waiting;
  holder.child.kill('SIGKILL');
  await holder.exited;
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
  const holder = otherProcess(env);
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.seen('locked');
  // As if our parent held it for us: granted at once, though another process holds it.
  const asChild = await acquireMachineLock({ env: { ...env, [HOLDER_ENV]: String(process.ppid) } });
  assert.equal(asChild.waitedMs, 0);
  assert.deepEqual(asChild.childEnv, {}, 'not passed on further down');
  // A claim naming any other process (the holder, a grandparent) is no claim: we wait.
  const notOurs = take({ ...env, [HOLDER_ENV]: String(holder.child.pid) });
  await notOurs.waiting;
  assert.equal(notOurs.held(), false);
  holder.child.kill('SIGKILL');
  const lock = await notOurs.lock;
  assert.deepEqual(lock.childEnv, { [HOLDER_ENV]: String(process.pid) });
  lock.release();
});

test('a holder who asks again right after releasing queues behind the one already waiting', async (t) => {
  const env = cacheEnv(t);
  const holder = otherProcess(env);
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.seen('locked');
  const waiter = take(env);
  await waiter.waiting;
  holder.again();
  const lock = await waiter.lock;
  await holder.seen('waiting');
  assert.deepEqual(holder.said(), ['locked', 'released', 'waiting'], 'the one asking again waits');
  lock.release();
  await holder.seen('locked', 2);
});
