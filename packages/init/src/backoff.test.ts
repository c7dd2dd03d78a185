import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CourierError } from '@vault-courier/core';
import { retry, type RetryDeps } from './backoff.ts';

const OPTS = { initialMs: 100, maxMs: 1000 };

/** A clock that only moves when the loop sleeps. */
function manualTime(start = 1_000_000): RetryDeps & { slept: number[] } {
  let t = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    random: () => 1,
    sleep: (ms) => {
      slept.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

const down = (): CourierError => new CourierError('vault', 'Vault at http://v unreachable (ECONNREFUSED)', { retryable: true });

test('retry returns the first success after retryable failures, backing off', async () => {
  const deps = manualTime();
  let calls = 0;
  const value = await retry(
    () => {
      calls++;
      return calls < 4 ? Promise.reject(down()) : Promise.resolve('ok');
    },
    { deadlineMs: deps.now() + 60_000, deadlineSetting: 'X', backoff: OPTS },
    deps,
  );
  assert.equal(value, 'ok');
  assert.equal(calls, 4);
  assert.deepEqual(deps.slept, [100, 200, 400]);
});

test('retry gives up at the deadline with the last reason and the setting to raise', async () => {
  const deps = manualTime();
  const retries: number[] = [];
  await assert.rejects(
    retry(() => Promise.reject(down()), { deadlineMs: deps.now() + 2_000, deadlineSetting: 'VAULT_COURIER_INIT_DEADLINE_SECONDS', backoff: OPTS, onRetry: (_e, n) => retries.push(n) }, deps),
    (err: unknown) => {
      assert.ok(err instanceof CourierError);
      assert.equal(err.kind, 'vault');
      assert.match(err.message, /^Vault at http:\/\/v unreachable \(ECONNREFUSED\) \(gave up after 6 attempts in 2s; VAULT_COURIER_INIT_DEADLINE_SECONDS sets how long to retry\)$/);
      return true;
    },
  );
  // 100 + 200 + 400 + 800 = 1500 ms slept; the next wait is cut to the 500 ms left, and
  // the attempt at the deadline is the last.
  assert.deepEqual(deps.slept, [100, 200, 400, 800, 500]);
  assert.deepEqual(retries, [1, 2, 3, 4, 5]);
});

test('retry fails at once on a non-retryable error', async () => {
  const deps = manualTime();
  let calls = 0;
  await assert.rejects(
    retry(
      () => {
        calls++;
        return Promise.reject(new CourierError('vault', 'permission denied'));
      },
      { deadlineMs: deps.now() + 60_000, deadlineSetting: 'X' },
      deps,
    ),
    /permission denied/,
  );
  assert.equal(calls, 1);
  assert.deepEqual(deps.slept, []);
});

test('retry rethrows errors that are not CourierErrors untouched', async () => {
  const deps = manualTime();
  const bug = new TypeError('bug');
  await assert.rejects(retry(() => Promise.reject(bug), { deadlineMs: deps.now() + 60_000, deadlineSetting: 'X' }, deps), (err) => err === bug);
});

test('retry stops when its signal is aborted', async () => {
  const deps = manualTime();
  const controller = new AbortController();
  let calls = 0;
  await assert.rejects(
    retry(
      () => {
        calls++;
        controller.abort(new Error('another secret failed'));
        return Promise.reject(down());
      },
      { deadlineMs: deps.now() + 60_000, deadlineSetting: 'X', signal: controller.signal },
      deps,
    ),
    /another secret failed/,
  );
  assert.equal(calls, 1);
});
