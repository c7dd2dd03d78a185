/**
 * POST /evict on the real API server, with the webhook's service account holding only the
 * documented rules: a token evicts exactly the pod it is bound to (never another pod,
 * never a successor with the same name: 410 PodGone), only pods that vault-courier
 * injected (403 NotInjected otherwise, with a Warning Event), tokens of another audience
 * or signed by anyone but the cluster are refused, a PodDisruptionBudget that allows no
 * disruption answers 429 DisruptionBudget with an EvictionBlocked Event naming it (from
 * the API server's own cause) until it is relaxed, and Vault down means 503 and no
 * eviction. POST /deadline writes the pod's vault-courier.io/Rotation condition through
 * pods/status, and the answers of /evict move it (EvictionBlocked, Evicting).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createNamespace, createServiceAccount, requestServiceAccountToken } from '@vault-courier/devcluster';
import { EVICT_AUDIENCE, ROTATION_CONDITION_TYPE, VAULT_AUDIENCE } from '@vault-courier/core';
import { DEFAULT_HEALTH_CACHE_MS } from '@vault-courier/webhook/evict/vault-health';
import { createTokenKit, type EvictionWorld } from '../fuzz/eviction-cases.ts';
import { fuzzEvictionEndpoints } from '../fuzz/eviction-fuzz.ts';
import { seededRandom } from '../fuzz/random.ts';
import { createWorkload, eventually, INJECTED_METADATA, isEvicted, podEvents, readPod, readyPods, startRotationWorld, type RotationWorld } from './rotation-fixture.ts';

interface Answer {
  status: number;
  retryAfter?: string | undefined;
  body: { message?: string; code?: number; reason?: string; queue?: unknown };
}

function post(world: RotationWorld, path: string, jwt: string | undefined, body: unknown = {}): Promise<Answer> {
  const url = new URL(path, world.webhook.url.replace('localhost', '127.0.0.1'));
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: world.cluster.caPem, headers: { 'content-type': 'application/json', ...(jwt ? { authorization: `Bearer ${jwt}` } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: JSON.parse(text || '{}') as Answer['body'] }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function podToken(world: RotationWorld, namespace: string, name: string, uid: string, audience = EVICT_AUDIENCE): Promise<string> {
  return requestServiceAccountToken(world.cluster.kubeConfig, { namespace, serviceAccount: 'app', audiences: [audience], podName: name, podUid: uid, expirationSeconds: 3600 });
}

/** The pod's vault-courier.io/Rotation condition, as the API server has it. */
async function rotation(world: RotationWorld, namespace: string, name: string): Promise<{ status: string; reason?: string; message?: string } | undefined> {
  const found = (await readPod(world, namespace, name))?.status?.conditions?.find((c) => c.type === ROTATION_CONDITION_TYPE);
  return found === undefined ? undefined : { status: found.status, reason: found.reason, message: found.message };
}

const nameOf = (p: { metadata?: { name?: string } }) => p.metadata?.name ?? '';
const uidOf = (p: { metadata?: { uid?: string } }) => p.metadata?.uid ?? '';

