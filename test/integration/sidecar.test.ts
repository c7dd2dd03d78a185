/**
 * The sidecar as a child process (node packages/sidecar/src/main.ts) on the real parts:
 * the real init container fills the pod's state volume from Vault and PostgreSQL, the
 * webhook's eviction endpoint evicts through the real API server, and the ReplicaSet
 * controller replaces the pod. Vault outages go through a TCP proxy the test controls.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { MANIFEST_FILE, parseManifest, ROTATION_CONDITION_TYPE } from '@vault-courier/core';
import { createNamespace, createServiceAccount } from '@vault-courier/devcluster';
import {
  createWorkload,
  deliver,
  eventually,
  INJECTED_METADATA,
  isEvicted,
  podEvents,
  readPod,
  readyPods,
  startRotationWorld,
  startSidecar,
  type PodState,
  type RotationWorld,
  type RunningSidecar,
} from './rotation-fixture.ts';

const nameOf = (p: { metadata?: { name?: string } }) => p.metadata?.name ?? '';
const uidOf = (p: { metadata?: { uid?: string } }) => p.metadata?.uid ?? '';
const msg = (re: RegExp) => (l: Record<string, unknown>) => re.test(String(l.msg));

/** The sidecar's own deadline report, then the webhook's answer to its blocked eviction, on the pod's status. */
async function assertBlockedCondition(world: RotationWorld, pod: { metadata?: { name?: string } }, deadline: string): Promise<void> {
  const condition = (await readPod(world, 'guarded', nameOf(pod)))?.status?.conditions?.find((c) => c.type === ROTATION_CONDITION_TYPE);
  assert.equal(condition?.reason, 'EvictionBlocked');
  assert.equal(condition?.status, 'False');
  assert.match(condition?.message ?? '', new RegExp(`^deadline=${deadline.replace(/\./g, '\\.')}; earliestExpiry=\\S+; lease=secret db \\(database/creds/short\\); blockedBy=keep-one$`));
}

async function manifestOf(state: PodState) {
  return parseManifest(await readFile(join(state.stateDir, MANIFEST_FILE), 'utf8'));
}

async function databaseUser(state: PodState, file = 'db'): Promise<string> {
  const creds = JSON.parse(await readFile(join(state.secretsDir, file), 'utf8')) as { username?: string };
  assert.ok(creds.username, 'the init container wrote the database user');
  return creds.username;
}

async function roleExists(world: RotationWorld, user: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: world.cluster.postgres?.url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user])).rowCount === 1;
  } finally {
    await client.end();
  }
}

/** Where Debian's faketime package puts the preload library. */
const LIBFAKETIME_PATHS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'];

async function stopSidecar(sidecar: RunningSidecar | undefined): Promise<void> {
  await sidecar?.proc.stop(10_000);
}

