import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCourierError } from '../support/errors.ts';
import { leaseIssuedAt, MANIFEST_VERSION, parseManifest, serializeManifest, type LeaseManifest } from './manifest.ts';

const T = 1_800_000_000_000;

// The rule that makes every expiry the sidecar computes err early: the issue time is the
// earlier of the request's sending and its answer, never the answer alone.
const ISSUE_TIMES: ReadonlyArray<{ name: string; sentAtMs: number; answeredAtMs: number; issuedAtMs: number }> = [
  { name: 'an instant answer', sentAtMs: T, answeredAtMs: T, issuedAtMs: T },
  { name: 'a fast answer', sentAtMs: T, answeredAtMs: T + 40, issuedAtMs: T },
  { name: 'a slow database: the answer 9 s after the request', sentAtMs: T, answeredAtMs: T + 9_000, issuedAtMs: T },
  { name: 'a request timed out at 10 s and answered at last', sentAtMs: T, answeredAtMs: T + 10_000, issuedAtMs: T },
  { name: 'the wall clock stepped back 2 s during the request', sentAtMs: T, answeredAtMs: T - 2_000, issuedAtMs: T - 2_000 },
];

for (const row of ISSUE_TIMES) {
  test(`issue time, ${row.name}: ${row.issuedAtMs - T} ms from the request`, () => {
    const issued = leaseIssuedAt(row.sentAtMs, row.answeredAtMs);
    assert.equal(issued, row.issuedAtMs);
    // Vault grants the lease between sending and answer: the recorded time is never after either.
    assert.ok(issued <= row.sentAtMs && issued <= row.answeredAtMs);
  });
}

const MANIFEST: LeaseManifest = {
  version: MANIFEST_VERSION,
  token: { accessor: 'acc-1', ttlSeconds: 900, renewable: true, issuedAtMs: T },
  secrets: [
    { name: 'app', path: 'secret/data/app', leaseId: '', leaseDurationSeconds: 0, renewable: false, issuedAtMs: T + 3 },
    { name: 'db', path: 'database/creds/web', leaseId: 'database/creds/web/xyz', leaseDurationSeconds: 300, renewable: true, issuedAtMs: T + 5 },
  ],
};

test('a manifest survives serialization unchanged', () => {
  assert.deepEqual(parseManifest(serializeManifest(MANIFEST)), MANIFEST);
});

test('the file an earlier release wrote (version 1, same fields) still reads', () => {
  // Written by the init container before issue times were stamped at the request: the
  // fields and their meaning (epoch milliseconds) are unchanged, only their value is earlier now.
  const earlier = '{"version":1,"token":{"accessor":"a","ttlSeconds":3600,"renewable":true,"issuedAtMs":1700000000123},"secrets":[{"name":"db","path":"database/creds/web","leaseId":"database/creds/web/1","leaseDurationSeconds":300,"renewable":true,"issuedAtMs":1700000000456}]}';
  const m = parseManifest(earlier);
  assert.equal(m.token.issuedAtMs, 1_700_000_000_123);
  assert.equal(m.secrets[0]?.leaseDurationSeconds, 300);
});

const BAD: ReadonlyArray<{ name: string; text: string; mentions: RegExp }> = [
  { name: 'not JSON (a write cut short)', text: '{"version":1,', mentions: /not valid JSON/ },
  { name: 'another version', text: '{"version":2,"token":{},"secrets":[]}', mentions: /version 2 is not supported \(expected 1\)/ },
  { name: 'no secrets array', text: '{"version":1,"token":{"accessor":"a","ttlSeconds":1,"renewable":true,"issuedAtMs":1}}', mentions: /secrets must be an array/ },
  { name: 'a negative issue time', text: '{"version":1,"token":{"accessor":"a","ttlSeconds":1,"renewable":true,"issuedAtMs":-1},"secrets":[]}', mentions: /token\.issuedAtMs must be epoch milliseconds/ },
  { name: 'a secret without a lease duration', text: '{"version":1,"token":{"accessor":"a","ttlSeconds":1,"renewable":true,"issuedAtMs":1},"secrets":[{"name":"db","path":"p","leaseId":"","renewable":false,"issuedAtMs":1}]}', mentions: /secrets\[0\]\.leaseDurationSeconds must be a number >= 0/ },
];

for (const row of BAD) {
  test(`a manifest with ${row.name} is refused, naming what is wrong`, () => {
    assert.throws(() => parseManifest(row.text), (e: unknown) => isCourierError(e, 'spec') && row.mentions.test(e.message));
  });
}

test('a manifest overwritten with text that is not JSON is refused without quoting it', () => {
  const canary = 'canary-overwrote-the-manifest';
  assert.throws(
    () => parseManifest(`${canary}\n`),
    (e: unknown) => isCourierError(e, 'spec') && /not valid JSON \(30 characters\)/.test(e.message) && !JSON.stringify({ message: e.message, cause: String(e.cause), stack: e.stack }).includes(canary),
  );
});
