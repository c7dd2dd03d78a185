import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from './backoff.ts';

const OPTS = { initialMs: 1000, maxMs: 30_000 };

const rows: { attempt: number; random: number; want: number }[] = [
  { attempt: 0, random: 0, want: 500 },
  { attempt: 0, random: 1, want: 1000 },
  { attempt: 1, random: 0.5, want: 1500 },
  { attempt: 3, random: 1, want: 8000 },
  { attempt: 5, random: 1, want: 30_000 },
  { attempt: 50, random: 0, want: 15_000 },
  { attempt: 5000, random: 1, want: 30_000 },
  { attempt: -1, random: 1, want: 1000 },
];

for (const row of rows) {
  test(`backoffDelay(attempt ${row.attempt}, random ${row.random}) = ${row.want}`, () => {
    assert.equal(backoffDelay(row.attempt, OPTS, () => row.random), row.want);
  });
}

test('backoffDelay never exceeds the cap and never goes below half a step', () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const d = backoffDelay(attempt, OPTS);
    assert.ok(d <= 30_000 && d >= 500, `${d}`);
  }
});
