import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evictionRetryDelay, MIN_RETRY_DELAY_MS, type RetryDelayInput } from './retry-delay.ts';

const NOW = 1_000_000;

const rows: { name: string; input: RetryDelayInput; want: number }[] = [
  { name: 'early in the window: the backoff as it is', input: { kind: 'budget', backoffMs: 24_000, nowMs: NOW, limitMs: NOW + 90_000 }, want: 24_000 },
  { name: 'half the time left equals the backoff: the backoff', input: { kind: 'budget', backoffMs: 20_000, nowMs: NOW, limitMs: NOW + 40_000 }, want: 20_000 },
  { name: 'near the limit: capped at half the time left', input: { kind: 'budget', backoffMs: 24_000, nowMs: NOW, limitMs: NOW + 12_000 }, want: 6000 },
  { name: 'just before the limit: the floor, not less', input: { kind: 'budget', backoffMs: 24_000, nowMs: NOW, limitMs: NOW + 1500 }, want: MIN_RETRY_DELAY_MS },
  { name: 'at the limit: the floor', input: { kind: 'budget', backoffMs: 24_000, nowMs: NOW, limitMs: NOW }, want: MIN_RETRY_DELAY_MS },
  { name: 'past the limit: the floor', input: { kind: 'budget', backoffMs: 30_000, nowMs: NOW, limitMs: NOW - 60_000 }, want: MIN_RETRY_DELAY_MS },
  { name: 'a backoff below the floor is raised to it', input: { kind: 'budget', backoffMs: 200, nowMs: NOW, limitMs: NOW + 90_000 }, want: MIN_RETRY_DELAY_MS },
  { name: "the webhook's Retry-After, early: as it is", input: { kind: 'retry-after', retryAfterMs: 5000 }, want: 5000 },
  { name: "the webhook's Retry-After is never shortened, even longer than the backoff cap", input: { kind: 'retry-after', retryAfterMs: 60_000 }, want: 60_000 },
];

for (const row of rows) {
  test(`evictionRetryDelay: ${row.name}`, () => assert.equal(evictionRetryDelay(row.input), row.want));
}

test('evictionRetryDelay: a refused pod retries before its limit, then at the floor', () => {
  // From 30 s before the limit with a 30 s backoff every time: the attempts close in on it.
  const limitMs = NOW + 30_000;
  let now = NOW;
  const times: number[] = [];
  while (now < limitMs + 3000) {
    now += evictionRetryDelay({ kind: 'budget', backoffMs: 30_000, nowMs: now, limitMs });
    times.push(now - NOW);
  }
  // Four halvings, then the floor from 1.9 s before the limit on.
  assert.deepEqual(times, [15_000, 22_500, 26_250, 28_125, 29_125, 30_125, 31_125, 32_125, 33_125]);
});
