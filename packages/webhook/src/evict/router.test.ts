import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { Registry } from 'prom-client';
import { createLogger, type PodIdentity, type RotationCondition } from '@vault-courier/core';
import { createEvictRouter, type EvictRouterDeps } from './router.ts';
import type { EvictionAnswer, PodEvent } from './cluster.ts';
import type { PodFacts } from './answers.ts';
import type { VerifyResult } from './token-verifier.ts';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.canary-jwt-payload.signature';
const POD: PodIdentity = { namespace: 'shop', name: 'api-1', uid: '0b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b', serviceAccount: 'api' };
const INJECTED: PodFacts = { uid: POD.uid, annotations: { 'vault-courier.io/status': 'injected' }, containerNames: ['vault-courier-init', 'vault-courier-sidecar', 'app'] };
const SUCCESSOR: PodFacts = { ...INJECTED, uid: '9f8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b' };
const PLAIN: PodFacts = { uid: POD.uid, annotations: {}, containerNames: ['app'] };
const PDB_CAUSE = 'The disruption budget api-pdb needs 1 healthy pods and has 1 currently';

/**
 * Fault injector for everything around the router: the API server's answer to the Eviction
 * (201, 429, 404, 409, 403, unreachable), the pod it reads before and after, Vault's
 * health, the token verifier's verdict.
 * The real API server cannot be made to answer each of these on cue; the router on the real
 * API server and Vault is in test/integration/evict.test.ts.
 */
interface FaultInjector {
  verify: VerifyResult;
  vaultOk: boolean;
  answer: EvictionAnswer | Error;
  /** The pod read before the eviction, and after an ambiguous answer (404, 409). */
  pod: PodFacts | undefined | Error;
  podAfter?: PodFacts | undefined | Error;
  reads: number;
  evictions: PodIdentity[];
  events: PodEvent[];
  /** The conditions the router wrote through pods/status, and the API server's answer to each. */
  conditions: RotationCondition[];
  statusAnswer: { status: number; message: string } | Error;
  now: number;
}

async function serve(world: FaultInjector, over: Partial<EvictRouterDeps> = {}) {
  const chunks: string[] = [];
  const registry = new Registry();
  const deps: EvictRouterDeps = {
    logger: createLogger({ name: 't', destination: new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c.toString()), done()) }) }),
    registry,
    verifyToken: async (jwt) => (jwt === JWT ? world.verify : { ok: false, status: 401, reason: 'the token signature does not verify' }),
    vaultHealth: async () => (world.vaultOk ? { ok: true } : { ok: false, reason: 'Vault at http://vault:8200 is sealed' }),
    cluster: {
      evict: async (pod) => {
        world.evictions.push(pod);
        if (world.answer instanceof Error) throw world.answer;
        return world.answer;
      },
      recordEvent: async (_pod, event) => void world.events.push(event),
      writeRotationCondition: async (_pod, condition) => {
        world.conditions.push(condition);
        if (world.statusAnswer instanceof Error) throw world.statusAnswer;
        return world.statusAnswer;
      },
      readPod: async () => {
        const found = world.reads++ > 0 && 'podAfter' in world ? world.podAfter : world.pod;
        if (found instanceof Error) throw found;
        return found;
      },
    },
    now: () => world.now,
    ...over,
  };
  const app = express().use(createEvictRouter(deps));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (path: string, jwt: string | undefined, body: unknown = {}) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(jwt ? { authorization: `Bearer ${jwt}` } : {}) }, body: JSON.stringify(body) });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { message: string; code: number; reason?: string } };
  };
  return { post, registry, logs: () => chunks.join(''), close: () => new Promise<void>((r) => server.close(() => r())) };
}

function faultInjector(over: Partial<FaultInjector> = {}): FaultInjector {
  return { verify: { ok: true, pod: POD }, vaultOk: true, answer: { status: 201, message: 'accepted', causes: [] }, pod: INJECTED, reads: 0, evictions: [], events: [], conditions: [], statusAnswer: { status: 200, message: 'ok' }, now: 0, ...over };
}

