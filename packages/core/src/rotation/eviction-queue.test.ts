import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetLead, queueTurn, readBudgetLead, type BudgetFacts, type QueuePod, type QueueTurn } from './eviction-queue.ts';

const leadRows: { name: string; budget: Omit<BudgetFacts, 'name'>; want: { atOnce: number; leadMs: number } }[] = [
  { name: '20 pods, maxUnavailable 1: 20 cycles', budget: { expectedPods: 20, maxUnavailable: 1 }, want: { atOnce: 1, leadMs: 60_000 } },
  { name: '3 pods, maxUnavailable 1', budget: { expectedPods: 3, maxUnavailable: 1 }, want: { atOnce: 1, leadMs: 9000 } },
  { name: '20 pods, maxUnavailable 5: 4 waves', budget: { expectedPods: 20, maxUnavailable: 5 }, want: { atOnce: 5, leadMs: 12_000 } },
  { name: 'maxUnavailable 25% of 10 rounds up to 3: 4 waves', budget: { expectedPods: 10, maxUnavailable: '25%' }, want: { atOnce: 3, leadMs: 12_000 } },
  { name: 'minAvailable 18 of 20: 2 at once', budget: { expectedPods: 20, minAvailable: 18 }, want: { atOnce: 2, leadMs: 30_000 } },
  { name: 'minAvailable 90% of 20 rounds up to 18', budget: { expectedPods: 20, minAvailable: '90%' }, want: { atOnce: 2, leadMs: 30_000 } },
  { name: 'minAvailable 100%: none at once, counted as one (nothing rotates faster)', budget: { expectedPods: 4, minAvailable: '100%' }, want: { atOnce: 1, leadMs: 12_000 } },
  { name: 'neither set: all at once, one cycle', budget: { expectedPods: 6 }, want: { atOnce: 6, leadMs: 3000 } },
  { name: 'a malformed maxUnavailable falls back to minAvailable', budget: { expectedPods: 10, maxUnavailable: 'half', minAvailable: 9 }, want: { atOnce: 1, leadMs: 30_000 } },
  { name: 'no pods yet: no lead', budget: { expectedPods: 0, maxUnavailable: 1 }, want: { atOnce: 1, leadMs: 0 } },
];

for (const row of leadRows) {
  test(`budgetLead: ${row.name}`, () => {
    const got = budgetLead({ name: 'b', ...row.budget });
    assert.deepEqual({ atOnce: got.atOnce, leadMs: got.leadMs }, row.want);
    assert.equal(got.budget, 'b');
  });
}

test('budgetLead: the cycle scales the lead', () => {
  assert.equal(budgetLead({ name: 'b', expectedPods: 20, maxUnavailable: 1 }, 2200).leadMs, 44_000);
});

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const S = 1000;

/** A pod asking since 10 s ago whose credentials expire `expiresIn` s from now (grace 5 s). */
function pod(name: string, expiresIn: number | undefined, extra: Partial<QueuePod> = {}): QueuePod {
  return { name, uid: `uid-${name}`, expiresAtMs: expiresIn === undefined ? undefined : NOW + expiresIn * S, deadlineMs: NOW - 10 * S, leaving: false, ready: true, terminationGracePeriodSeconds: 5, ...extra };
}

