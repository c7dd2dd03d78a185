import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uidFraction } from './deadline.ts';
import { renewAtMs, type RenewalOptions } from './renewal.ts';

const SINCE = 1_700_000_000_000;
const UID = '0b4d7c1e-5f1a-4c39-9e0d-3f8a2b6c7d10';
const F = uidFraction(UID);

const rows: { name: string; ttlSeconds: number; uid: string; options?: RenewalOptions; want: number }[] = [
  { name: 'no jitter: exactly two thirds', ttlSeconds: 3600, uid: UID, options: { jitterFraction: 0 }, want: SINCE + 2_400_000 },
  { name: 'default: two thirds less up to a tenth, by the uid', ttlSeconds: 3600, uid: UID, want: Math.floor(SINCE + 3_600_000 * (2 / 3 - 0.1 * F)) },
  { name: 'the spread scales with the TTL', ttlSeconds: 60, uid: UID, want: Math.floor(SINCE + 60_000 * (2 / 3 - 0.1 * F)) },
  { name: 'another fraction', ttlSeconds: 100, uid: UID, options: { fraction: 0.5, jitterFraction: 0 }, want: SINCE + 50_000 },
  { name: 'a jitter larger than the fraction renews at the start at worst', ttlSeconds: 100, uid: UID, options: { fraction: 0.2, jitterFraction: 5 }, want: Math.floor(SINCE + 100_000 * (0.2 - 0.2 * F)) },
  { name: 'TTL 0: at once', ttlSeconds: 0, uid: UID, want: SINCE },
];

for (const row of rows) {
  test(`renewAtMs: ${row.name}`, () => assert.equal(renewAtMs(SINCE, row.ttlSeconds, row.uid, row.options), row.want));
}

test('renewAtMs: stays within [2/3 − 10%, 2/3] of the TTL and spreads many uids', () => {
  const at = Array.from({ length: 1000 }, (_, i) => renewAtMs(0, 3600, `pod-${i}-uid`) / 3_600_000);
  for (const a of at) assert.ok(a <= 2 / 3 && a >= 2 / 3 - 0.1, `${a}`);
  // Ten bins over the window each hold some: no spike left.
  const bins = new Array<number>(10).fill(0);
  for (const a of at) bins[Math.min(9, Math.floor((2 / 3 - a) / 0.01))]! += 1;
  for (const b of bins) assert.ok(b > 50 && b < 150, bins.join(','));
});

test('renewAtMs: the same uid gives the same time (a restarted sidecar keeps its schedule)', () => {
  assert.equal(renewAtMs(SINCE, 600, UID), renewAtMs(SINCE, 600, UID));
  assert.notEqual(renewAtMs(SINCE, 600, UID), renewAtMs(SINCE, 600, `${UID.slice(0, -1)}1`));
});