const rows: { name: string; world: Partial<FaultInjector>; jwt?: string | null; status: number; reason: string; evicted: boolean; event?: RegExp; outcome: string }[] = [
  { name: 'accepted: 201 and an EvictionRequested Event', world: {}, status: 201, reason: 'Evicted', evicted: true, event: /^EvictionRequested Normal Evicting the pod so its replacement gets new Vault credentials: secret db/, outcome: 'requested' },
  {
    name: "a PDB blocks: 429 DisruptionBudget and an EvictionBlocked Event naming the budget from the API server's cause",
    world: { answer: { status: 429, message: "Cannot evict pod as it would violate the pod's disruption budget.", causes: [PDB_CAUSE] } },
    status: 429,
    reason: 'DisruptionBudget',
    evicted: true,
    event: /^EvictionBlocked Warning .*blocked by PodDisruptionBudget api-pdb: The disruption budget api-pdb needs/,
    outcome: 'blocked',
  },
  { name: 'the pod is gone before: 410 PodGone, no eviction', world: { pod: undefined }, status: 410, reason: 'PodGone', evicted: false, outcome: 'gone' },
  { name: 'a namesake with another uid: 410 PodGone, the namesake untouched', world: { pod: SUCCESSOR }, status: 410, reason: 'PodGone', evicted: false, outcome: 'gone' },
  { name: 'the API server answers 404 and the pod is gone after: 410 PodGone', world: { answer: { status: 404, message: 'pods "api-1" not found', causes: [] }, podAfter: undefined }, status: 410, reason: 'PodGone', evicted: true, outcome: 'gone' },
  { name: 'uid precondition 409, a namesake after: 410 PodGone', world: { answer: { status: 409, message: 'Precondition failed: UID in precondition', causes: [] }, podAfter: SUCCESSOR }, status: 410, reason: 'PodGone', evicted: true, outcome: 'gone' },
  { name: 'PDB-status conflicts 409, the same pod after: 409 EvictionConflict (retry)', world: { answer: { status: 409, message: 'Operation cannot be fulfilled on poddisruptionbudgets.policy "api-pdb"', causes: [] } }, status: 409, reason: 'EvictionConflict', evicted: true, outcome: 'conflict' },
  { name: 'a 409 and the re-read fails: a retry, never gone', world: { answer: { status: 409, message: 'conflict', causes: [] }, podAfter: new Error('ECONNRESET') }, status: 409, reason: 'EvictionConflict', evicted: true, outcome: 'conflict' },
  { name: 'not injected: 403 NotInjected, a Warning Event, no eviction', world: { pod: PLAIN }, status: 403, reason: 'NotInjected', evicted: false, event: /^EvictionNotAllowed Warning .*not injected by vault-courier/, outcome: 'not_injected' },
  { name: 'the sidecar without the status annotation still counts as injected', world: { pod: { ...PLAIN, containerNames: ['vault-courier-sidecar', 'app'] } }, status: 201, reason: 'Evicted', evicted: true, event: /^EvictionRequested/, outcome: 'requested' },
  { name: 'the pod cannot be read: 503, no eviction', world: { pod: new Error('ECONNREFUSED') }, status: 503, reason: 'ClusterUnavailable', evicted: false, outcome: 'unavailable' },
  { name: 'API server refuses (RBAC): 502 and an EvictionFailed Warning Event', world: { answer: { status: 403, message: 'forbidden', causes: [] } }, status: 502, reason: 'EvictionRefused', evicted: true, event: /^EvictionFailed Warning .*answered 403.*RBAC/, outcome: 'error' },
  { name: 'API server unreachable: 503', world: { answer: new Error('ECONNREFUSED') }, status: 503, reason: 'ClusterUnavailable', evicted: true, outcome: 'unavailable' },
  {
    name: 'API server shutting down (429 without a budget cause): 503 ClusterUnavailable, no EvictionBlocked Event',
    world: { answer: { status: 429, message: 'The apiserver is shutting down, please try again later.', causes: [] } },
    status: 503,
    reason: 'ClusterUnavailable',
    evicted: true,
    outcome: 'unavailable',
  },
  { name: 'Vault down: 503, no eviction, and an EvictionHeld Warning Event saying why', world: { vaultOk: false }, status: 503, reason: 'VaultUnavailable', evicted: false, event: /^EvictionHeld Warning Eviction for credential rotation held: Vault at http:\/\/vault:8200 is sealed, so a replacement pod could not get credentials/, outcome: 'vault_unavailable' },
  { name: 'no bearer token: 401', world: {}, jwt: null, status: 401, reason: 'Unauthorized', evicted: false, outcome: 'unauthorized' },
  { name: 'a token that does not verify: 401', world: {}, jwt: 'eyJforged.x.y', status: 401, reason: 'Unauthorized', evicted: false, outcome: 'unauthorized' },
  { name: 'a token not bound to a pod: 403', world: { verify: { ok: false, status: 403, reason: 'the token is not bound to a pod' } }, status: 403, reason: 'NotBoundToPod', evicted: false, outcome: 'forbidden' },
  { name: 'cluster keys unreachable: 503', world: { verify: { ok: false, status: 503, reason: "cannot fetch the cluster's service-account keys" } }, status: 503, reason: 'ClusterUnavailable', evicted: false, outcome: 'unavailable' },
];