const turnRows: { name: string; me: QueuePod; pods: QueuePod[]; atOnce?: number; want: QueueTurn }[] = [
  { name: 'alone: go', me: pod('a', 40), pods: [pod('a', 40)], want: { turn: 'go', why: 'first' } },
  { name: 'expires first of three asking: go', me: pod('a', 30), pods: [pod('a', 30), pod('b', 35), pod('c', 40)], want: { turn: 'go', why: 'first' } },
  { name: 'two expire sooner and ask: wait 2 s, behind the first', me: pod('c', 40), pods: [pod('a', 30), pod('b', 35), pod('c', 40)], want: { turn: 'wait', why: 'behind', ahead: 2, first: 'a', retryAfterSeconds: 2 } },
  { name: 'one sooner, but not asking yet (deadline ahead): go', me: pod('b', 40), pods: [pod('a', 30, { deadlineMs: NOW + S }), pod('b', 40)], want: { turn: 'go', why: 'first' } },
  { name: 'the one sooner is leaving (terminating or Evicting): go', me: pod('b', 40), pods: [pod('a', 30, { leaving: true }), pod('b', 40)], want: { turn: 'go', why: 'first' } },
  { name: 'one sooner never reported an expiry: it does not count', me: pod('b', 40), pods: [pod('a', undefined), pod('b', 40)], want: { turn: 'go', why: 'first' } },
  { name: 'same expiry: the smaller uid first', me: pod('b', 40), pods: [pod('a', 40), pod('b', 40)], want: { turn: 'wait', why: 'behind', ahead: 1, first: 'a', retryAfterSeconds: 1 } },
  { name: 'same expiry, the other way round: go', me: pod('a', 40), pods: [pod('a', 40), pod('b', 40)], want: { turn: 'go', why: 'first' } },
  { name: 'atOnce 2, one ahead: go', me: pod('b', 40), pods: [pod('a', 30), pod('b', 40)], atOnce: 2, want: { turn: 'go', why: 'first' } },
  { name: 'atOnce 2, two ahead: wait', me: pod('c', 40), pods: [pod('a', 30), pod('b', 35), pod('c', 40)], atOnce: 2, want: { turn: 'wait', why: 'behind', ahead: 2, first: 'a', retryAfterSeconds: 2 } },
  { name: 'at its limit (expiry − 5 s grace − 5 s margin): go whatever is ahead', me: pod('b', 10), pods: [pod('a', 5), pod('b', 10)], want: { turn: 'go', why: 'at-limit' } },
  { name: 'no expiry reported for me: go, as before the queue', me: pod('b', undefined), pods: [pod('a', 5), pod('b', undefined)], want: { turn: 'go', why: 'no-expiry' } },
  {
    name: '19 ahead, 100 s left before the limit: 19 s',
    me: pod('t', 110),
    pods: [...Array.from({ length: 19 }, (_, i) => pod(`p${String(i).padStart(2, '0')}`, 50 + i)), pod('t', 110)],
    want: { turn: 'wait', why: 'behind', ahead: 19, first: 'p00', retryAfterSeconds: 19 },
  },
  {
    name: '19 ahead, 14 s left before the limit: half of it, 7 s',
    me: pod('t', 24),
    pods: [...Array.from({ length: 19 }, (_, i) => pod(`p${String(i).padStart(2, '0')}`, 11 + i / 2)), pod('t', 24)],
    want: { turn: 'wait', why: 'behind', ahead: 19, first: 'p00', retryAfterSeconds: 7 },
  },
  {
    name: '100 ahead, a long TTL: at most 60 s',
    me: pod('t', 3600),
    pods: [...Array.from({ length: 100 }, (_, i) => pod(`p${i}`, 1000 + i)), pod('t', 3600)],
    want: { turn: 'wait', why: 'behind', ahead: 100, first: 'p0', retryAfterSeconds: 60 },
  },
  { name: 'not Ready yet (starting; AlwaysAllow would evict it at once): wait 2 s', me: pod('a', 40, { ready: false }), pods: [pod('a', 40, { ready: false })], want: { turn: 'wait', why: 'not-ready', retryAfterSeconds: 2 } },
  { name: 'not Ready at its limit (credentials expiring, crash-looping): go', me: pod('a', 9, { ready: false }), pods: [pod('a', 9, { ready: false })], want: { turn: 'go', why: 'at-limit' } },
  { name: 'one sooner but not Ready: it does not hold me', me: pod('b', 40), pods: [pod('a', 30, { ready: false }), pod('b', 40)], want: { turn: 'go', why: 'first' } },
  { name: '1.5 s before the limit, one ahead: at least 1 s', me: pod('b', 11.5), pods: [pod('a', 11), pod('b', 11.5)], want: { turn: 'wait', why: 'behind', ahead: 1, first: 'a', retryAfterSeconds: 1 } },
];

for (const row of turnRows) {
  test(`queueTurn: ${row.name}`, () => {
    assert.deepEqual(queueTurn({ me: row.me, pods: row.pods, atOnce: row.atOnce ?? 1, nowMs: NOW, safetyMarginMs: 5000 }), row.want);
  });
}

test('readBudgetLead: what budgetLead makes comes back; anything else is no lead', () => {
  const lead = budgetLead({ name: 'demo-app', expectedPods: 20, maxUnavailable: 1 });
  assert.deepEqual(readBudgetLead(JSON.parse(JSON.stringify(lead))), lead);
  const bad: unknown[] = [undefined, null, 'x', 42, {}, { ...lead, leadMs: -1 }, { ...lead, leadMs: 1.5 }, { ...lead, leadMs: 2 * 86_400_000 }, { ...lead, budget: 7 }, { ...lead, pods: '20' }];
  for (const value of bad) assert.equal(readBudgetLead(value), undefined, JSON.stringify(value));
});