describe('sidecar on real processes', { timeout: 900_000 }, () => {
  let world: RotationWorld;
  const sidecars: RunningSidecar[] = [];
  const run = (...args: Parameters<typeof startSidecar>) => {
    const s = startSidecar(...args);
    sidecars.push(s);
    return s;
  };

  before(async () => {
    world = await startRotationWorld();
  });

  after(async () => {
    for (const s of sidecars) await stopSidecar(s).catch(() => undefined);
    await world?.stop();
  });

  // Each of these has a namespace and a pod of its own, and most of their time is waiting for
  // a lease to run down, so they run at once; the Vault outage below stops Vault for the
  // webhook too, so it runs alone, after them.
  describe('with Vault up', { concurrency: true }, () => {
    test('a lease of 30 s: eviction requested at about 20 s, the pod replaced by its ReplicaSet; SIGTERM then revokes', async () => {
      const [pod] = await createWorkload(world, { namespace: 'rotate', graceSeconds: 5 });
      assert.ok(pod);
      const state = await deliver(world, pod, [{ name: 'db', path: 'database/creds/app' }]);
      const lease = (await manifestOf(state)).secrets.find((s) => s.name === 'db');
      assert.equal(lease?.leaseDurationSeconds, 30);
      const issued = lease?.issuedAtMs ?? 0;
      const sidecar = run(world, pod, state);

      const computed = await sidecar.waitFor('deadline computed', msg(/^deadline computed$/));
      const deadlineMs = Number(computed.deadlineMs);
      // Two thirds of 30 s, made earlier by the uid's jitter (< 5% of the TTL).
      assert.ok(deadlineMs <= issued + 20_000 && deadlineMs > issued + 18_500, `deadline ${deadlineMs - issued} ms after issue`);
      assert.match(String(computed.lease), /secret db \(database\/creds\/app\)/);

      await eventually('the pod evicted', async () => (isEvicted(await readPod(world, 'rotate', nameOf(pod)), uidOf(pod)) ? true : undefined), 40_000, 200);
      const evictedAfter = Date.now() - issued;
      assert.ok(evictedAfter >= deadlineMs - issued && evictedAfter < 24_000, `evicted ${evictedAfter} ms after issue`);
      await sidecar.waitFor('eviction accepted', msg(/eviction accepted/));
      const events = await podEvents(world, 'rotate', nameOf(pod));
      assert.ok(events.some((e) => e.reason === 'EvictionRequested' && /secret db/.test(e.message ?? '')), 'EvictionRequested Event');
      const [replacement] = await readyPods(world, 'rotate', 1, [uidOf(pod)]);
      assert.notEqual(uidOf(replacement ?? {}), uidOf(pod));

      // The kubelet sends SIGTERM to the native sidecar after the app stopped.
      const user = await databaseUser(state);
      assert.equal(await roleExists(world, user), true);
      await sidecar.proc.stop(10_000);
      assert.deepEqual(sidecar.proc.exitStatus(), { code: 0, signal: null });
      await sidecar.waitFor('token revoked', msg(/Vault token revoked/));
      await eventually('the PostgreSQL user dropped', async () => ((await roleExists(world, user)) ? undefined : true), 15_000);
      const raw = await sidecar.raw();
      const token = (await readFile(join(state.stateDir, 'vault-token'), 'utf8')).trim();
      assert.ok(!raw.includes(token), 'the Vault token reached a log line');
      assert.ok(!raw.includes((await readFile(state.evictJwtPath, 'utf8')).split('.')[1] ?? 'x'), 'the JWT reached a log line');
    });

    test('a wall-clock jump past the deadline (libfaketime preloaded, a fault injector): the sidecar evicts at its next wake-up, not when its timer would have fired', async () => {
      // Debian's faketime (scripts/setup.sh): the one way to step one process's wall clock
      // without stepping the machine's. Timers keep counting elapsed time (monotonic, not faked).
      const faketime = LIBFAKETIME_PATHS.find((p) => existsSync(p));
      assert.ok(faketime, `libfaketime not found at ${LIBFAKETIME_PATHS.join(' or ')}: bash scripts/setup.sh installs Debian's faketime`);
      // A 6 s token: the sidecar wakes to renew it every ~4 s, well before its 20 s deadline timer.
      const [pod] = await createWorkload(world, { namespace: 'clock-jump', graceSeconds: 5, tokenTtl: 6, tokenMaxTtl: 3600 });
      assert.ok(pod);
      const state = await deliver(world, pod, [{ name: 'db', path: 'database/creds/app' }]);
      const clock = join(world.dir, 'clock-jump.faketime');
      await writeFile(clock, '+0\n');
      const sidecar = run(world, pod, state, { extraEnv: { LD_PRELOAD: faketime, FAKETIME_TIMESTAMP_FILE: clock, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' } });
      const deadlineMs = Number((await sidecar.waitFor('deadline computed', msg(/^deadline computed$/))).deadlineMs);
      // 25 s forward: past the deadline (~20 s after issue), short of the 30 s expiry.
      await writeFile(clock, '+25\n');
      const jumpedAt = Date.now();
      await eventually('the pod evicted', async () => (isEvicted(await readPod(world, 'clock-jump', nameOf(pod)), uidOf(pod)) ? true : undefined), 20_000, 200);
      const evictedAt = Date.now();
      assert.ok(evictedAt < deadlineMs, `evicted ${(deadlineMs - evictedAt) / 1000} s before the deadline by the machine's clock: the sidecar acted on its own jumped wall clock`);
      assert.ok(evictedAt - jumpedAt < 8_000, `evicted ${(evictedAt - jumpedAt) / 1000} s after the jump: at the next wake-up (SLEEP_CAP_MS bounds it when nothing else wakes it)`);
      await sidecar.waitFor('eviction accepted', msg(/eviction accepted/));
    });

    test('killed and restarted: the same deadline; SIGTERM revokes the token and the PostgreSQL user is gone', async () => {
      const [pod] = await createWorkload(world, { namespace: 'restart', graceSeconds: 5 });
      assert.ok(pod);
      const state = await deliver(world, pod, [{ name: 'db', path: 'database/creds/app' }, { name: 'config', path: 'secret/data/app' }]);
      const first = run(world, pod, state);
      const before = await first.waitFor('deadline computed', msg(/^deadline computed$/));
      process.kill(-first.proc.pid, 'SIGKILL');
      await first.proc.exited;
      await sleep(1500);
      const second = run(world, pod, state);
      const afterRestart = await second.waitFor('deadline computed', msg(/^deadline computed$/));
      assert.equal(afterRestart.deadlineMs, before.deadlineMs);
      assert.equal(afterRestart.lease, before.lease);

      const user = await databaseUser(state);
      const token = (await readFile(join(state.stateDir, 'vault-token'), 'utf8')).trim();
      assert.equal(await roleExists(world, user), true);
      await second.proc.stop(10_000);
      await second.waitFor('token revoked', msg(/Vault token revoked/));
      await eventually('the PostgreSQL user dropped', async () => ((await roleExists(world, user)) ? undefined : true), 15_000);
      const lookup = await world.cluster.vault?.client.write('auth/token/lookup', { token }).then(
        () => 'alive',
        (err: { status?: number }) => err.status,
      );
      assert.equal(lookup, 403, 'the revoked token no longer exists');
      assert.equal((await readPod(world, 'restart', nameOf(pod)))?.metadata?.deletionTimestamp, undefined, 'no eviction: the deadline had not come');
    });

    test('a PDB that allows no disruption: repeated 429, EvictionBlocked Events and the Rotation condition naming it, then evicted once it is relaxed', async () => {
      const [pod] = await createWorkload(world, { namespace: 'guarded', graceSeconds: 2 });
      assert.ok(pod);
      await world.policy.createNamespacedPodDisruptionBudget({ namespace: 'guarded', body: { metadata: { name: 'keep-one' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'app' } } } } });
      await eventually('the disruption controller to compute keep-one', async () => {
        const pdb = await world.policy.readNamespacedPodDisruptionBudget({ namespace: 'guarded', name: 'keep-one' });
        return pdb.status?.observedGeneration === pdb.metadata?.generation && pdb.status?.currentHealthy === 1 ? pdb : undefined;
      });
      const state = await deliver(world, pod, [{ name: 'db', path: 'database/creds/short' }]);
      const sidecar = run(world, pod, state);
      await eventually('two blocked attempts', async () => ((await sidecar.lines()).filter(msg(/eviction blocked/)).length >= 2 ? true : undefined), 40_000);
      const blocked = (await podEvents(world, 'guarded', nameOf(pod))).filter((e) => e.reason === 'EvictionBlocked');
      assert.equal(blocked.length, 1, 'one EvictionBlocked Event, counted');
      assert.ok((blocked[0]?.count ?? 0) >= 2, `EvictionBlocked count ${blocked[0]?.count}`);
      assert.match(blocked[0]?.message ?? '', /PodDisruptionBudget keep-one/);
      assert.equal((await readPod(world, 'guarded', nameOf(pod)))?.metadata?.deletionTimestamp, undefined);
      // The last one: the budget's queue lead (3 s for its one pod) may have moved the first.
      await assertBlockedCondition(world, pod, String((await sidecar.lines()).findLast(msg(/deadline computed/))?.deadline));

      await world.policy.patchNamespacedPodDisruptionBudget({ namespace: 'guarded', name: 'keep-one', body: [{ op: 'replace', path: '/spec/minAvailable', value: 0 }] });
      await eventually('the pod evicted after the PDB was relaxed', async () => (isEvicted(await readPod(world, 'guarded', nameOf(pod)), uidOf(pod)) ? true : undefined), 45_000, 500);
      await sidecar.waitFor('eviction accepted', msg(/eviction accepted/));
      const lines = (await sidecar.lines()).filter(msg(/eviction blocked/));
      const delays = lines.map((l) => Number(l.retryInMs));
      assert.ok(delays.every((d, i) => i === 0 || d >= (delays[i - 1] ?? 0) / 2), `backoff grows: ${delays}`);
      assert.ok(delays.every((d) => d <= 30_000), `backoff capped: ${delays}`);
    });

    test('a budget of 10 pods and 30 s leases: the queue lead makes both sidecars ask at once; the later expiry is queued behind the earlier, which goes first once the budget allows', async () => {
      const pods = await createWorkload(world, { namespace: 'queued', replicas: 10, graceSeconds: 1 });
      await world.policy.createNamespacedPodDisruptionBudget({ namespace: 'queued', body: { metadata: { name: 'rolling' }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: 'app' } } } } });
      await eventually('the disruption controller to count 10 pods', async () => {
        const pdb = await world.policy.readNamespacedPodDisruptionBudget({ namespace: 'queued', name: 'rolling' });
        return pdb.status?.observedGeneration === pdb.metadata?.generation && pdb.status?.expectedPods === 10 ? pdb : undefined;
      });
      const [first, later] = pods;
      assert.ok(first && later);
      // Delivered one after the other: `first`'s lease expires first.
      const firstState = await deliver(world, first, [{ name: 'db', path: 'database/creds/app' }]);
      const laterState = await deliver(world, later, [{ name: 'db', path: 'database/creds/app' }]);
      const sidecarFirst = run(world, first, firstState);
      const sidecarLater = run(world, later, laterState);
      for (const sidecar of [sidecarFirst, sidecarLater]) {
        const lead = await sidecar.waitFor('the queue lead', msg(/^queue lead from the PodDisruptionBudget/));
        assert.deepEqual([lead.budget, lead.pods, lead.atOnce, lead.leadMs], ['rolling', 10, 1, 30_000]);
        const computed = (await sidecar.lines()).filter(msg(/^deadline computed$/));
        assert.equal(computed.at(-1)?.rule, 'queue', 'limit 24 s − lead 30 s: at once');
        assert.ok(Number(computed.at(-1)?.inMs) < 1000, `asks in ${String(computed.at(-1)?.inMs)} ms`);
      }
      await sidecarLater.waitFor('queued behind the first', msg(/^eviction queued by its PodDisruptionBudget's turn/), 15_000);
      await sidecarFirst.waitFor('blocked by the budget itself', msg(/^eviction blocked/), 15_000);

      await world.policy.patchNamespacedPodDisruptionBudget({ namespace: 'queued', name: 'rolling', body: [{ op: 'replace', path: '/spec/maxUnavailable', value: 1 }] });
      await eventually('the first evicted', async () => (isEvicted(await readPod(world, 'queued', nameOf(first)), uidOf(first)) ? true : undefined), 20_000, 200);
      assert.equal((await readPod(world, 'queued', nameOf(later)))?.metadata?.deletionTimestamp, undefined, 'the later expiry is still there');
      await readyPods(world, 'queued', 10, [uidOf(first)]);
      await eventually('the later one evicted once the replacement is Ready', async () => (isEvicted(await readPod(world, 'queued', nameOf(later)), uidOf(later)) ? true : undefined), 20_000, 200);
      for (const sidecar of [sidecarFirst, sidecarLater]) await sidecar.waitFor('eviction accepted', msg(/eviction accepted/));
    });

    test('a sidecar whose pod was replaced by a namesake: 410 PodGone, revokes its token and idles until SIGTERM, the namesake untouched', async () => {
      await createNamespace(world.cluster.kubeConfig, 'ghost');
      await createServiceAccount(world.cluster.kubeConfig, 'ghost', 'app');
      await world.cluster.vault?.client.write('auth/kubernetes/role/ghost', { bound_service_account_names: ['app'], bound_service_account_namespaces: ['ghost'], audience: 'vault', token_policies: ['app'], token_ttl: 3600 });
      const spec = { serviceAccountName: 'app', terminationGracePeriodSeconds: 2, containers: [{ name: 'app', image: 'registry.example/app:1' }] };
      const first = await world.core.createNamespacedPod({ namespace: 'ghost', body: { metadata: { name: 'solo', ...INJECTED_METADATA }, spec } });
      const state = await deliver(world, first, [{ name: 'db', path: 'database/creds/short' }]);
      const user = await databaseUser(state);
      await world.core.deleteNamespacedPod({ namespace: 'ghost', name: 'solo' });
      await eventually('the first pod gone', async () => ((await readPod(world, 'ghost', 'solo')) === undefined ? true : undefined));
      const second = await world.core.createNamespacedPod({ namespace: 'ghost', body: { metadata: { name: 'solo', ...INJECTED_METADATA }, spec } });
      const sidecar = run(world, first, state, { ownerKind: 'ReplicaSet' });
      const gone = await sidecar.waitFor('PodGone', (l) => l.status === 410 && l.answerReason === 'PodGone' && /gone .*idling until SIGTERM/.test(String(l.msg)), 60_000);
      assert.ok(gone);
      await sidecar.waitFor('token revoked', msg(/Vault token revoked/));
      await eventually('the PostgreSQL user dropped', async () => ((await roleExists(world, user)) ? undefined : true), 15_000);
      // A restartPolicy: Always container that exits is restarted with a revoked token: it stays.
      await sleep(3000);
      assert.equal(sidecar.proc.exitStatus(), undefined, 'the sidecar idles instead of exiting');
      assert.equal((await sidecar.lines()).filter((l) => l.status === 410).length, 1, 'asked once');
      await sidecar.proc.stop(10_000);
      assert.deepEqual(sidecar.proc.exitStatus(), { code: 0, signal: null });
      assert.equal((await sidecar.lines()).filter(msg(/Vault token revoked|could not revoke/)).length, 1, 'SIGTERM does not revoke again');
      const now = await readPod(world, 'ghost', 'solo');
      assert.equal(now?.metadata?.uid, uidOf(second));
      assert.equal(now?.metadata?.deletionTimestamp, undefined);
    });

    test('a wrong VAULT_COURIER_SERVICE_URL answering a bare 404: retried and reported, never "gone", the token kept', async () => {
      const [pod] = await createWorkload(world, { namespace: 'wrongurl', graceSeconds: 2 });
      assert.ok(pod);
      const state = await deliver(world, pod, [{ name: 'db', path: 'database/creds/short' }]);
      const user = await databaseUser(state);
      // The webhook's own HTTPS server under a path it does not serve: express's plain 404, no Status reason.
      const serviceUrl = `${world.webhook.url.replace('localhost', '127.0.0.1').replace(/\/$/, '')}/not-vault-courier/`;
      const sidecar = run(world, pod, state, { serviceUrl });
      await eventually('two reported 404s', async () => ((await sidecar.lines()).filter((l) => l.status === 404 && /without a reason vault-courier sends/.test(String(l.msg))).length >= 2 ? true : undefined), 40_000);
      const lines = await sidecar.lines();
      assert.ok(lines.filter((l) => l.status === 404).every((l) => l.level === 'error'), 'reported as errors');
      assert.ok(!lines.some(msg(/gone|Vault token revoked/)), 'never read as gone');
      assert.equal(sidecar.proc.exitStatus(), undefined);
      assert.equal(await roleExists(world, user), true, 'the credentials are alive');
      assert.equal((await readPod(world, 'wrongurl', nameOf(pod)))?.metadata?.deletionTimestamp, undefined);
      await sidecar.proc.stop(10_000);
    });

    test('rotate "false": a CredentialsExpiring Warning Event as expiry nears, never an eviction', async () => {
      const [pod] = await createWorkload(world, { namespace: 'keep', graceSeconds: 2 });
      assert.ok(pod);
      const state = await deliver(world, pod, [{ name: 'db', path: 'database/creds/short' }]);
      const sidecar = run(world, pod, state, { rotate: false });
      await sidecar.waitFor('warning raised', msg(/not rotated: Warning Event raised/), 30_000);
      const events = await eventually('CredentialsExpiring', async () => {
        const e = (await podEvents(world, 'keep', nameOf(pod))).filter((x) => x.reason === 'CredentialsExpiring');
        return e.length > 0 ? e : undefined;
      });
      assert.equal(events[0]?.type, 'Warning');
      assert.match(events[0]?.message ?? '', /secret db \(database\/creds\/short\).*not rotated automatically \(vault-courier.io\/rotate is "false"\)/);
      await sleep(5000);
      assert.equal((await readPod(world, 'keep', nameOf(pod)))?.metadata?.deletionTimestamp, undefined);
      assert.equal((await podEvents(world, 'keep', nameOf(pod))).filter((x) => x.reason === 'CredentialsExpiring').length, 1, 'warned once');
    });
  });

  test('Vault down at renewal: retries, the deadline falls back to the token expiry; at the deadline 503 and no eviction until Vault is back', async () => {
    const [pod] = await createWorkload(world, { namespace: 'outage', graceSeconds: 5, tokenTtl: 60, tokenMaxTtl: 600 });
    assert.ok(pod);
    const state = await deliver(world, pod, [{ name: 'config', path: 'secret/data/app' }]);
    const issued = (await manifestOf(state)).token.issuedAtMs;
    const sidecar = run(world, pod, state);
    await sidecar.waitFor('no deadline while the token is renewed', msg(/^no deadline$/));
    await sleep(Math.max(0, issued + 30_000 - Date.now()));
    await world.vaultProxy.down();
    let restored = false;
    try {
      await eventually('two failed renewals', async () => ((await sidecar.lines()).filter(msg(/renewal failed: retrying/)).length >= 2 ? true : undefined), 30_000);
      const fallback = await sidecar.waitFor('deadline from the token expiry', (l) => l.msg === 'deadline computed' && l.lease === 'the Vault token');
      assert.equal(fallback.rule, 'limit');
      const tokenExpiry = issued + 60_000;
      const atMs = Number(fallback.deadlineMs);
      assert.ok(atMs <= tokenExpiry - 10_000 && atMs > tokenExpiry - 13_000, `deadline ${atMs - issued} ms after issue`);
      await eventually('503 from the endpoint', async () => ((await sidecar.lines()).some((l) => l.status === 503) ? true : undefined), 30_000);
      // Keep Vault down past the token's expiry: no eviction while Vault cannot serve the replacement.
      await sleep(Math.max(0, tokenExpiry + 2000 - Date.now()));
      assert.equal((await readPod(world, 'outage', nameOf(pod)))?.metadata?.deletionTimestamp, undefined, 'evicted while Vault was down');
      assert.ok((await sidecar.lines()).filter((l) => l.status === 503).length >= 2, 'the sidecar retried');
      await world.vaultProxy.up();
      restored = true;
    } finally {
      if (!restored) await world.vaultProxy.up();
    }
    await eventually('evicted once Vault is back', async () => (isEvicted(await readPod(world, 'outage', nameOf(pod)), uidOf(pod)) ? true : undefined), 45_000, 500);
  });

});
