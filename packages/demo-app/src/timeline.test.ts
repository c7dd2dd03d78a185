import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, createTimeline, eventFromLine, usersAwaitingRevocation, type DemoEvent, type Timeline } from './timeline.ts';

const line = (msg: string, fields: Record<string, unknown> = {}) => JSON.stringify({ level: 'info', msg, ...fields });
const ref = (container: string) => ({ pod: 'p1', uid: 'u1', container });

test('eventFromLine: the log lines of init, sidecar and app that make the story; the rest is not', () => {
  const cases: [string, string, DemoEvent | undefined][] = [
    ['vault-courier-init', line('secret delivered', { secretName: 'db', leaseDurationSeconds: 60 }), { pod: 'p1', uid: 'u1', kind: 'delivered', secret: 'db', leaseSeconds: 60 }],
    ['vault-courier-init', line('logged in to Vault'), undefined],
    ['vault-courier-sidecar', line('deadline computed', { deadline: '2026-01-01T00:00:40.000Z' }), { pod: 'p1', uid: 'u1', kind: 'deadline', deadline: '2026-01-01T00:00:40.000Z' }],
    ['vault-courier-sidecar', line('eviction blocked (a PodDisruptionBudget allows no disruption now): retrying'), { pod: 'p1', uid: 'u1', kind: 'eviction-blocked' }],
    ['vault-courier-sidecar', line('eviction accepted: waiting for SIGTERM'), { pod: 'p1', uid: 'u1', kind: 'eviction-accepted' }],
    ['vault-courier-sidecar', line('Vault token revoked: its dynamic credentials are revoked with it'), { pod: 'p1', uid: 'u1', kind: 'token-revoked' }],
    ['app', line('connected to the database', { user: 'v-demo-1' }), { pod: 'p1', uid: 'u1', kind: 'connected', user: 'v-demo-1' }],
    ['app', line('query ok', { user: 'v-demo-1' }), undefined],
    ['app', 'not json', undefined],
  ];
  for (const [container, text, want] of cases) assert.deepEqual(eventFromLine(ref(container), text), want, `${container}: ${text}`);
});

function play(timeline: Timeline, events: DemoEvent[]): { timeline: Timeline; lines: string[] } {
  const lines: string[] = [];
  for (const event of events) {
    const applied = applyEvent(timeline, event);
    timeline = applied.timeline;
    lines.push(...applied.lines);
  }
  return { timeline, lines };
}

const start = (uid: string, user: string): DemoEvent[] => [
  { kind: 'pod-created', pod: `pod-${uid}`, uid, injected: true },
  { kind: 'connected', pod: `pod-${uid}`, uid, user },
];
const rotate = (uid: string, blocked: number): DemoEvent[] => [
  ...Array.from({ length: blocked }, (): DemoEvent => ({ kind: 'eviction-blocked', pod: `pod-${uid}`, uid })),
  { kind: 'eviction-accepted', pod: `pod-${uid}`, uid },
  { kind: 'pod-deleted', pod: `pod-${uid}`, uid },
];

test('a full rotation: every original evicted and gone, its user revoked, replacements running as new users', () => {
  let { timeline, lines } = play(createTimeline(2), [...start('a', 'user-a'), ...start('b', 'user-b'), ...rotate('a', 0), ...start('c', 'user-c'), ...rotate('b', 3)]);
  assert.equal(timeline.complete, false);
  assert.deepEqual(usersAwaitingRevocation(timeline), ['user-a', 'user-b']);
  assert.ok(lines.includes('pod-c: pod created (replacement), injected (init container + sidecar)'));
  assert.equal(lines.filter((l) => l.includes('blocked by the PodDisruptionBudget')).length, 1, 'a blocked eviction is told once per pod');
  assert.ok(lines.includes('pod-b: eviction requested: accepted after 3 blocked attempt(s)'));
  ({ timeline, lines } = play(timeline, [{ kind: 'user-revoked', user: 'user-a' }, { kind: 'user-revoked', user: 'user-b' }]));
  assert.equal(timeline.complete, false, 'one replacement is still missing');
  ({ timeline, lines } = play(timeline, start('d', 'user-d')));
  assert.equal(timeline.complete, true);
  assert.deepEqual(lines, ['pod-d: pod created (replacement), injected (init container + sidecar)', 'pod-d: running as database user user-d', 'every replica rotated: 2 pods evicted and replaced, old users revoked, new users user-c, user-d']);
  assert.deepEqual(usersAwaitingRevocation(timeline), []);
});

test('a replacement that got an old user again does not count as rotated', () => {
  const { timeline } = play(createTimeline(1), [...start('a', 'user-a'), ...rotate('a', 0), { kind: 'user-revoked', user: 'user-a' }, ...start('b', 'user-a')]);
  assert.equal(timeline.complete, false);
});

test('a pod deleted without an eviction (by hand) does not count as rotated', () => {
  const { timeline } = play(createTimeline(1), [...start('a', 'user-a'), { kind: 'pod-deleted', pod: 'pod-a', uid: 'a' }, { kind: 'user-revoked', user: 'user-a' }, ...start('b', 'user-b')]);
  assert.equal(timeline.complete, false);
});

test('an eviction seen twice (sidecar log and DisruptionTarget condition) is told once', () => {
  const accepted: DemoEvent = { kind: 'eviction-accepted', pod: 'pod-a', uid: 'a' };
  const { lines } = play(createTimeline(1), [...start('a', 'user-a'), accepted, accepted]);
  assert.equal(lines.filter((l) => l.includes('eviction requested: accepted')).length, 1);
});

test('a Warning Event of the API is told once, however often the API counts it again', () => {
  const warning: DemoEvent = { kind: 'warning', key: 'e1', object: 'pod/pod-a', reason: 'FailedScheduling', message: '0/1 nodes are available' };
  const { lines, timeline } = play(createTimeline(1), [warning, warning, { ...warning, key: 'e2', reason: 'BackOff' }]);
  assert.deepEqual(lines, ['pod/pod-a: warning FailedScheduling: 0/1 nodes are available', 'pod/pod-a: warning BackOff: 0/1 nodes are available']);
  assert.equal(timeline.complete, false);
});