for (const row of rows) {
  test(`POST /evict: ${row.name}`, async () => {
    const w = faultInjector(row.world);
    const s = await serve(w);
    try {
      const res = await s.post('/evict', row.jwt === null ? undefined : (row.jwt ?? JWT), { reason: 'secret db (database/creds/db) expires at 2026-11-24T12:00:30.000Z' });
      assert.equal(res.status, row.status, res.body.message);
      assert.equal(res.body.code, row.status);
      assert.equal(res.body.reason, row.reason);
      assert.equal(w.evictions.length, row.evicted ? 1 : 0);
      if (row.evicted) assert.deepEqual(w.evictions[0], POD);
      if (row.event) {
        assert.equal(w.events.length, 1);
        assert.match(`${w.events[0]?.reason} ${w.events[0]?.type} ${w.events[0]?.message}`, row.event);
      } else assert.equal(w.events.length, 0);
      const metrics = await s.registry.getSingleMetricAsString('vault_courier_eviction_requests_total');
      assert.match(metrics, new RegExp(`endpoint="evict",outcome="${row.outcome}"} 1`));
      const everything = `${s.logs()}${JSON.stringify(res.body)}${JSON.stringify(w.events)}${metrics}`;
      assert.ok(!everything.includes('canary-jwt-payload'), 'the token leaked');
    } finally {
      await s.close();
    }
  });
}

test('POST /evict: rate-limited per pod uid, with Retry-After, refilled with time', async () => {
  const w = faultInjector();
  const s = await serve(w, { rateLimit: { capacity: 2, refillPerSecond: 0.5 } });
  try {
    assert.equal((await s.post('/evict', JWT)).status, 201);
    assert.equal((await s.post('/evict', JWT)).status, 201);
    const limited = await s.post('/evict', JWT);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.reason, 'RateLimited', 'told apart from a PDB 429');
    assert.equal(limited.retryAfter, '2');
    assert.match(limited.body.message, /too many requests for pod shop\/api-1; retry after 2 s/);
    assert.equal(w.evictions.length, 2, 'a rate-limited request never reaches the API server');
    w.now += 2000;
    assert.equal((await s.post('/evict', JWT)).status, 201);
  } finally {
    await s.close();
  }
});

test('POST /expiry-warning: a CredentialsExpiring Warning Event on the pod, no eviction', async () => {
  const w = faultInjector();
  const s = await serve(w);
  try {
    const res = await s.post('/expiry-warning', JWT, { expiresAt: '2026-11-24T13:00:00.000Z', lease: 'secret db (database/creds/db)', why: 'a Job owns the pod\u0007' });
    assert.equal(res.status, 201);
    assert.equal(w.evictions.length, 0);
    assert.deepEqual(w.events, [
      {
        type: 'Warning',
        reason: 'CredentialsExpiring',
        message: 'Vault credentials expire at 2026-11-24T13:00:00.000Z (secret db (database/creds/db)) and this pod is not rotated automatically (a Job owns the pod): replace it before then, or its application loses access',
      },
    ]);
    assert.equal((await s.post('/expiry-warning', JWT, { expiresAt: 'soon' })).status, 400);
    assert.equal(w.events.at(-1)?.reason, 'ExpiryWarningInvalid', 'a refusal retrying cannot fix is a Warning Event');
    assert.equal(w.events.at(-1)?.type, 'Warning');
    assert.equal((await s.post('/expiry-warning', undefined, { expiresAt: '2026-11-24T13:00:00.000Z' })).status, 401);
  } finally {
    await s.close();
  }
});

test('POST /expiry-warning: refused for a pod that is not injected (403) or gone (410)', async () => {
  for (const [pod, status, reason] of [[PLAIN, 403, 'NotInjected'], [undefined, 410, 'PodGone']] as const) {
    const w = faultInjector({ pod });
    const s = await serve(w);
    try {
      const res = await s.post('/expiry-warning', JWT, { expiresAt: '2026-11-24T13:00:00.000Z' });
      assert.equal(res.status, status);
      assert.equal(res.body.reason, reason);
      assert.ok(!w.events.some((e) => e.reason === 'CredentialsExpiring'));
    } finally {
      await s.close();
    }
  }
});

