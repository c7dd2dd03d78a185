import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, MANIFEST_VERSION, type LeaseManifest, type SecretLease } from '@vault-courier/core';
import { renewAtMs } from '@vault-courier/core/rotation/renewal';
import { createSidecar, SLEEP_CAP_MS, type Clock, type SidecarDeps } from './sidecar.ts';
import { budgetLead, type BudgetLead } from '@vault-courier/core/rotation/eviction-queue';
import type { ReportOutcome } from './deadline-report.ts';
import type { EndpointAnswer } from './endpoint.ts';
import type { RenewResult, TokenInfo, VaultToken } from './vault-token.ts';
import { CourierError } from '@vault-courier/core';

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const UID = '3c0a5e7d-9b1f-4d2a-8e6c-5f4b3a2d1c0e';
const JWT_CANARY = 'eyJcanary.jwt-must-never-be-logged.sig';
const GRACE = 5;

function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function manualClock(start: number): Clock & { advanceTo(t: number): Promise<void>; advance(ms: number): Promise<void>; jump(ms: number): void } {
  let now = start;
  let id = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock = {
    now: () => now,
    setTimer(fn: () => void, ms: number) {
      timers.set(++id, { at: now + ms, fn });
      return id;
    },
    clearTimer(handle: unknown) {
      timers.delete(handle as number);
    },
    async advanceTo(t: number) {
      for (;;) {
        for (let i = 0; i < 10; i++) await flush();
        const due = [...timers.entries()].filter(([, x]) => x.at <= t).sort((a, b) => a[1].at - b[1].at)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
      }
      now = Math.max(now, t);
      for (let i = 0; i < 10; i++) await flush();
    },
    advance: (ms: number) => clock.advanceTo(now + ms),
    /**
     * The wall clock steps forward while no time elapses for the timers (a suspended VM,
     * an NTP step): pending timers fire as late as they were set, in elapsed time.
     */
    jump(ms: number) {
      now += ms;
      for (const t of timers.values()) t.at += ms;
    },
  };
  return clock;
}

function secret(name: string, ttl: number): SecretLease {
  return { name, path: `database/creds/${name}`, leaseId: ttl ? `database/creds/${name}/x` : '', leaseDurationSeconds: ttl, renewable: ttl > 0, issuedAtMs: T0 };
}

/** An answer as the endpoint client returns it. */
function ans(status: number, reason?: string, retryAfterSeconds?: number): EndpointAnswer {
  return { status, reason, message: reason ?? 'not found', retryAfterSeconds };
}

const ACCEPTED = ans(201, 'Evicted');
/** Not a fresh literal: whatever else config.ts's evict mode carries, this one is the default. */
const EVICT = { mode: 'evict', why: 'a ReplicaSet owns the pod' } as const;

function manifest(secrets: SecretLease[], token = { ttlSeconds: 3600, renewable: true }): LeaseManifest {
  return { version: MANIFEST_VERSION, token: { accessor: 'acc', issuedAtMs: T0, ...token }, secrets };
}

interface Harness {
  clock: ReturnType<typeof manualClock>;
  posts: { path: string; jwt: string; body: Record<string, unknown>; at: number }[];
  renewals: number[];
  revokes: number;
  delays: number[];
  lines: () => Record<string, unknown>[];
  raw: () => string;
  sidecar: ReturnType<typeof createSidecar>;
}

/**
 * The sidecar with a fault injector around it: Vault's renew/lookup/revoke and the
 * endpoint's answers (429, 503, 410, 409, a foreign 404, unreachable) come from the test, on a manual
 * clock, because neither the real Vault nor the API server produces them on cue. The
 * sidecar against the real parts: test/integration/sidecar.test.ts.
 */
