import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRateLimiter } from './rate-limit.ts';

test('a burst up to capacity passes, the next is refused with the wait until a token', () => {
  const rl = createRateLimiter({ capacity: 3, refillPerSecond: 0.5 });
  assert.deepEqual([0, 1, 2].map(() => rl.take('uid-a', 1000).allowed), [true, true, true]);
  assert.deepEqual(rl.take('uid-a', 1000), { allowed: false, retryAfterMs: 2000 });
});

test('tokens refill with time and never beyond capacity', () => {
  const rl = createRateLimiter({ capacity: 2, refillPerSecond: 1 });
  rl.take('u', 0);
  rl.take('u', 0);
  assert.equal(rl.take('u', 500).allowed, false);
  assert.equal(rl.take('u', 1000).allowed, true);
  // An hour idle refills to capacity (2), not 3600.
  assert.equal(rl.take('u', 3_601_000).allowed, true);
  assert.equal(rl.take('u', 3_601_000).allowed, true);
  assert.equal(rl.take('u', 3_601_000).allowed, false);
});

test('buckets are per key: one pod cannot use up another pod\'s budget', () => {
  const rl = createRateLimiter({ capacity: 1, refillPerSecond: 0.1 });
  assert.equal(rl.take('a', 0).allowed, true);
  assert.equal(rl.take('a', 0).allowed, false);
  assert.equal(rl.take('b', 0).allowed, true);
});

test('idle buckets are forgotten', () => {
  const rl = createRateLimiter({ capacity: 1, refillPerSecond: 1, idleForgetMs: 1000 });
  rl.take('a', 0);
  rl.take('b', 0);
  assert.equal(rl.size, 2);
  rl.take('c', 5000);
  assert.equal(rl.size, 1);
});

test('a clock going backwards refills nothing', () => {
  const rl = createRateLimiter({ capacity: 1, refillPerSecond: 1 });
  rl.take('a', 10_000);
  assert.equal(rl.take('a', 5_000).allowed, false);
});