test('two routers on one registry share the counter (createApp may be called again in tests)', async () => {
  const registry = new Registry();
  const a = await serve(faultInjector(), { registry });
  const b = await serve(faultInjector(), { registry });
  await a.close();
  await b.close();
  assert.ok(registry.getSingleMetric('vault_courier_eviction_requests_total'));
});

const DEADLINE = '2026-11-24T12:00:20.000Z';
const EXPIRY = '2026-11-24T12:00:30.000Z';
const REPORTED = { reason: 'Scheduled', deadline: DEADLINE, earliestExpiry: EXPIRY, lease: 'secret db (database/creds/db)', blockedBy: [] } as const;

const deadlineRows: { name: string; world: Partial<FaultInjector>; body: unknown; status: number; reason: string; condition?: { status: string; reason: string; message: string }; event?: RegExp; outcome: string }[] = [
  {
    name: 'evict mode: 200 Recorded, a Scheduled condition with the parseable message',
    world: {},
    body: { deadline: DEADLINE, earliestExpiry: EXPIRY, lease: 'secret db (database/creds/db)', mode: 'evict' },
    status: 200,
    reason: 'Recorded',
    condition: { status: 'True', reason: 'Scheduled', message: `deadline=${DEADLINE}; earliestExpiry=${EXPIRY}; lease=secret db (database/creds/db)` },
    outcome: 'recorded',
  },
  { name: 'warn mode: NotRotated', world: {}, body: { deadline: DEADLINE, earliestExpiry: EXPIRY, mode: 'warn' }, status: 200, reason: 'Recorded', condition: { status: 'True', reason: 'NotRotated', message: `deadline=${DEADLINE}; earliestExpiry=${EXPIRY}` }, outcome: 'recorded' },
  { name: 'nothing expires: NoDeadline', world: {}, body: { deadline: null, earliestExpiry: null, mode: 'evict' }, status: 200, reason: 'Recorded', condition: { status: 'True', reason: 'NoDeadline', message: 'deadline=none' }, outcome: 'recorded' },
  { name: 'a malformed body: 400 naming the field, a Warning Event, nothing written', world: {}, body: { deadline: 'soon', earliestExpiry: null, mode: 'evict' }, status: 400, reason: 'BadRequest', event: /^DeadlineReportInvalid Warning .*body\.deadline must be an ISO 8601/, outcome: 'bad_request' },
  { name: 'RBAC lacks pods/status patch: 502 StatusRefused and a RotationStatusFailed Event', world: { statusAnswer: { status: 403, message: 'pods "api-1" is forbidden' } }, body: { deadline: DEADLINE, earliestExpiry: EXPIRY, mode: 'evict' }, status: 502, reason: 'StatusRefused', condition: { status: 'True', reason: 'Scheduled', message: `deadline=${DEADLINE}; earliestExpiry=${EXPIRY}` }, event: /^RotationStatusFailed Warning .*answered 403.*pods\/status patch/, outcome: 'status_error' },
  { name: 'the pod went away before the patch: 410 PodGone', world: { statusAnswer: { status: 404, message: 'not found' } }, body: { deadline: DEADLINE, earliestExpiry: EXPIRY, mode: 'evict' }, status: 410, reason: 'PodGone', condition: { status: 'True', reason: 'Scheduled', message: `deadline=${DEADLINE}; earliestExpiry=${EXPIRY}` }, outcome: 'gone' },
  { name: 'the API server does not answer: 503', world: { statusAnswer: new Error('ECONNRESET') }, body: { deadline: DEADLINE, earliestExpiry: EXPIRY, mode: 'evict' }, status: 503, reason: 'ClusterUnavailable', condition: { status: 'True', reason: 'Scheduled', message: `deadline=${DEADLINE}; earliestExpiry=${EXPIRY}` }, outcome: 'unavailable' },
  { name: 'not injected: 403, nothing written', world: { pod: PLAIN }, body: { deadline: DEADLINE, earliestExpiry: EXPIRY, mode: 'evict' }, status: 403, reason: 'NotInjected', event: /^EvictionNotAllowed Warning .*record the rotation deadline of it/, outcome: 'not_injected' },
];