function harness(options: {
  manifest: LeaseManifest;
  answers?: (path: string, n: number) => EndpointAnswer | Error;
  renew?: (n: number, now: number) => RenewResult | Error;
  revoke?: () => Promise<void>;
  mode?: SidecarDeps['mode'];
  lookup?: TokenInfo;
  /** When given, the deadline reports (POST /deadline) land here instead of going nowhere. */
  reports?: { deadline: number | undefined; earliest: number | undefined; at: number }[];
  reportOutcome?: ReportOutcome;
  /** The budget's queue lead the webhook answers POST /deadline with. */
  reportQueue?: BudgetLead;
  /** Renewals land at exactly their fraction unless a test asks for the uid jitter. */
  tuning?: SidecarDeps['tuning'];
}): Harness {
  const clock = manualClock(T0);
  const chunks: string[] = [];
  const logger = createLogger({ name: 'sidecar-test', destination: new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c.toString()), done()) }) });
  const h: Omit<Harness, 'sidecar'> & { sidecar?: Harness['sidecar'] } = {
    clock,
    posts: [],
    renewals: [],
    revokes: 0,
    delays: [],
    lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    raw: () => chunks.join(''),
  };
  const vault: VaultToken = {
    lookupSelf: async () => {
      if (options.lookup === undefined) throw new CourierError('vault', 'Vault did not answer lookup-self (ECONNREFUSED)', { retryable: true });
      return options.lookup;
    },
    renewSelf: async () => {
      h.renewals.push(clock.now());
      const r = options.renew?.(h.renewals.length - 1, clock.now()) ?? { ttlSeconds: options.manifest.token.ttlSeconds, renewable: true };
      if (r instanceof Error) throw r;
      return r;
    },
    revokeSelf: async () => {
      h.revokes++;
      await (options.revoke?.() ?? Promise.resolve());
    },
  };
  const sidecar = createSidecar({
    manifest: options.manifest,
    pod: { uid: UID, terminationGracePeriodSeconds: GRACE },
    mode: options.mode ?? EVICT,
    vault,
    post: async (path, jwt, body) => {
      h.posts.push({ path, jwt, body, at: clock.now() });
      const a = options.answers?.(path, h.posts.length - 1) ?? (path === '/evict' ? ACCEPTED : ans(201, 'Warned'));
      if (a instanceof Error) throw a;
      return a;
    },
    readEvictJwt: async () => JWT_CANARY,
    ...(options.reports === undefined
      ? {}
      : {
          reportDeadline: async (result, earliest) => {
            options.reports?.push({ deadline: result.kind === 'at' ? result.atMs : undefined, earliest: earliest?.atMs, at: clock.now() });
            return { outcome: options.reportOutcome ?? 'recorded', queue: options.reportQueue };
          },
        }),
    logger,
    clock: {
      ...clock,
      setTimer: (fn, ms) => (h.delays.push(ms), clock.setTimer(fn, ms)),
    },
    random: () => 0.5,
    tuning: { renewJitterFraction: 0, ...options.tuning },
  });
  h.sidecar = sidecar;
  return h as Harness;
}

function deadlineOf(h: Harness): number {
  const d = h.sidecar.current();
  assert.equal(d?.kind, 'at');
  return d?.kind === 'at' ? d.atMs : NaN;
}

test('asks for eviction once at the deadline, with the projected token, then waits for SIGTERM', async () => {
  const h = harness({ manifest: manifest([secret('db', 30), secret('kv', 0)]) });
  await h.sidecar.start();
  const at = deadlineOf(h);
  assert.ok(at <= T0 + 20_000 && at > T0 + 18_500, `deadline ${at - T0} ms after issue`);
  await h.clock.advanceTo(at - 1);
  assert.equal(h.posts.length, 0, 'no request before the deadline');
  await h.clock.advanceTo(at);
  assert.equal(h.posts.length, 1);
  assert.equal(h.posts[0]?.path, '/evict');
  assert.equal(h.posts[0]?.jwt, JWT_CANARY);
  assert.match(String(h.posts[0]?.body.reason), /secret db \(database\/creds\/db\) expires at/);
  await h.clock.advance(3_600_000);
  assert.equal(h.posts.length, 1, 'an accepted eviction is not repeated');
  assert.ok(h.lines().some((l) => l.msg === 'eviction accepted: waiting for SIGTERM'));
  await h.sidecar.shutdown();
  assert.equal(h.revokes, 1);
  assert.ok(!h.raw().includes(JWT_CANARY), 'the JWT reached a log line');
});

test('a PDB that blocks: first in its queue, so retries every second, a log line each time, until accepted', async () => {
  const h = harness({ manifest: manifest([secret('db', 300)]), answers: (_p, n) => (n < 6 ? ans(429, 'DisruptionBudget', 10) : ACCEPTED) });
  await h.sidecar.start();
  await h.clock.advanceTo(deadlineOf(h) + 600_000);
  assert.equal(h.posts.length, 7);
  const gaps = h.posts.slice(1).map((p, i) => p.at - (h.posts[i]?.at ?? 0));
  // The 1 s cap, and the 1 s floor under its jitter: every second.
  assert.deepEqual(gaps, [1000, 1000, 1000, 1000, 1000, 1000]);
  assert.equal(h.lines().filter((l) => /eviction blocked/.test(String(l.msg))).length, 6);
});

