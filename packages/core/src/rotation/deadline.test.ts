import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline, describeLease, earliestExpiry, uidFraction, JITTER_FRACTION, type DeadlineOptions, type DeadlinePod, type DeadlineRule } from './deadline.ts';
import { MANIFEST_VERSION, type LeaseManifest, type SecretLease } from '../contract/manifest.ts';

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const UID = '6f1d7c2e-0b9a-4c55-9d2e-7a1f3b8c9e01';
const POD: DeadlinePod = { uid: UID, terminationGracePeriodSeconds: 30 };
/** Jitter off unless a row asks for it: the arithmetic stays readable. */
const NO_JITTER: DeadlineOptions = { maxJitterMs: 0 };

function secret(name: string, ttlSeconds: number, issuedAtMs = T0): SecretLease {
  return { name, path: `database/creds/${name}`, leaseId: ttlSeconds > 0 ? `database/creds/${name}/abc` : '', leaseDurationSeconds: ttlSeconds, renewable: ttlSeconds > 0, issuedAtMs };
}

function manifest(secrets: SecretLease[], token: { ttlSeconds: number; renewable: boolean } = { ttlSeconds: 3600, renewable: true }): LeaseManifest {
  return { version: MANIFEST_VERSION, token: { accessor: 'acc', issuedAtMs: T0, ...token }, secrets };
}

interface Row {
  readonly name: string;
  readonly manifest: LeaseManifest;
  readonly now?: number;
  readonly pod?: DeadlinePod;
  readonly options?: DeadlineOptions;
  readonly want: { kind: 'never' } | { atMs: number; delayMs: number; lease: string; rule: DeadlineRule; warnings?: RegExp[] };
}