for (const row of deadlineRows) {
  test(`POST /deadline: ${row.name}`, async () => {
    const w = faultInjector(row.world);
    const s = await serve(w);
    try {
      const res = await s.post('/deadline', JWT, row.body);
      assert.equal(res.status, row.status, res.body.message);
      assert.equal(res.body.reason, row.reason);
      assert.equal(w.evictions.length, 0);
      assert.deepEqual(w.conditions.map(({ status, reason, message }) => ({ status, reason, message })), row.condition ? [row.condition] : []);
      assert.deepEqual(w.conditions.map((c) => c.type), row.condition ? ['vault-courier.io/Rotation'] : []);
      if (row.event) assert.match(`${w.events[0]?.reason} ${w.events[0]?.type} ${w.events[0]?.message}`, row.event);
      else assert.equal(w.events.length, 0);
      assert.match(await s.registry.getSingleMetricAsString('vault_courier_eviction_requests_total'), new RegExp(`endpoint="deadline",outcome="${row.outcome}"} 1`));
    } finally {
      await s.close();
    }
  });
}

const afterEvictRows: { name: string; world: Partial<FaultInjector>; condition: { status: string; reason: string; message: string } | undefined }[] = [
  { name: 'accepted: Evicting, the reported deadline kept', world: { pod: { ...INJECTED, rotation: REPORTED } }, condition: { status: 'True', reason: 'Evicting', message: `deadline=${DEADLINE}; earliestExpiry=${EXPIRY}; lease=secret db (database/creds/db)` } },
  {
    name: "a PDB blocks: EvictionBlocked (False) naming the budget from the API server's cause",
    world: { pod: { ...INJECTED, rotation: REPORTED }, answer: { status: 429, message: 'Cannot evict pod', causes: [PDB_CAUSE] } },
    condition: { status: 'False', reason: 'EvictionBlocked', message: `deadline=${DEADLINE}; earliestExpiry=${EXPIRY}; lease=secret db (database/creds/db); blockedBy=api-pdb` },
  },
  { name: 'a sidecar that never reported: the budget without an invented deadline', world: { answer: { status: 429, message: 'Cannot evict pod', causes: [PDB_CAUSE] } }, condition: { status: 'False', reason: 'EvictionBlocked', message: 'blockedBy=api-pdb' } },
  { name: 'blocked again by the same budget: not written again', world: { pod: { ...INJECTED, rotation: { ...REPORTED, reason: 'EvictionBlocked', blockedBy: ['api-pdb'] } }, answer: { status: 429, message: 'Cannot evict pod', causes: [PDB_CAUSE] } }, condition: undefined },
  { name: 'Vault down: the condition is left as it was', world: { pod: { ...INJECTED, rotation: REPORTED }, vaultOk: false }, condition: undefined },
];

test('POST /evict blocked past the earliest expiry: the condition says Expired and one CredentialsExpired Warning names the budget', async () => {
  const w = faultInjector({ pod: { ...INJECTED, rotation: { ...REPORTED, reason: 'EvictionBlocked', blockedBy: ['api-pdb'] } }, answer: { status: 429, message: 'Cannot evict pod', causes: [PDB_CAUSE] }, now: Date.parse(EXPIRY) + 1000 });
  const s = await serve(w);
  try {
    const res = await s.post('/evict', JWT);
    assert.equal(res.status, 429);
    assert.equal(res.body.reason, 'DisruptionBudget', 'the sidecar retries as before');
    assert.deepEqual(w.conditions.map(({ status, reason, message }) => ({ status, reason, message })), [{ status: 'False', reason: 'Expired', message: `deadline=${DEADLINE}; earliestExpiry=${EXPIRY}; lease=secret db (database/creds/db); blockedBy=api-pdb` }]);
    const expired = w.events.filter((e) => e.reason === 'CredentialsExpired');
    assert.equal(expired.length, 1);
    assert.equal(expired[0]?.type, 'Warning');
    assert.match(expired[0]?.message ?? '', new RegExp(`\\(secret db \\(database/creds/db\\)\\) expired at ${EXPIRY.replace(/\./g, '\\.')} while PodDisruptionBudget api-pdb still refuses the eviction`));
    w.pod = { ...INJECTED, rotation: { ...REPORTED, reason: 'Expired', blockedBy: ['api-pdb'] } };
    await s.post('/evict', JWT);
    assert.equal(w.events.filter((e) => e.reason === 'CredentialsExpired').length, 1, 'raised once, not on every retry');
  } finally {
    await s.close();
  }
});

