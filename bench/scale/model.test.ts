import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asksHealth, disruptionsAllowed, evictionDue, peaks, podUid, retryDelayMs, seededRandom, simulate, type ScaleConfig } from './model.ts';

test('disruptionsAllowed: healthy pods beyond replicas − maxUnavailable', () => {
  for (const [healthy, replicas, maxUnavailable, expected] of [
    [50, 50, 1, 1],
    [49, 50, 1, 0],
    [10, 50, 1, 0],
    [3, 3, 2, 2],
    [1, 1, 1, 1],
    [0, 1, 1, 0],
  ] as const) {
    assert.equal(disruptionsAllowed(healthy, replicas, maxUnavailable), expected, `${healthy}/${replicas}, maxUnavailable ${maxUnavailable}`);
  }
});

test('evictionDue: core deadline(), two thirds of the TTL less the uid jitter, or the grace-period limit', () => {
  const base = { tokenTtlSeconds: 7200, secretsPerPod: 1, terminationGracePeriodSeconds: 30 };
  const uid = '3f0c2a8e-1b2c-4d5e-8f90-a1b2c3d4e5f6';
  for (const [what, config, atMs] of [
    ['1 h, no jitter: at 40 min', { ...base, dbTtlSeconds: 3600, jitter: false }, 2_400_000],
    ['60 s, no jitter: the limit (60 − 30 − 5 s) comes before 40 s', { ...base, dbTtlSeconds: 60, jitter: false }, 25_000],
  ] as const) {
    assert.deepEqual(evictionDue(0, uid, config), { atMs, expiresAtMs: config.dbTtlSeconds * 1000, limitMs: (config.dbTtlSeconds - 35) * 1000 }, what);
  }
  const jittered = evictionDue(1000, uid, { ...base, dbTtlSeconds: 3600, jitter: true });
  assert.ok(jittered.atMs <= 1000 + 2_400_000 && jittered.atMs > 1000 + 2_400_000 - 60_000, `jitter within 60 s: ${jittered.atMs}`);
  assert.deepEqual(evictionDue(1000, uid, { ...base, dbTtlSeconds: 3600, jitter: true }), jittered, 'the same uid, the same time');
});

test("retryDelayMs: the sidecar's action backoff, 2 s doubling to 30 s, half of it random, bounded by half the time left before the limit", () => {
  const far = 1_000_000;
  for (const [attempt, random, limitMs, expected] of [
    [0, 0, far, 1000],
    [0, 1, far, 2000],
    [1, 0, far, 2000],
    [3, 1, far, 16_000],
    [4, 0, far, 15_000],
    [10, 1, far, 30_000],
    [10, 1, 20_000, 10_000],
    [10, 1, 0, 1000],
  ] as const) {
    assert.equal(retryDelayMs(attempt, () => random, 0, limitMs), expected, `attempt ${attempt}, random ${random}, limit ${limitMs}`);
  }
});

test('asksHealth: a replica asks Vault again only once its cached answer is older than the window', () => {
  for (const [last, at, cacheMs, expected] of [
    [-Infinity, 0, 1000, true],
    [0, 999, 1000, false],
    [0, 1000, 1000, true],
    [0, 5, 0, true],
    [5000, 4000, 1000, true],
  ] as const) {
    assert.equal(asksHealth(last, at, cacheMs), expected, `last ${last}, at ${at}, cache ${cacheMs}`);
  }
});

test('peaks: the busiest second and the busiest window’s mean, from a given second', () => {
  for (const [series, window, from, expected] of [
    [[0, 5, 1, 1, 0], 2, 0, { perSecond: 5, perSecondOverWindow: 3 }],
    [[9, 1, 1, 1, 0], 2, 1, { perSecond: 1, perSecondOverWindow: 1 }],
    [[0, 0, 0], 60, 0, { perSecond: 0, perSecondOverWindow: 0 }],
  ] as const) {
    assert.deepEqual(peaks(Uint32Array.from(series), window, from), expected, JSON.stringify(series));
  }
});

test('seededRandom and podUid: the same seed, the same uids, in the API server’s form', () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const uids = [podUid(a), podUid(a)];
  assert.deepEqual([podUid(b), podUid(b)], uids);
  for (const uid of uids) assert.match(uid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('simulate: one Deployment of 3, no jitter: one eviction at a time, every pod rotated before expiry, each rotation a login', () => {
  const config: ScaleConfig = {
    deployments: 1,
    replicasPerDeployment: 3,
    dbTtlSeconds: 3600,
    tokenTtlSeconds: 7200,
    secretsPerPod: 2,
    terminationGracePeriodSeconds: 30,
    jitter: false,
    durationSeconds: 3 * 3600,
    timing: { loginAfterEvictionMs: 1500, readyAfterEvictionMs: 3000, pdbLagMs: 500 },
    seed: 1,
    webhookReplicas: 1,
    healthCacheMs: 0,
  };
  const r = simulate(config);
  const total = (s: Uint32Array) => s.reduce((x, y) => x + y, 0);
  assert.equal(r.rolloutLogins, 3);
  assert.equal(r.expiredBeforeEviction, 0);
  assert.equal(r.rateLimited, 0);
  // All three are due at 40 min; the PDB lets the first go, the others are refused and retry.
  assert.equal(r.perSecond.evictions[2400], 1);
  assert.equal(r.perSecond.blocked[2400], 2);
  assert.equal(total(r.perSecond.logins), 3 + total(r.perSecond.evictions));
  assert.equal(total(r.perSecond.issues), 2 * total(r.perSecond.logins));
  // Three rotations of 3 pods fit in 3 h (at about 40, 80 and 120 min).
  assert.ok(total(r.perSecond.evictions) >= 9, `evictions: ${total(r.perSecond.evictions)}`);
  assert.deepEqual(simulate(config).perSecond.evictions, r.perSecond.evictions, 'deterministic');
  // Without the cache every attempt asks; with it, the three attempts of second 2400 ask once.
  assert.equal(r.perSecond.health[2400], 3);
  const cached = simulate({ ...config, healthCacheMs: 1000 });
  assert.equal(cached.perSecond.health[2400], 1);
  assert.deepEqual(cached.perSecond.evictions, r.perSecond.evictions, 'the cache changes no eviction');
  assert.ok(total(cached.perSecond.vaultRequests) < total(r.perSecond.vaultRequests));
});