const rows: Row[] = [
  {
    name: 'KV only, token kept renewed: no deadline',
    manifest: manifest([secret('config', 0)]),
    want: { kind: 'never' },
  },
  {
    name: 'no secrets at all, token kept renewed: no deadline',
    manifest: manifest([]),
    want: { kind: 'never' },
  },
  {
    name: 'KV only, token not renewable: the token expires, so it decides',
    manifest: manifest([secret('config', 0)], { ttlSeconds: 3600, renewable: false }),
    want: { atMs: T0 + 2_400_000, delayMs: 2_400_000, lease: 'token', rule: 'refresh' },
  },
  {
    name: 'KV only, token with TTL 0 (never expires): no deadline',
    manifest: manifest([secret('config', 0)], { ttlSeconds: 0, renewable: false }),
    want: { kind: 'never' },
  },
  {
    name: 'one dynamic secret of 1 h: two thirds of its TTL',
    manifest: manifest([secret('db', 3600)]),
    want: { atMs: T0 + 2_400_000, delayMs: 2_400_000, lease: 'db', rule: 'refresh' },
  },
  {
    name: 'the shortest of several secrets decides',
    manifest: manifest([secret('long', 7200), secret('short', 900), secret('kv', 0)]),
    want: { atMs: T0 + 600_000, delayMs: 600_000, lease: 'short', rule: 'refresh' },
  },
  {
    name: 'the earliest expiry decides, not the shortest TTL (issued at different times)',
    manifest: manifest([secret('early', 3600, T0 - 3_000_000), secret('short', 900)]),
    // early: T0 - 3000 s + 2400 s = T0 - 600 s (already past its refresh point) → at once.
    want: { atMs: T0 - 600_000, delayMs: 0, lease: 'early', rule: 'refresh' },
  },
  {
    name: 'a non-renewable token shorter than the secrets decides',
    manifest: manifest([secret('db', 3600)], { ttlSeconds: 600, renewable: false }),
    want: { atMs: T0 + 400_000, delayMs: 400_000, lease: 'token', rule: 'refresh' },
  },
  {
    name: 'a renewable token shorter than the secrets does not decide while Vault extends it',
    manifest: manifest([secret('db', 3600)], { ttlSeconds: 600, renewable: true }),
    want: { atMs: T0 + 2_400_000, delayMs: 2_400_000, lease: 'db', rule: 'refresh' },
  },
  {
    name: 'token whose max TTL was reached at a renewal: a lease over its whole life',
    manifest: manifest([secret('db', 36_000)]),
    options: { ...NO_JITTER, token: { state: 'final', issuedAtMs: T0, expiresAtMs: T0 + 3_000_000 } },
    want: { atMs: T0 + 2_000_000, delayMs: 2_000_000, lease: 'token', rule: 'refresh' },
  },
  {
    name: 'renewal failing (Vault down): the token counts at its own expiry minus grace and margin',
    manifest: manifest([secret('db', 36_000)]),
    now: T0 + 400_000,
    pod: { uid: UID, terminationGracePeriodSeconds: 30 },
    options: { ...NO_JITTER, token: { state: 'unconfirmed', issuedAtMs: T0, expiresAtMs: T0 + 600_000 } },
    want: { atMs: T0 + 600_000 - 35_000, delayMs: 165_000, lease: 'token', rule: 'limit' },
  },
  {
    name: 'the grace period bounds the deadline when it eats into the last third',
    manifest: manifest([secret('db', 60)]),
    pod: { uid: UID, terminationGracePeriodSeconds: 20 },
    // refresh at 40 s, limit at 60 - 20 - 5 = 35 s.
    want: { atMs: T0 + 35_000, delayMs: 35_000, lease: 'db', rule: 'limit' },
  },
  {
    name: 'grace period longer than the TTL: evict at once and warn',
    manifest: manifest([secret('db', 30)]),
    pod: { uid: UID, terminationGracePeriodSeconds: 60 },
    want: { atMs: T0 + 30_000 - 65_000, delayMs: 0, lease: 'db', rule: 'limit', warnings: [/terminationGracePeriodSeconds \(60\).*not shorter than the 30 s TTL of secret db/] },
  },
  {
    name: 'an expiry already in the past: at once, with a warning',
    manifest: manifest([secret('db', 60, T0 - 120_000)]),
    pod: { uid: UID, terminationGracePeriodSeconds: 0 },
    want: { atMs: T0 - 80_000, delayMs: 0, lease: 'db', rule: 'refresh', warnings: [/secret db \(database\/creds\/db\) already expired/] },
  },
  {
    name: 'a custom refresh fraction',
    manifest: manifest([secret('db', 1000)]),
    options: { ...NO_JITTER, refreshFraction: 0.5 },
    want: { atMs: T0 + 500_000, delayMs: 500_000, lease: 'db', rule: 'refresh' },
  },
  {
    name: 'a custom safety margin',
    manifest: manifest([secret('db', 100)]),
    pod: { uid: UID, terminationGracePeriodSeconds: 30 },
    options: { ...NO_JITTER, safetyMarginMs: 0 },
    // refresh at 66.67 s, limit at 70 s.
    want: { atMs: T0 + 66_666, delayMs: 66_666, lease: 'db', rule: 'refresh' },
  },
  {
    name: 'queue lead of 20 pods (60 s) on a 60 s TTL: ask at once, from the issue',
    manifest: manifest([secret('db', 60)]),
    pod: { uid: UID, terminationGracePeriodSeconds: 5 },
    options: { ...NO_JITTER, queueLeadMs: 60_000 },
    // limit at 50 s; 50 − 60 < 0, so the issue itself.
    want: { atMs: T0, delayMs: 0, lease: 'db', rule: 'queue' },
  },
  {
    name: 'queue lead of 10 pods (30 s) on a 60 s TTL: 30 s before the limit, earlier than the refresh',
    manifest: manifest([secret('db', 60)]),
    pod: { uid: UID, terminationGracePeriodSeconds: 5 },
    options: { ...NO_JITTER, queueLeadMs: 30_000 },
    want: { atMs: T0 + 20_000, delayMs: 20_000, lease: 'db', rule: 'queue' },
  },
  {
    name: 'queue lead of 3 pods (9 s) on a 60 s TTL: the refresh is earlier, as without a lead',
    manifest: manifest([secret('db', 60)]),
    pod: { uid: UID, terminationGracePeriodSeconds: 5 },
    options: { ...NO_JITTER, queueLeadMs: 9000 },
    want: { atMs: T0 + 40_000, delayMs: 40_000, lease: 'db', rule: 'refresh' },
  },
  {
    name: 'queue lead of 20 pods on a 1 h TTL: the refresh, as without a lead',
    manifest: manifest([secret('db', 3600)]),
    pod: { uid: UID, terminationGracePeriodSeconds: 5 },
    options: { ...NO_JITTER, queueLeadMs: 60_000 },
    want: { atMs: T0 + 2_400_000, delayMs: 2_400_000, lease: 'db', rule: 'refresh' },
  },
  {
    name: 'queue lead while renewal fails: the unconfirmed token keeps its limit alone (no early exit for an outage)',
    manifest: manifest([secret('db', 36_000)]),
    now: T0 + 400_000,
    pod: { uid: UID, terminationGracePeriodSeconds: 30 },
    options: { ...NO_JITTER, queueLeadMs: 300_000, token: { state: 'unconfirmed', issuedAtMs: T0, expiresAtMs: T0 + 600_000 } },
    want: { atMs: T0 + 600_000 - 35_000, delayMs: 165_000, lease: 'token', rule: 'limit' },
  },
  {
    name: 'queue lead, asked again 25 s later (a restarted sidecar): the same instant',
    manifest: manifest([secret('db', 60)]),
    now: T0 + 25_000,
    pod: { uid: UID, terminationGracePeriodSeconds: 5 },
    options: { ...NO_JITTER, queueLeadMs: 30_000 },
    want: { atMs: T0 + 20_000, delayMs: 0, lease: 'db', rule: 'queue' },
  },
];