for (const row of afterEvictRows) {
  test(`POST /evict updates the rotation condition: ${row.name}`, async () => {
    const w = faultInjector(row.world);
    const s = await serve(w);
    try {
      await s.post('/evict', JWT);
      assert.deepEqual(w.conditions.map(({ status, reason, message }) => ({ status, reason, message })), row.condition ? [row.condition] : []);
    } finally {
      await s.close();
    }
  });
}

test('POST /evict: a condition the API server refuses does not change the answer', async () => {
  const w = faultInjector({ statusAnswer: { status: 403, message: 'forbidden' } });
  const s = await serve(w);
  try {
    const res = await s.post('/evict', JWT);
    assert.equal(res.status, 201);
    assert.match(s.logs(), /could not update the pod's rotation condition/);
  } finally {
    await s.close();
  }
});

test('the rotation queue degrades to no queue: budgets that cannot be listed (a ClusterRole from before it) mean evict as before, logged once', async () => {
  const w = faultInjector({ pod: { ...INJECTED, labels: { app: 'api' }, ready: true } });
  const refused = Object.assign(new Error('poddisruptionbudgets.policy is forbidden'), { code: 403 });
  const s = await serve(w, {
    cluster: {
      evict: async (pod) => (w.evictions.push(pod), { status: 201, message: 'accepted', causes: [] }),
      recordEvent: async () => undefined,
      writeRotationCondition: async () => ({ status: 200, message: 'ok' }),
      readPod: async () => (w.pod instanceof Error ? undefined : w.pod),
      listBudgets: async () => Promise.reject(refused),
      listPods: async () => [],
    },
  });
  try {
    const recorded = await s.post('/deadline', JWT, { deadline: '2026-11-24T12:00:40.000Z', earliestExpiry: '2026-11-24T12:01:00.000Z', mode: 'evict' });
    assert.equal(recorded.body.reason, 'Recorded');
    assert.equal((recorded.body as { queue?: unknown }).queue, undefined, 'no lead without the budgets');
    assert.equal((await s.post('/evict', JWT)).status, 201);
    assert.equal(w.evictions.length, 1);
    assert.equal(s.logs().split('could not list PodDisruptionBudgets').length - 1, 1, 'one log line for the missing right');
  } finally {
    await s.close();
  }
});

/** The first in its budget's queue, whose budget is spent: `allowedFrom` is the poll at which it frees (Infinity: never). */
async function heldEviction(allowedFrom: number) {
  const w = faultInjector({ pod: { ...INJECTED, labels: { app: 'api' }, ready: true } });
  let polls = 0;
  const budget = { name: 'api-pdb', expectedPods: 2, maxUnavailable: 1, selector: { matchLabels: { app: 'api' } } };
  const s = await serve(w, {
    hold: { maxMs: 300, everyMs: 20 },
    cluster: {
      evict: async (pod) => {
        w.evictions.push(pod);
        return w.evictions.length === 1 ? { status: 429, message: "Cannot evict pod as it would violate the pod's disruption budget.", causes: [PDB_CAUSE] } : { status: 201, message: 'accepted', causes: [] };
      },
      recordEvent: async (_pod, event) => void w.events.push(event),
      writeRotationCondition: async () => ({ status: 200, message: 'ok' }),
      readPod: async () => (w.pod instanceof Error ? undefined : w.pod),
      // The first list is the queue's own; then the hold's polls.
      listBudgets: async () => [{ ...budget, disruptionsAllowed: polls++ > allowedFrom ? 1 : 0 }],
      listPods: async () => [],
    },
  });
  const started = Date.now();
  try {
    const res = await s.post('/evict', JWT);
    return { res, w, polls, ms: Date.now() - started };
  } finally {
    await s.close();
  }
}

test('POST /evict: a budget that frees while the request is held: evicted by a second Eviction, no EvictionBlocked', async () => {
  const { res, w, polls } = await heldEviction(3);
  assert.equal(res.body.reason, 'Evicted');
  assert.equal(w.evictions.length, 2);
  assert.equal(polls, 5, 'the queue list, then polls until it freed');
  assert.deepEqual(w.events.map((e) => e.reason), ['EvictionRequested']);
});

test('POST /evict: a budget that stays spent: 429 DisruptionBudget once the hold is over, one Eviction', async () => {
  const { res, w, ms } = await heldEviction(Infinity);
  assert.equal(res.status, 429);
  assert.equal(res.body.reason, 'DisruptionBudget');
  assert.equal(w.evictions.length, 1);
  assert.ok(ms >= 300, `answered after ${ms} ms`);
  assert.deepEqual(w.events.map((e) => e.reason), ['EvictionBlocked']);
});