/** Refusals that clear by themselves: near the pod's limit each wait is bounded by half the time left. */
const clearsByItself: { name: string; answer: EndpointAnswer | Error; refusals: number }[] = [
  // The first of its budget's queue retries every second: it takes more refusals to reach past the limit.
  { name: 'a PDB that blocks', answer: ans(429, 'DisruptionBudget', 10), refusals: 20 },
  { name: 'Vault sealed or unreachable (503 VaultUnavailable)', answer: ans(503, 'VaultUnavailable'), refusals: 12 },
  { name: 'the API server down (503 ClusterUnavailable)', answer: ans(503, 'ClusterUnavailable'), refusals: 12 },
  { name: 'PDB status conflicts (409 EvictionConflict)', answer: ans(409, 'EvictionConflict'), refusals: 12 },
  { name: 'the webhook unreachable', answer: new Error('connect ECONNREFUSED'), refusals: 12 },
];

for (const row of clearsByItself) {
  test(`${row.name} near the pod's limit: never sleeps past half the time left, then retries every second`, async () => {
    // 60 s lease, grace 5 s, margin 5 s: the limit is at 50 s; the deadline a little before 40 s.
    const h = harness({ manifest: manifest([secret('db', 60)]), answers: (_p, n) => (n < row.refusals ? row.answer : ACCEPTED) });
    await h.sidecar.start();
    const limit = T0 + 50_000;
    await h.clock.advanceTo(limit + 60_000);
    assert.equal(h.posts.length, row.refusals + 1);
    const times = h.posts.map((p) => p.at);
    for (let i = 1; i < times.length; i++) {
      const prev = times[i - 1] ?? 0;
      const gap = (times[i] ?? 0) - prev;
      assert.ok(gap >= 1000, `attempt ${i + 1}: ${gap} ms after the last, below the floor`);
      assert.ok(gap <= Math.max(1000, (limit - prev) / 2), `attempt ${i + 1}: ${gap} ms after the last, ${limit - prev} ms before the limit`);
    }
    const after = times.filter((t) => t >= limit);
    assert.ok(after.length >= 2, 'it keeps asking past the limit');
    assert.deepEqual(after.slice(1).map((t, i) => t - (after[i] ?? 0)), after.slice(1).map(() => 1000), 'past the limit: every second');
    assert.ok(times.filter((t) => t < limit).length >= 6, 'several attempts before the limit, not one landing on it');
  });
}

test("a refusal that needs a fix (403 NotInjected) keeps the plain backoff near the pod's limit", async () => {
  const h = harness({ manifest: manifest([secret('db', 60)]), answers: () => ans(403, 'NotInjected') });
  await h.sidecar.start();
  await h.clock.advanceTo(T0 + 110_000);
  const gaps = h.posts.slice(1).map((p, i) => p.at - (h.posts[i]?.at ?? 0));
  // random() = 0.5: 3/4 of 2 s, 4 s, 8 s, 16 s, then the 30 s cap, whatever the limit.
  assert.deepEqual(gaps.slice(0, 5), [1500, 3000, 6000, 12_000, 22_500]);
});

test('renewal with the uid jitter (the default): up to a tenth of the TTL before two thirds, the same on every renewal', async () => {
  const h = harness({ manifest: manifest([secret('kv', 0)], { ttlSeconds: 600, renewable: true }), tuning: { renewJitterFraction: 0.1 } });
  await h.sidecar.start();
  await h.clock.advance(1_200_000);
  const first = (h.renewals[0] ?? 0) - T0;
  assert.ok(first < 400_000 && first >= 340_000, `${first}`);
  assert.equal(first, renewAtMs(T0, 600, UID) - T0, "core's renewAtMs decides");
  const gaps = h.renewals.slice(1).map((t, i) => t - (h.renewals[i] ?? 0));
  assert.ok(gaps.length >= 2 && gaps.every((g) => g === first), gaps.join(', '));
});

