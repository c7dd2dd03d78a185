import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, EVICTION_ANSWERS, type EvictionReason } from '@vault-courier/core';
import { createRotateNow } from './rotate-now.ts';
import type { Clock } from './sidecar.ts';
import type { EndpointAnswer } from './endpoint.ts';

const JWT_CANARY = 'eyJcanary.jwt-must-never-be-logged.sig';
const PROBLEM = '/vault-courier/state/leases.json: lease manifest is not valid JSON (7 characters)';

function answer(reason: EvictionReason, retryAfterSeconds?: number): EndpointAnswer {
  return { status: EVICTION_ANSWERS[reason].code, reason, message: reason, retryAfterSeconds };
}

/** Timers that fire only when the test says so, one at a time. */
function steppedClock(): Clock & { fireNext(): number | undefined } {
  const timers = new Map<number, { fn: () => void; ms: number }>();
  let id = 0;
  return {
    now: () => Date.UTC(2026, 11, 1, 12, 0, 0),
    setTimer(fn, ms) {
      timers.set(++id, { fn, ms });
      return id;
    },
    clearTimer: (h) => void timers.delete(h as number),
    fireNext() {
      const [key, timer] = [...timers.entries()][0] ?? [];
      if (key === undefined || timer === undefined) return undefined;
      timers.delete(key);
      timer.fn();
      return timer.ms;
    },
  };
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

function harness(answers: EndpointAnswer[], mode: 'evict' | 'warn' = 'evict') {
  const lines: string[] = [];
  const posts: { path: string; body: Record<string, unknown> }[] = [];
  let revokes = 0;
  const clock = steppedClock();
  const rotate = createRotateNow({
    problem: PROBLEM,
    endpoint: mode === 'evict' ? '/evict' : '/expiry-warning',
    mode: { mode, why: 'test' },
    post: async (path, jwt, body) => {
      assert.equal(jwt, JWT_CANARY);
      posts.push({ path, body });
      return answers.shift() ?? answer('ClusterUnavailable');
    },
    readEvictJwt: async () => JWT_CANARY,
    vault: { lookupSelf: () => Promise.reject(new Error('unused')), renewSelf: () => Promise.reject(new Error('unused')), revokeSelf: async () => void revokes++ },
    terminationGracePeriodSeconds: 5,
    logger: createLogger({ name: 'rotate-now-test', destination: new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }) }),
    clock,
    random: () => 0.5,
  });
  return { rotate, posts, clock, lines, revokes: () => revokes };
}

test('an unreadable manifest: eviction asked for at once, retried while a PodDisruptionBudget blocks, then the sidecar waits for SIGTERM', async () => {
  const h = harness([answer('DisruptionBudget'), answer('RateLimited', 3), answer('Evicted')]);
  h.rotate.start();
  await flush();
  assert.equal(h.posts.length, 1, 'asked at start, without a timer');
  assert.equal(h.posts[0]?.path, '/evict');
  assert.match(String(h.posts[0]?.body.reason), /lease manifest cannot be read.*expiry is unknown/);
  assert.ok(h.clock.fireNext() !== undefined, 'a budget refusal is retried');
  await flush();
  assert.equal(h.clock.fireNext(), 3000, 'the rate limit waits its Retry-After');
  await flush();
  assert.equal(h.posts.length, 3);
  assert.equal(h.clock.fireNext(), undefined, 'accepted: nothing more to do');
  await h.rotate.shutdown();
  assert.equal(h.revokes(), 1, 'SIGTERM revokes the token');
  const log = h.lines.join('');
  assert.match(log, /leases\.json: lease manifest is not valid JSON/);
  assert.ok(!log.includes(JWT_CANARY), 'the eviction token is never logged');
});

test('an unreadable manifest in a pod nothing recreates: the expiry warning, dated now', async () => {
  const h = harness([answer('Warned')], 'warn');
  h.rotate.start();
  await flush();
  assert.equal(h.posts[0]?.path, '/expiry-warning');
  assert.equal(h.posts[0]?.body.expiresAt, '2026-12-01T12:00:00.000Z');
  assert.equal(h.clock.fireNext(), undefined);
});

test('an unreadable manifest in a pod that is gone: the token is revoked, once', async () => {
  const h = harness([answer('PodGone')]);
  h.rotate.start();
  await flush();
  assert.equal(h.revokes(), 1);
  await h.rotate.shutdown();
  assert.equal(h.revokes(), 1);
});