for (const row of rows) {
  test(`deadline: ${row.name}`, () => {
    const result = deadline(row.manifest, row.now ?? T0, row.pod ?? { uid: UID, terminationGracePeriodSeconds: 0 }, row.options ?? NO_JITTER);
    if ('kind' in row.want) {
      assert.equal(result.kind, 'never');
      assert.match(result.reason, /nothing expires/);
      return;
    }
    assert.equal(result.kind, 'at', 'expected a deadline');
    if (result.kind !== 'at') return;
    assert.equal(result.atMs, row.want.atMs, `atMs off by ${result.atMs - row.want.atMs} ms`);
    assert.equal(result.delayMs, row.want.delayMs);
    assert.equal(result.rule, row.want.rule);
    assert.equal(result.lease.kind === 'token' ? 'token' : result.lease.name, row.want.lease);
    assert.match(result.reason, row.want.lease === 'token' ? /the Vault token expires first/ : new RegExp(`secret ${row.want.lease} .* expires first`));
    const wantWarnings = row.want.warnings ?? [];
    assert.equal(result.warnings.length, wantWarnings.length, `warnings: ${JSON.stringify(result.warnings)}`);
    wantWarnings.forEach((re, i) => assert.match(result.warnings[i] ?? '', re));
  });
}

test('jitter: derived from the uid, stable across calls and restarts, always earlier, bounded', () => {
  const m = manifest([secret('db', 30)]);
  const at = (uid: string, now = T0) => {
    const r = deadline(m, now, { uid, terminationGracePeriodSeconds: 0 });
    assert.equal(r.kind, 'at');
    return r.kind === 'at' ? r : assert.fail('no deadline');
  };
  const a = at(UID);
  // A restarted sidecar sees a later `now` but must land on the same instant.
  assert.equal(at(UID, T0 + 7_000).atMs, a.atMs);
  assert.equal(a.atMs, T0 + 20_000 - a.jitterMs);
  const window = JITTER_FRACTION * 30_000;
  const uids = Array.from({ length: 200 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  const jitters = uids.map((u) => at(u).jitterMs);
  for (const j of jitters) assert.ok(j >= 0 && j < window, `jitter ${j} outside [0, ${window})`);
  // Replicas that started together must not all ask at once.
  assert.ok(new Set(jitters).size > 150, `only ${new Set(jitters).size} distinct jitters over 200 uids`);
});

test('jitter: capped by maxJitterMs on long leases', () => {
  const m = manifest([secret('db', 86_400)]);
  const r = deadline(m, T0, POD, { maxJitterMs: 1000 });
  assert.equal(r.kind, 'at');
  if (r.kind === 'at') assert.ok(r.jitterMs < 1000);
});

test('uidFraction is in [0, 1) and differs between uids', () => {
  for (const uid of ['', 'a', UID, 'x'.repeat(1000)]) {
    const f = uidFraction(uid);
    assert.ok(f >= 0 && f < 1, `${f}`);
  }
  assert.notEqual(uidFraction('a'), uidFraction('b'));
});

const earliestRows: { name: string; manifest: LeaseManifest; token?: Parameters<typeof earliestExpiry>[1]; want: { atMs: number; lease: string } | undefined }[] = [
  { name: 'KV only, token kept renewed: nothing expires', manifest: manifest([secret('kv', 0)]), want: undefined },
  { name: 'the shortest lease, not the first listed', manifest: manifest([secret('long', 600), secret('short', 60, T0 + 1000)]), want: { atMs: T0 + 61_000, lease: 'secret short (database/creds/short)' } },
  // A long lease issued long ago can expire before a short fresh one: expiry, not TTL, decides.
  { name: 'an older lease with a longer TTL that expires first', manifest: manifest([secret('fresh', 60, T0 + 50_000), secret('old', 100)]), want: { atMs: T0 + 100_000, lease: 'secret old (database/creds/old)' } },
  { name: 'a token Vault no longer extends counts', manifest: manifest([secret('db', 600)], { ttlSeconds: 120, renewable: false }), want: { atMs: T0 + 120_000, lease: 'the Vault token' } },
  { name: 'an unconfirmed token counts at its current expiry', manifest: manifest([secret('db', 600)]), token: { state: 'unconfirmed', issuedAtMs: T0, expiresAtMs: T0 + 90_000 }, want: { atMs: T0 + 90_000, lease: 'the Vault token' } },
];

for (const row of earliestRows) {
  test(`earliestExpiry: ${row.name}`, () => {
    const got = earliestExpiry(row.manifest, row.token);
    assert.deepEqual(got === undefined ? undefined : { atMs: got.atMs, lease: describeLease(got.lease) }, row.want);
  });
}