describe('POST /evict on the real API server', { timeout: 600_000 }, () => {
  let world: RotationWorld;

  before(async () => {
    world = await startRotationWorld();
  });

  after(async () => {
    await world?.stop();
  });

  test("pod A's token evicts pod A only, whatever the body names", async () => {
    const [a, b] = await createWorkload(world, { namespace: 'pair', replicas: 2 });
    assert.ok(a && b);
    const tokenA = await podToken(world, 'pair', nameOf(a), uidOf(a));
    const res = await post(world, '/evict', tokenA, { name: nameOf(b), namespace: 'pair', uid: uidOf(b) });
    assert.equal(res.status, 201, String(res.body.message));
    assert.ok(isEvicted(await readPod(world, 'pair', nameOf(a)), uidOf(a)), 'pod A is evicted');
    const stillB = await readPod(world, 'pair', nameOf(b));
    assert.equal(stillB?.metadata?.uid, uidOf(b));
    assert.equal(stillB?.metadata?.deletionTimestamp, undefined, 'pod B is untouched');
    const events = await eventually('EvictionRequested on pod A', async () => {
      const e = await podEvents(world, 'pair', nameOf(a));
      return e.some((x) => x.reason === 'EvictionRequested') ? e : undefined;
    });
    assert.equal(events.find((x) => x.reason === 'EvictionRequested')?.involvedObject.uid, uidOf(a));
    assert.equal((await podEvents(world, 'pair', nameOf(b))).length, 0);
    // The ReplicaSet replaces the evicted pod.
    await readyPods(world, 'pair', 2, [uidOf(a)]);
  });

  test("a deleted pod's token: 410 PodGone once it is gone, and 410 again when a new pod took its name, which stays untouched", async () => {
    await createNamespace(world.cluster.kubeConfig, 'reuse');
    await createServiceAccount(world.cluster.kubeConfig, 'reuse', 'app');
    const spec = { serviceAccountName: 'app', containers: [{ name: 'app', image: 'registry.example/app:1' }] };
    const first = await world.core.createNamespacedPod({ namespace: 'reuse', body: { metadata: { name: 'same', ...INJECTED_METADATA }, spec } });
    const oldToken = await podToken(world, 'reuse', 'same', uidOf(first));
    // Not bound to a node: deleted at once.
    await world.core.deleteNamespacedPod({ namespace: 'reuse', name: 'same' });
    await eventually('the first pod gone', async () => ((await readPod(world, 'reuse', 'same')) === undefined ? true : undefined));
    const gone = await post(world, '/evict', oldToken);
    assert.equal(gone.status, 410, String(gone.body.message));
    assert.equal(gone.body.reason, 'PodGone');
    const second = await world.core.createNamespacedPod({ namespace: 'reuse', body: { metadata: { name: 'same', ...INJECTED_METADATA }, spec } });
    const res = await post(world, '/evict', oldToken);
    assert.equal(res.status, 410, String(res.body.message));
    assert.equal(res.body.reason, 'PodGone');
    assert.match(res.body.message ?? '', new RegExp(`uid ${uidOf(first)} no longer exists`));
    const now = await readPod(world, 'reuse', 'same');
    assert.equal(now?.metadata?.uid, uidOf(second));
    assert.equal(now?.metadata?.deletionTimestamp, undefined);
  });

  test('a pod vault-courier did not inject, presenting a valid token: 403 NotInjected on both endpoints, a Warning Event, no eviction', async () => {
    const [pod] = await createWorkload(world, { namespace: 'plain', injected: false });
    assert.ok(pod);
    const token = await podToken(world, 'plain', nameOf(pod), uidOf(pod));
    for (const [path, body] of [['/evict', {}], ['/expiry-warning', { expiresAt: new Date(Date.now() + 60_000).toISOString() }]] as const) {
      const res = await post(world, path, token, body);
      assert.equal(res.status, 403, `${path}: ${res.body.message}`);
      assert.equal(res.body.reason, 'NotInjected');
      assert.match(res.body.message ?? '', /is not injected by vault-courier/);
    }
    const events = await eventually('EvictionNotAllowed on the pod', async () => {
      const e = (await podEvents(world, 'plain', nameOf(pod))).filter((x) => x.reason === 'EvictionNotAllowed');
      return e.length > 0 ? e : undefined;
    });
    assert.equal(events[0]?.type, 'Warning');
    assert.ok(!(await podEvents(world, 'plain', nameOf(pod))).some((x) => x.reason === 'CredentialsExpiring' || x.reason === 'EvictionRequested'));
    assert.equal((await readPod(world, 'plain', nameOf(pod)))?.metadata?.deletionTimestamp, undefined, 'not evicted');
  });

  test('tokens of another audience, forged, unsigned or not bound to a pod are refused', async () => {
    const [pod] = await createWorkload(world, { namespace: 'forge' });
    assert.ok(pod);
    const name = nameOf(pod);
    const uid = uidOf(pod);
    const vaultToken = await podToken(world, 'forge', name, uid, VAULT_AUDIENCE);
    const real = await podToken(world, 'forge', name, uid);
    const claims = decodeJwt(real);
    const { kid } = decodeProtectedHeader(real);
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const forgedSameKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: kid ?? '' }).sign(privateKey);
    const forgedOwnKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: (await exportJWK(publicKey)).n?.slice(0, 16) ?? 'x' }).sign(privateKey);
    const [h, p] = real.split('.');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, 'kubernetes.io': { ...(claims['kubernetes.io'] as object), pod: { name: 'other', uid } } })).toString('base64url')}.${real.split('.')[2]}`;
    const unbound = await requestServiceAccountToken(world.cluster.kubeConfig, { namespace: 'forge', serviceAccount: 'app', audiences: [EVICT_AUDIENCE], expirationSeconds: 3600 });

    const cases: [string, string | undefined, number, RegExp][] = [
      ['no token', undefined, 401, /bearer token is required/],
      ['audience vault', vaultToken, 401, /aud claim/],
      ['forged with the cluster key id', forgedSameKid, 401, /signature/],
      ['forged with its own key id', forgedOwnKid, 401, /not signed by one of the cluster's service-account keys/],
      ['alg none', unsigned, 401, /not a valid JWT|not allowed|signature/i],
      ['claims changed after signing', tampered, 401, /signature/],
      ['a token not bound to a pod', unbound, 403, /not bound to a pod/],
    ];
    for (const [what, jwt, status, message] of cases) {
      const res = await post(world, '/evict', jwt);
      assert.equal(res.status, status, `${what}: ${res.body.message}`);
      assert.match(res.body.message ?? '', message, what);
    }
    const still = await readPod(world, 'forge', name);
    assert.equal(still?.metadata?.deletionTimestamp, undefined, 'no refused token evicted the pod');
    assert.ok(!world.webhookLog.text().includes(real.split('.')[1] ?? 'x'), 'a token reached the webhook log');
  });

  test('a PDB that allows no disruption: 429 with EvictionBlocked naming it (Event and Rotation condition), then evicted once it is relaxed', async () => {
    const [pod] = await createWorkload(world, { namespace: 'guarded' });
    assert.ok(pod);
    await world.policy.createNamespacedPodDisruptionBudget({
      namespace: 'guarded',
      body: { metadata: { name: 'keep-one' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'app' } } } },
    });
    await eventually('the disruption controller to compute keep-one', async () => {
      const pdb = await world.policy.readNamespacedPodDisruptionBudget({ namespace: 'guarded', name: 'keep-one' });
      return pdb.status?.observedGeneration === pdb.metadata?.generation && pdb.status?.currentHealthy === 1 ? pdb : undefined;
    });
    const token = await podToken(world, 'guarded', nameOf(pod), uidOf(pod));
    // The sidecar's deadline report: the condition, written with the pods/status right alone.
    const deadline = new Date(Date.now() + 40_000).toISOString();
    const expiry = new Date(Date.now() + 60_000).toISOString();
    const recorded = await post(world, '/deadline', token, { deadline, earliestExpiry: expiry, lease: 'secret db (database/creds/app)', mode: 'evict' });
    assert.equal(recorded.status, 200, String(recorded.body.message));
    assert.equal(recorded.body.reason, 'Recorded');
    assert.deepEqual(await rotation(world, 'guarded', nameOf(pod)), { status: 'True', reason: 'Scheduled', message: `deadline=${deadline}; earliestExpiry=${expiry}; lease=secret db (database/creds/app)` });
    for (let i = 0; i < 2; i++) {
      const res = await post(world, '/evict', token);
      assert.equal(res.status, 429, String(res.body.message));
      assert.equal(res.body.reason, 'DisruptionBudget');
      assert.match(res.body.message ?? '', /PodDisruptionBudget keep-one: The disruption budget keep-one needs/);
    }
    const blocked = await eventually('EvictionBlocked counted twice', async () => {
      const e = (await podEvents(world, 'guarded', nameOf(pod))).filter((x) => x.reason === 'EvictionBlocked');
      return e.length === 1 && e[0]?.count === 2 ? e : undefined;
    });
    assert.equal(blocked[0]?.type, 'Warning');
    assert.match(blocked[0]?.message ?? '', /blocked by PodDisruptionBudget keep-one/);
    assert.equal((await readPod(world, 'guarded', nameOf(pod)))?.metadata?.deletionTimestamp, undefined);
    assert.deepEqual(await rotation(world, 'guarded', nameOf(pod)), { status: 'False', reason: 'EvictionBlocked', message: `deadline=${deadline}; earliestExpiry=${expiry}; lease=secret db (database/creds/app); blockedBy=keep-one` });

    await world.policy.patchNamespacedPodDisruptionBudget({ namespace: 'guarded', name: 'keep-one', body: [{ op: 'replace', path: '/spec/minAvailable', value: 0 }] });
    const res = await eventually('eviction once the PDB is relaxed', async () => {
      const r = await post(world, '/evict', token);
      return r.status === 201 ? r : undefined;
    }, 30_000, 1000);
    assert.equal(res.status, 201);
    assert.ok(isEvicted(await readPod(world, 'guarded', nameOf(pod)), uidOf(pod)));
    assert.equal((await rotation(world, 'guarded', nameOf(pod)))?.reason, 'Evicting');
    const metrics = await world.registry.getSingleMetricAsString('vault_courier_eviction_requests_total');
    assert.match(metrics, /outcome="blocked"} [1-9]/);
  });

  test('the rotation queue: /deadline answers the budget\'s lead; of three pods asking, the later expiries get EvictionQueued, the earliest is evicted, then the next meets the budget', async () => {
    const pods = await createWorkload(world, { namespace: 'queue', replicas: 3 });
    await world.policy.createNamespacedPodDisruptionBudget({ namespace: 'queue', body: { metadata: { name: 'one-at-a-time' }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'app' } } } } });
    await eventually('the disruption controller to count 3 pods', async () => {
      const pdb = await world.policy.readNamespacedPodDisruptionBudget({ namespace: 'queue', name: 'one-at-a-time' });
      return pdb.status?.expectedPods === 3 && pdb.status.disruptionsAllowed === 1 ? pdb : undefined;
    });
    // a expires first, then b, then c; all three past their deadline: all asking.
    const [a, b, c] = await Promise.all(
      pods.map(async (p, i) => {
        const token = await podToken(world, 'queue', nameOf(p), uidOf(p));
        const recorded = await post(world, '/deadline', token, { deadline: new Date(Date.now() - 1000).toISOString(), earliestExpiry: new Date(Date.now() + 60_000 + i * 5000).toISOString(), lease: 'secret db (database/creds/app)', mode: 'evict' });
        assert.equal(recorded.body.reason, 'Recorded', String(recorded.body.message));
        assert.deepEqual(recorded.body.queue, { budget: 'one-at-a-time', pods: 3, atOnce: 1, leadMs: 9000 });
        return { pod: p, token };
      }),
    );
    assert.ok(a && b && c);
    const third = await post(world, '/evict', c.token);
    assert.equal(third.status, 429, String(third.body.message));
    assert.equal(third.body.reason, 'EvictionQueued');
    assert.equal(third.retryAfter, '2');
    assert.match(third.body.message ?? '', new RegExp(`^2 pod\\(s\\) of PodDisruptionBudget one-at-a-time expire sooner and go first \\(the first: ${nameOf(a.pod)}\\)`));
    assert.match((await rotation(world, 'queue', nameOf(c.pod)))?.message ?? '', /blockedBy=one-at-a-time$/);
    const second = await post(world, '/evict', b.token);
    assert.equal(second.body.reason, 'EvictionQueued');
    assert.equal(second.retryAfter, '1');
    for (const p of [b, c]) assert.equal((await readPod(world, 'queue', nameOf(p.pod)))?.metadata?.deletionTimestamp, undefined, 'a queued pod is not evicted');

    assert.equal((await post(world, '/evict', a.token)).status, 201, 'the earliest expiry goes first');
    // a is leaving: b is first now, and meets the budget (a's replacement is not Ready).
    const next = await post(world, '/evict', b.token);
    assert.equal(next.body.reason, 'DisruptionBudget', String(next.body.message));
    assert.equal((await post(world, '/evict', c.token)).body.reason, 'EvictionQueued', 'c still waits behind b');
    await readyPods(world, 'queue', 3, [uidOf(a.pod)]);
    const evicted = await eventually('b evicted once the replacement is Ready', async () => {
      const r = await post(world, '/evict', b.token);
      return r.status === 201 ? r : undefined;
    }, 30_000, 1000);
    assert.equal(evicted.body.reason, 'Evicted');
    const metrics = await world.registry.getSingleMetricAsString('vault_courier_eviction_requests_total');
    assert.match(metrics, /outcome="queued"} [3-9]/);
  });

  test('Vault down: 503 naming it, no eviction; back up: evicted once the cached answer is a second old', async () => {
    const [pod] = await createWorkload(world, { namespace: 'novault' });
    assert.ok(pod);
    const token = await podToken(world, 'novault', nameOf(pod), uidOf(pod));
    await world.vaultProxy.down();
    // The webhook keeps a sys/health answer for a second (vault-health.ts): let an earlier
    // test's "healthy" age out, and below, this test's "does not answer".
    await sleep(DEFAULT_HEALTH_CACHE_MS);
    try {
      const res = await post(world, '/evict', token);
      assert.equal(res.status, 503);
      assert.match(res.body.message ?? '', /Vault at http:\/\/127\.0\.0\.1:\d+ does not answer/);
      assert.equal((await readPod(world, 'novault', nameOf(pod)))?.metadata?.deletionTimestamp, undefined);
    } finally {
      await world.vaultProxy.up();
    }
    await sleep(DEFAULT_HEALTH_CACHE_MS);
    assert.equal((await post(world, '/evict', token)).status, 201);
  });

  test('3,000 fuzzed requests and tokens against the cluster\'s real keys: every answer a v1 Status with its reason, never a 5xx, never an eviction; memory flat', async () => {
    const kc = world.cluster.kubeConfig;
    await createNamespace(kc, 'fuzz');
    await createServiceAccount(kc, 'fuzz', 'app');
    const spec = { serviceAccountName: 'app', containers: [{ name: 'app', image: 'registry.example/app:1' }] };
    const create = async (name: string, injected: boolean) => {
      const pod = await world.core.createNamespacedPod({ namespace: 'fuzz', body: { metadata: { name, ...(injected ? INJECTED_METADATA : {}) }, spec } });
      return { namespace: 'fuzz', name, uid: uidOf(pod), token: await podToken(world, 'fuzz', name, uidOf(pod)) };
    };
    const [live, deleted, plain] = await Promise.all([create('live', true), create('deleted', true), create('plain', false)]);
    await world.core.deleteNamespacedPod({ namespace: 'fuzz', name: 'deleted' });
    await eventually('the deleted pod gone', async () => ((await readPod(world, 'fuzz', 'deleted')) === undefined ? true : undefined));
    const fuzzWorld: EvictionWorld = {
      // The API server's own signing key: tokens with every claim wrong but the signature right.
      signingKeyPem: await readFile(join(world.cluster.dir, 'pki', 'service-account.key'), 'utf8'),
      kid: decodeProtectedHeader(live.token).kid ?? '',
      issuer: world.cluster.serviceAccountIssuer,
      live,
      deleted,
      plain,
    };
    const kit = await createTokenKit(fuzzWorld);
    const rng = seededRandom('eviction fuzzer');
    const url = world.webhook.url.replace('localhost', '127.0.0.1');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => (gc(), gc(), process.memoryUsage().heapUsed);
    const evictedBefore = await world.registry.getSingleMetricAsString('vault_courier_eviction_requests_total');

    const started = performance.now();
    const run = await fuzzEvictionEndpoints({ url, ca: world.cluster.caPem, kit, rng, count: 500 });
    const warm = heap();
    await fuzzEvictionEndpoints({ url, ca: world.cluster.caPem, kit, rng, count: 2_500, run });
    const end = heap();
    const seconds = (performance.now() - started) / 1000;
    const answers = [...run.answers].sort().map(([k, n]) => `${k}: ${n}`).join(', ');
    console.error(`eviction fuzzer: 3000 requests in ${seconds.toFixed(1)} s; test-process heap ${(warm / 2 ** 20).toFixed(1)} -> ${(end / 2 ** 20).toFixed(1)} MiB; answers: ${answers}`);

    assert.equal(run.problems.length, 0, `seed ${rng.seed}: wrong answers:\n  ${run.problems.join('\n  ')}`);
    const still = await readPod(world, 'fuzz', 'live');
    assert.equal(still?.metadata?.uid, live.uid);
    assert.equal(still?.metadata?.deletionTimestamp, undefined, 'the live pod was not evicted');
    assert.ok(!(await podEvents(world, 'fuzz', 'live')).some((e) => e.reason === 'EvictionRequested'));
    const requested = (text: string) => /endpoint="evict",outcome="requested"} (\d+)/.exec(text)?.[1] ?? '0';
    assert.equal(requested(await world.registry.getSingleMetricAsString('vault_courier_eviction_requests_total')), requested(evictedBefore), 'no eviction was requested');
    assert.ok(!world.webhookLog.text().includes(live.token.split('.')[1] ?? 'x'), 'a token reached the webhook log');
    // The webhook runs in this process: its heap is what grew, if anything did.
    assert.ok(end - warm < 16 * 2 ** 20, `heap grew by ${((end - warm) / 2 ** 20).toFixed(1)} MiB (tolerance 16 MiB)`);
  });
});
