import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterBlockedEviction, afterEviction, formatRotationMessage, parseDeadlineReport, parseRotationCondition, rotationCondition, ROTATION_CONDITION_TYPE, type RotationState } from './rotation-condition.ts';

const D = '2026-12-01T10:15:00.000Z';
const E = '2026-12-01T10:20:00.000Z';
const scheduled: RotationState = { reason: 'Scheduled', deadline: D, earliestExpiry: E, lease: 'secret db (database/creds/app)', blockedBy: [] };

const messages: { name: string; state: RotationState; message: string }[] = [
  { name: 'scheduled', state: scheduled, message: `deadline=${D}; earliestExpiry=${E}; lease=secret db (database/creds/app)` },
  { name: 'blocked names every budget', state: { ...scheduled, reason: 'EvictionBlocked', blockedBy: ['web', 'zone-a'] }, message: `deadline=${D}; earliestExpiry=${E}; lease=secret db (database/creds/app); blockedBy=web,zone-a` },
  { name: 'expired while blocked names every budget', state: { ...scheduled, reason: 'Expired', blockedBy: ['web'] }, message: `deadline=${D}; earliestExpiry=${E}; lease=secret db (database/creds/app); blockedBy=web` },
  { name: 'nothing expires', state: { reason: 'NoDeadline', deadline: undefined, earliestExpiry: undefined, lease: undefined, blockedBy: [] }, message: 'deadline=none' },
  { name: 'evicting before any report: no invented deadline', state: { reason: 'Evicting', deadline: undefined, earliestExpiry: undefined, lease: undefined, blockedBy: [] }, message: '' },
  { name: 'a separator inside a value cannot split the message', state: { ...scheduled, lease: 'secret x (a;b=c)\n' }, message: `deadline=${D}; earliestExpiry=${E}; lease=secret x (a b=c)` },
];

for (const row of messages) {
  test(`formatRotationMessage: ${row.name}, and parse reads it back`, () => {
    assert.equal(formatRotationMessage(row.state), row.message);
    const parsed = parseRotationCondition(rotationCondition(row.state, new Date(D)));
    assert.ok(parsed && 'state' in parsed);
    assert.deepEqual(parsed.state, { ...row.state, lease: row.state.lease?.replace(/[;\n]/g, ' ').trim() });
  });
}

test('rotationCondition: False only while eviction is blocked; a time without fractions', () => {
  assert.deepEqual(rotationCondition(scheduled, new Date('2026-12-01T10:00:00.123Z')), {
    type: ROTATION_CONDITION_TYPE,
    status: 'True',
    reason: 'Scheduled',
    message: formatRotationMessage(scheduled),
    lastTransitionTime: '2026-12-01T10:00:00Z',
  });
  assert.equal(rotationCondition({ ...scheduled, reason: 'EvictionBlocked' }, new Date()).status, 'False');
  assert.equal(rotationCondition({ ...scheduled, reason: 'Expired' }, new Date()).status, 'False');
});

const parses: { name: string; condition: Parameters<typeof parseRotationCondition>[0]; want: ReturnType<typeof parseRotationCondition> }[] = [
  { name: 'no condition', condition: undefined, want: undefined },
  { name: 'another type', condition: { type: 'Ready', reason: 'Scheduled', message: '' }, want: undefined },
  { name: 'an unknown reason', condition: { type: ROTATION_CONDITION_TYPE, reason: 'Later', message: '' }, want: { problem: 'condition vault-courier.io/Rotation has reason "Later", not one of Scheduled, NotRotated, NoDeadline, EvictionBlocked, Evicting, Expired' } },
  { name: 'a malformed time', condition: { type: ROTATION_CONDITION_TYPE, reason: 'Scheduled', message: 'deadline=tomorrow' }, want: { problem: 'condition vault-courier.io/Rotation: deadline=tomorrow is not an ISO 8601 UTC time' } },
  {
    name: 'unknown keys of a newer webhook are ignored, spaces tolerated',
    condition: { type: ROTATION_CONDITION_TYPE, reason: 'EvictionBlocked', message: `deadline = ${D} ;future=1; blockedBy=web` },
    want: { state: { reason: 'EvictionBlocked', deadline: D, earliestExpiry: undefined, lease: undefined, blockedBy: ['web'] } },
  },
];