test('410 PodGone: revokes the token once and idles until SIGTERM, never asking again, never exiting', async () => {
  const h = harness({ manifest: manifest([secret('db', 30)]), answers: () => ans(410, 'PodGone') });
  await h.sidecar.start();
  await h.clock.advance(60_000);
  assert.equal(h.posts.length, 1);
  assert.equal(h.revokes, 1);
  assert.ok(h.lines().some((l) => /gone .*idling until SIGTERM/.test(String(l.msg))));
  await h.clock.advance(3_600_000);
  assert.equal(h.posts.length, 1, 'nothing more to ask');
  await h.sidecar.shutdown();
  assert.equal(h.revokes, 1, 'SIGTERM does not revoke again');
});

const notGone: { name: string; answer: EndpointAnswer; message: RegExp; level: string }[] = [
  { name: 'a foreign server echoing the request, token included', answer: { status: 404, reason: undefined, message: `Authorization: Bearer ${JWT_CANARY}`, retryAfterSeconds: undefined }, message: /answered 404 without a reason/, level: 'error' },
  { name: 'a bare 404 from a foreign server', answer: ans(404), message: /answered 404 without a reason vault-courier sends \(is VAULT_COURIER_SERVICE_URL the webhook\?\)/, level: 'error' },
  { name: "the API server's NotFound Status relayed by something else", answer: ans(404, 'NotFound'), message: /answered 404 without a reason/, level: 'error' },
  { name: 'a PDB-conflict 409 for the same pod', answer: ans(409, 'EvictionConflict'), message: /could not settle the PodDisruptionBudget update \(409\)/, level: 'warn' },
  { name: 'a 403 NotInjected', answer: ans(403, 'NotInjected'), message: /refused \(NotInjected\): retrying, but this needs a fix/, level: 'error' },
];

for (const row of notGone) {
  test(`never "gone" on ${row.name}: retried and reported, the token kept`, async () => {
    const h = harness({ manifest: manifest([secret('db', 30)]), answers: (_p, n) => (n < 2 ? row.answer : ACCEPTED) });
    await h.sidecar.start();
    await h.clock.advance(60_000);
    assert.equal(h.posts.length, 3, 'retried until accepted');
    assert.equal(h.revokes, 0, 'the token is not revoked');
    const reported = h.lines().filter((l) => row.message.test(String(l.msg)));
    assert.equal(reported.length, 2);
    assert.equal(reported[0]?.level, row.level);
    assert.ok(!h.raw().includes(JWT_CANARY), 'the JWT reached a log line');
  });
}

