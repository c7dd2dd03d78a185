import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '@vault-courier/core/support/logger';
import type { DeadlineResult } from '@vault-courier/core/rotation/deadline';
import { createDeadlineReporter, deadlineReport } from './deadline-report.ts';
import type { EndpointAnswer } from './endpoint.ts';

const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);
const JWT_CANARY = 'eyJcanary.deadline-report-jwt.sig';
const AT: DeadlineResult = { kind: 'at', atMs: T0 + 40_000, delayMs: 40_000, expiresAtMs: T0 + 60_000, limitMs: T0 + 50_000, lease: { kind: 'secret', name: 'db', path: 'database/creds/app' }, rule: 'refresh', jitterMs: 0, reason: '', warnings: [] };
const EARLIEST = { atMs: T0 + 60_000, lease: { kind: 'secret', name: 'db', path: 'database/creds/app' } } as const;

const bodies: { name: string; result: DeadlineResult; earliest: typeof EARLIEST | undefined; mode: 'evict' | 'warn'; want: unknown }[] = [
  { name: 'a deadline', result: AT, earliest: EARLIEST, mode: 'evict', want: { deadline: '2026-12-01T10:00:40.000Z', earliestExpiry: '2026-12-01T10:01:00.000Z', lease: 'secret db (database/creds/app)', mode: 'evict' } },
  { name: 'a pod that is warned, not evicted', result: AT, earliest: EARLIEST, mode: 'warn', want: { deadline: '2026-12-01T10:00:40.000Z', earliestExpiry: '2026-12-01T10:01:00.000Z', lease: 'secret db (database/creds/app)', mode: 'warn' } },
  { name: 'nothing expires', result: { kind: 'never', reason: 'KV only' }, earliest: undefined, mode: 'evict', want: { deadline: null, earliestExpiry: null, mode: 'evict' } },
];

for (const row of bodies) {
  test(`deadlineReport: ${row.name}`, () => assert.deepEqual(deadlineReport(row.result, row.earliest, row.mode), row.want));
}

/** Fault injector for the webhook's answers (the router on the real API server: test/e2e/rotation.test.ts). */
function reporter(answers: (n: number) => EndpointAnswer | Error) {
  const chunks: string[] = [];
  const posts: { path: string; jwt: string; body: Record<string, unknown> }[] = [];
  const report = createDeadlineReporter({
    post: async (path, jwt, body) => {
      posts.push({ path, jwt, body });
      const a = answers(posts.length - 1);
      if (a instanceof Error) throw a;
      return a;
    },
    readJwt: async () => JWT_CANARY,
    mode: 'evict',
    logger: createLogger({ name: 't', destination: new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c.toString()), done()) }) }),
  });
  const lines = () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string });
  return { report, posts, lines, raw: () => chunks.join('') };
}

const RECORDED: EndpointAnswer = { status: 200, reason: 'Recorded', message: 'deadline recorded', retryAfterSeconds: undefined };

test('a recorded deadline is sent once; a moved one again', async () => {
  const r = reporter(() => RECORDED);
  assert.equal((await r.report(AT, EARLIEST)).outcome, 'recorded');
  assert.equal((await r.report(AT, EARLIEST)).outcome, 'unchanged');
  assert.equal(r.posts.length, 1);
  assert.equal(r.posts[0]?.path, '/deadline');
  assert.equal(r.posts[0]?.jwt, JWT_CANARY);
  await r.report({ ...AT, atMs: AT.kind === 'at' ? AT.atMs - 1000 : 0 }, EARLIEST);
  assert.equal(r.posts.length, 2);
  assert.ok(!r.raw().includes(JWT_CANARY), 'the JWT reached a log line');
});

test('a failed report is sent again at the next call, and a repeated failure is logged once', async () => {
  const r = reporter((n) => (n === 0 ? new Error('ECONNREFUSED') : n < 3 ? { status: 502, reason: 'StatusRefused', message: 'forbidden', retryAfterSeconds: undefined } : RECORDED));
  for (let i = 0; i < 5; i++) await r.report(AT, EARLIEST);
  assert.equal(r.posts.length, 4, 'retried until recorded, then quiet');
  assert.deepEqual(
    r.lines().map((l) => l.msg),
    [
      'the deadline report could not be sent: retrying at the next wake-up',
      'the deadline report was not recorded (StatusRefused): retrying at the next wake-up',
      'deadline reported: on the pod status condition vault-courier.io/Rotation',
    ],
  );
});

test("a bare 404 (an older webhook, a wrong URL) is retried, never taken for recorded or gone, logged once as an error without its body", async () => {
  const r = reporter(() => ({ status: 404, reason: undefined, message: `echo ${JWT_CANARY}`, retryAfterSeconds: undefined }));
  assert.equal((await r.report(AT, EARLIEST)).outcome, 'failed');
  assert.equal((await r.report(AT, EARLIEST)).outcome, 'failed');
  assert.equal(r.posts.length, 2);
  assert.equal(r.lines().length, 1);
  assert.match(r.lines()[0]?.msg ?? '', /without a reason vault-courier sends \(a webhook older than POST \/deadline/);
  assert.ok(!r.raw().includes(JWT_CANARY));
});

test('410 PodGone is handed to the sidecar, which acts on it as on /evict', async () => {
  const r = reporter(() => ({ status: 410, reason: 'PodGone', message: 'gone', retryAfterSeconds: undefined }));
  assert.equal((await r.report(AT, EARLIEST)).outcome, 'gone');
  assert.deepEqual(r.lines(), []);
});

test("the answer's queue lead is handed on, and kept while the report is unchanged; a webhook without one means none", async () => {
  const queue = { budget: 'demo-app', pods: 20, atOnce: 1, leadMs: 60_000 };
  const r = reporter((n) => (n === 0 ? { ...RECORDED, queue } : RECORDED));
  assert.deepEqual(await r.report(AT, EARLIEST), { outcome: 'recorded', queue });
  assert.deepEqual(await r.report(AT, EARLIEST), { outcome: 'unchanged', queue });
  assert.deepEqual(await r.report({ ...AT, atMs: T0 }, EARLIEST), { outcome: 'recorded', queue: undefined });
});