for (const row of parses) {
  test(`parseRotationCondition: ${row.name}`, () => assert.deepEqual(parseRotationCondition(row.condition), row.want));
}

const reports: { name: string; body: unknown; want: ReturnType<typeof parseDeadlineReport> }[] = [
  { name: 'evict mode', body: { deadline: D, earliestExpiry: E, lease: 'secret db (database/creds/app)', mode: 'evict' }, want: { state: scheduled } },
  { name: 'warn mode', body: { deadline: D, earliestExpiry: E, mode: 'warn' }, want: { state: { ...scheduled, reason: 'NotRotated', lease: undefined } } },
  { name: 'nothing expires', body: { deadline: null, earliestExpiry: null, mode: 'evict' }, want: { state: { reason: 'NoDeadline', deadline: undefined, earliestExpiry: undefined, lease: undefined, blockedBy: [] } } },
  { name: 'a time without milliseconds is written with them', body: { deadline: '2026-12-01T10:15:00Z', earliestExpiry: E, mode: 'evict' }, want: { state: { ...scheduled, lease: undefined } } },
  { name: 'not an object', body: [], want: { problems: ['the body must be a JSON object {deadline, earliestExpiry, lease, mode}'] } },
  {
    name: 'every problem at once, each naming its field',
    body: { deadline: 'soon', earliestExpiry: 5, lease: 7, mode: 'rotate' },
    want: { problems: ['body.deadline must be an ISO 8601 UTC time or null', 'body.earliestExpiry must be an ISO 8601 UTC time or null', 'body.mode must be "evict" or "warn"', 'body.lease must be a string'] },
  },
];

for (const row of reports) {
  test(`parseDeadlineReport: ${row.name}`, () => assert.deepEqual(parseDeadlineReport(row.body), row.want));
}

test('afterEviction keeps the reported deadline and names the budgets only while blocked', () => {
  assert.deepEqual(afterEviction(scheduled, { reason: 'evictionBlocked', blockedBy: ['web'] }), { ...scheduled, reason: 'EvictionBlocked', blockedBy: ['web'] });
  assert.deepEqual(afterEviction({ ...scheduled, reason: 'EvictionBlocked', blockedBy: ['web'] }, { reason: 'evicting' }), { ...scheduled, reason: 'Evicting' });
  assert.deepEqual(afterEviction(undefined, { reason: 'evicting' }), { reason: 'Evicting', deadline: undefined, earliestExpiry: undefined, lease: undefined, blockedBy: [] });
});

const EXPIRY = Date.parse(E);
const blocked: { name: string; previous: RotationState | undefined; nowMs: number; reason: string; newlyExpired: boolean }[] = [
  { name: 'before the expiry: blocked', previous: scheduled, nowMs: EXPIRY - 1, reason: 'EvictionBlocked', newlyExpired: false },
  { name: 'at the expiry: expired, newly', previous: scheduled, nowMs: EXPIRY, reason: 'Expired', newlyExpired: true },
  { name: 'after the expiry, blocked before: expired, newly', previous: { ...scheduled, reason: 'EvictionBlocked', blockedBy: ['web'] }, nowMs: EXPIRY + 5000, reason: 'Expired', newlyExpired: true },
  { name: 'expired already: still expired, not newly (one Warning)', previous: { ...scheduled, reason: 'Expired', blockedBy: ['web'] }, nowMs: EXPIRY + 9000, reason: 'Expired', newlyExpired: false },
  { name: 'no expiry ever reported: blocked, never a guess', previous: { ...scheduled, earliestExpiry: undefined }, nowMs: EXPIRY + 9000, reason: 'EvictionBlocked', newlyExpired: false },
  { name: 'no condition at all: blocked', previous: undefined, nowMs: EXPIRY, reason: 'EvictionBlocked', newlyExpired: false },
];
for (const row of blocked) {
  test(`afterBlockedEviction: ${row.name}`, () => {
    const { state, newlyExpired } = afterBlockedEviction(row.previous, ['web'], row.nowMs);
    assert.deepEqual({ reason: state.reason, blockedBy: state.blockedBy, newlyExpired }, { reason: row.reason, blockedBy: ['web'], newlyExpired: row.newlyExpired });
    assert.equal(state.earliestExpiry, row.previous?.earliestExpiry);
  });
}