test("the webhook's rate limit: waits exactly its Retry-After, logged apart from a PDB 429", async () => {
  // A long lease: the PDB retry is far from the limit, so its plain backoff shows.
  const h = harness({ manifest: manifest([secret('db', 300)]), answers: (_p, n) => (n === 0 ? ans(429, 'RateLimited', 7) : n === 1 ? ans(429, 'DisruptionBudget', 10) : ACCEPTED) });
  await h.sidecar.start();
  await h.clock.advanceTo(deadlineOf(h) + 60_000);
  assert.equal(h.posts.length, 3);
  assert.equal((h.posts[1]?.at ?? 0) - (h.posts[0]?.at ?? 0), 7000, 'Retry-After honoured');
  assert.equal((h.posts[2]?.at ?? 0) - (h.posts[1]?.at ?? 0), 1000, 'a PDB 429 backs off on its own schedule');
  const limited = h.lines().filter((l) => /rate-limited this pod: retrying after its Retry-After/.test(String(l.msg)));
  assert.equal(limited.length, 1);
  assert.equal(limited[0]?.retryAfterMs, 7000);
  assert.equal(h.lines().filter((l) => /eviction blocked \(a PodDisruptionBudget/.test(String(l.msg))).length, 1);
});

test('endpoint unreachable or 503: retried', async () => {
  const h = harness({
    manifest: manifest([secret('db', 30)]),
    answers: (_p, n) => (n === 0 ? new CourierError('eviction', 'ECONNREFUSED', { retryable: true }) : n === 1 ? ans(503, 'VaultUnavailable') : ACCEPTED),
  });
  await h.sidecar.start();
  await h.clock.advance(120_000);
  assert.equal(h.posts.length, 3);
  assert.ok(h.lines().some((l) => /cannot be reached/.test(String(l.msg))));
  assert.ok(h.lines().some((l) => /will not evict while Vault cannot serve/.test(String(l.msg))));
});

test('renews the token at two thirds of its TTL while Vault extends it; KV only: never evicts', async () => {
  const h = harness({ manifest: manifest([secret('kv', 0)], { ttlSeconds: 60, renewable: true }) });
  await h.sidecar.start();
  assert.equal(h.sidecar.current()?.kind, 'never');
  await h.clock.advance(200_000);
  assert.deepEqual(h.renewals.map((t) => t - T0), [40_000, 80_000, 120_000, 160_000, 200_000]);
  assert.equal(h.posts.length, 0);
});

test('Vault down at renewal: retries, and the deadline falls back to the token\'s own expiry; back up: deadline gone again', async () => {
  const down = new CourierError('vault', 'Vault did not answer renew-self (ECONNREFUSED)', { retryable: true });
  const h = harness({ manifest: manifest([secret('kv', 0)], { ttlSeconds: 60, renewable: true }), renew: (_n, now) => (now < T0 + 44_000 ? down : { ttlSeconds: 60, renewable: true }) });
  await h.sidecar.start();
  await h.clock.advanceTo(T0 + 40_000);
  assert.equal(h.renewals.length, 1);
  const fallback = h.sidecar.current();
  assert.equal(fallback?.kind, 'at');
  if (fallback?.kind === 'at') {
    assert.equal(fallback.lease.kind, 'token');
    assert.equal(fallback.rule, 'limit');
    // 60 s − grace 5 s − safety 5 s, minus the uid jitter (< 5% of 60 s).
    assert.ok(fallback.atMs <= T0 + 50_000 && fallback.atMs > T0 + 47_000, `${fallback.atMs - T0}`);
  }
  await h.clock.advanceTo(T0 + 46_000);
  assert.ok(h.renewals.length >= 3, `renewal retried: ${h.renewals.map((t) => t - T0)}`);
  assert.equal(h.sidecar.current()?.kind, 'never', 'renewed again: the token is no limit any more');
  assert.ok(h.lines().some((l) => /renewal failed: retrying/.test(String(l.msg))));
});

test('Vault caps the renewal (max TTL): the token becomes a lease over its whole life', async () => {
  const h = harness({ manifest: manifest([secret('kv', 0)], { ttlSeconds: 600, renewable: true }), renew: () => ({ ttlSeconds: 300, renewable: true }) });
  await h.sidecar.start();
  await h.clock.advanceTo(T0 + 400_000);
  assert.equal(h.renewals.length, 1);
  const d = h.sidecar.current();
  assert.equal(d?.kind, 'at');
  if (d?.kind === 'at') {
    assert.equal(d.lease.kind, 'token');
    assert.equal(d.expiresAtMs, T0 + 700_000);
  }
  await h.clock.advance(3_600_000);
  assert.equal(h.renewals.length, 1, 'a final token is not renewed again');
  assert.equal(h.posts.length, 1);
});

test('pods nothing recreates: a warning through /expiry-warning once, never an eviction', async () => {
  const h = harness({ manifest: manifest([secret('db', 30)]), mode: { mode: 'warn', why: 'a Job owns the pod' } });
  await h.sidecar.start();
  await h.clock.advance(3_600_000);
  assert.equal(h.posts.length, 1);
  assert.equal(h.posts[0]?.path, '/expiry-warning');
  assert.deepEqual(h.posts[0]?.body, { expiresAt: new Date(T0 + 30_000).toISOString(), lease: 'secret db (database/creds/db)', why: 'a Job owns the pod' });
});

test('shutdown: a revoke that hangs is abandoned after the timeout, never blocking termination', async () => {
  const h = harness({ manifest: manifest([secret('db', 300)]), revoke: () => new Promise(() => undefined) });
  await h.sidecar.start();
  let done = false;
  const stopping = h.sidecar.shutdown().then(() => (done = true));
  await h.clock.advance(1000);
  assert.equal(done, false);
  // Grace 5 s: the revoke gets at most a third of it.
  await h.clock.advance(700);
  await stopping;
  assert.equal(done, true);
  assert.ok(h.lines().some((l) => /could not revoke/.test(String(l.msg))));
  await h.clock.advance(3_600_000);
  assert.equal(h.posts.length, 0, 'nothing happens after shutdown');
});

test('restarted after the token hit its max TTL: lookup-self shows the cap, the same deadline as before the restart', async () => {
  const m = manifest([secret('kv', 0)], { ttlSeconds: 600, renewable: true });
  // Before: renewed at 400 s, Vault granted 300 s (capped).
  const before = harness({ manifest: m, renew: () => ({ ttlSeconds: 300, renewable: true }) });
  await before.sidecar.start();
  await before.clock.advanceTo(T0 + 400_000);
  const was = deadlineOf(before);
  // After a restart at 450 s, lookup-self tells where the current TTL began and ends.
  const after = harness({ manifest: m, lookup: { ttlSeconds: 250, renewable: true, sinceMs: T0 + 400_000, expiresAtMs: T0 + 700_000 } });
  await after.sidecar.start();
  assert.equal(deadlineOf(after), was);
  await after.clock.advance(1000);
  assert.equal(after.renewals.length, 0, 'a final token is not renewed again');
});

test('restarted while Vault still extends the token: the renewal schedule resumes from the last renewal', async () => {
  const m = manifest([secret('kv', 0)], { ttlSeconds: 600, renewable: true });
  const h = harness({ manifest: m, lookup: { ttlSeconds: 500, renewable: true, sinceMs: T0 + 400_000, expiresAtMs: T0 + 1_000_000 } });
  await h.sidecar.start();
  assert.equal(h.sidecar.current()?.kind, 'never');
  await h.clock.advanceTo(T0 + 800_000);
  assert.deepEqual(h.renewals.map((t) => t - T0), [800_000]);
});

test('sleeps are capped: a wall-clock jump past the deadline during a long sleep is noticed within one cap', async () => {
  // A 3 h lease: the deadline is about 2 h away, one long wait without the cap.
  const h = harness({ manifest: manifest([secret('db', 3 * 3600)], { ttlSeconds: 3 * 3600, renewable: false }) });
  await h.sidecar.start();
  const at = deadlineOf(h);
  await h.clock.advance(10_000);
  assert.equal(h.posts.length, 0);
  // The machine is suspended for 3 h: the wall clock is past the deadline, the timers are not.
  h.clock.jump(3 * 3_600_000);
  assert.ok(h.clock.now() > at);
  await h.clock.advance(SLEEP_CAP_MS);
  assert.equal(h.posts.length, 1, 'eviction asked for within one cap of the jump');
  assert.ok(h.delays.every((ms) => ms <= SLEEP_CAP_MS), `a sleep of ${Math.max(...h.delays)} ms`);
});

test('a deadline months away is reached through capped sleeps', async () => {
  const days = 86_400;
  const h = harness({ manifest: manifest([secret('db', 90 * days)], { ttlSeconds: 90 * days, renewable: false }) });
  await h.sidecar.start();
  const at = deadlineOf(h);
  // Far ahead without walking every minute: the wall clock steps, the pending sleep ends within a cap.
  h.clock.jump(at - 1 - h.clock.now() - SLEEP_CAP_MS);
  await h.clock.advanceTo(at - 1);
  assert.equal(h.posts.length, 0, 'no eviction before the deadline');
  await h.clock.advanceTo(at);
  assert.equal(h.posts.length, 1, 'evicted at the deadline');
  assert.ok(h.delays.every((ms) => ms <= SLEEP_CAP_MS), `a sleep of ${Math.max(...h.delays)} ms`);
});

test('reports its deadline at start and on every wake-up (the reporter sends only changes), before acting; never after the eviction was accepted', async () => {
  const calls: { deadline: number | undefined; earliest: number | undefined; at: number }[] = [];
  // The token reaches its max TTL at the first renewal: it becomes the earliest lease and the deadline moves in.
  const h = harness({ manifest: manifest([secret('db', 7200)]), renew: () => ({ ttlSeconds: 100, renewable: false }), reports: calls });
  const distinct = () => calls.filter((c, i) => i === 0 || c.deadline !== calls[i - 1]?.deadline || c.earliest !== calls[i - 1]?.earliest);
  await h.sidecar.start();
  const reports = distinct();
  assert.equal(reports.length, 1);
  assert.equal(reports[0]?.at, T0);
  assert.equal(reports[0]?.earliest, T0 + 7_200_000);
  assert.equal(reports[0]?.deadline, deadlineOf(h));
  await h.clock.advance(3_600_000);
  assert.equal(h.posts.filter((p) => p.path === '/evict').length, 1, 'evicted once the token became final');
  const afterEviction = calls.length;
  const moved = distinct();
  assert.equal(moved.length, 2, `reports: ${JSON.stringify(moved)}`);
  assert.equal(moved[1]?.earliest, T0 + 2_400_000 + 100_000, 'the token now expires first');
  assert.ok((moved[1]?.at ?? Infinity) <= (h.posts[0]?.at ?? 0), 'reported before the eviction was asked for');
  await h.clock.advance(600_000);
  assert.equal(calls.length, afterEviction, 'no report once the eviction was accepted');
  await h.sidecar.shutdown();
});

test('the deadline report answered 410 PodGone: the token revoked at once, no eviction asked for, idle until SIGTERM', async () => {
  const reports: { deadline: number | undefined; earliest: number | undefined; at: number }[] = [];
  const h = harness({ manifest: manifest([secret('db', 300)]), reports, reportOutcome: 'gone' });
  await h.sidecar.start();
  assert.equal(h.revokes, 1);
  await h.clock.advance(3_600_000);
  assert.equal(h.posts.length, 0, 'nothing asked of /evict');
  assert.equal(reports.length, 1, 'nothing reported again');
  assert.ok(h.lines().some((l) => l.endpoint === 'deadline' && l.status === 410 && /gone .*idling until SIGTERM/.test(String(l.msg))));
  await h.sidecar.shutdown();
  assert.equal(h.revokes, 1);
});

test('the budget queue lead from POST /deadline: 20 pods on a 60 s lease ask at once, reported again; 3 pods keep the refresh point', async () => {
  const calls: { deadline: number | undefined; earliest: number | undefined; at: number }[] = [];
  const long = harness({ manifest: manifest([secret('db', 60)]), reports: calls, reportQueue: budgetLead({ name: 'demo-app', expectedPods: 20, maxUnavailable: 1 }) });
  await long.sidecar.start();
  const first = calls[0]?.deadline ?? NaN;
  assert.ok(first > T0 + 35_000, `the first report is the refresh rule's: ${first - T0} ms`);
  assert.equal(calls.length, 2, 'the moved deadline is reported once');
  const d = long.sidecar.current();
  assert.ok(d?.kind === 'at' && d.rule === 'queue', JSON.stringify(d));
  // limit 50 s − lead 60 s: from the issue, less the uid jitter.
  assert.equal(calls[1]?.deadline, d.atMs);
  assert.ok(d.atMs <= T0 && d.atMs > T0 - 3000, `${d.atMs - T0} ms`);
  await long.clock.advance(10);
  assert.equal(long.posts.filter((p) => p.path === '/evict').length, 1, 'asked at once');
  assert.ok(long.lines().some((l) => l.msg === 'queue lead from the PodDisruptionBudget: asking at least this long before the limit' && l.leadMs === 60_000 && l.budget === 'demo-app'));

  const small: typeof calls = [];
  const short = harness({ manifest: manifest([secret('db', 60)]), reports: small, reportQueue: budgetLead({ name: 'demo-app', expectedPods: 3, maxUnavailable: 1 }) });
  await short.sidecar.start();
  const kept = short.sidecar.current();
  assert.ok(kept?.kind === 'at' && kept.rule === 'refresh', JSON.stringify(kept));
  assert.equal(small.length, 1, 'the same deadline: not reported again');
  assert.equal(kept.atMs, first, 'the same instant as without a lead');
});

test('EvictionQueued: waits its Retry-After (logged as queued, not rate-limited), then first in line retries every second', async () => {
  const h = harness({ manifest: manifest([secret('db', 300)]), answers: (_p, n) => (n === 0 ? ans(429, 'EvictionQueued', 4) : n === 1 ? ans(429, 'DisruptionBudget') : ACCEPTED) });
  await h.sidecar.start();
  await h.clock.advanceTo(deadlineOf(h) + 60_000);
  assert.deepEqual(h.posts.slice(1).map((p, i) => p.at - (h.posts[i]?.at ?? 0)), [4000, 1000]);
  assert.equal(h.lines().filter((l) => /^eviction queued by its PodDisruptionBudget's turn/.test(String(l.msg))).length, 1);
  assert.equal(h.lines().filter((l) => /rate-limited/.test(String(l.msg))).length, 0);
  assert.ok(h.lines().some((l) => l.msg === 'eviction accepted: waiting for SIGTERM'));
});
