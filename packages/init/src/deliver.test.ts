import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, isCourierError, parseManifest, type InitConfig, type SecretSpec } from '@vault-courier/core';
import { deliver, failureReason, type DeliverDeps } from './deliver.ts';
import { UNDELIVERED_TOKENS_FILE } from './state-files.ts';
import type { VaultApi } from './vault-client.ts';
import { VaultFailureError, type VaultFailure } from './vault-errors.ts';

const CANARY = 'canary-deliver-6a1f-never-logged';
const TOKEN = 'canary-token-hvs.deliver';
const JWT = 'canary-jwt-deliver';
const T0 = 1_800_000_000_000;

let root = '';
let config: InitConfig;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'deliver-'));
  mkdirSync(path.join(root, 'secrets'));
  mkdirSync(path.join(root, 'state'));
  config = {
    vaultAddr: 'http://vault:8200',
    vaultCaPem: undefined,
    authPath: 'auth/kubernetes',
    role: 'web',
    secrets: [
      { name: 'app', path: 'secret/data/app', format: { kind: 'env' } },
      { name: 'db', path: 'database/creds/web', format: { kind: 'json' } },
    ],
    secretsDir: path.join(root, 'secrets'),
    stateDir: path.join(root, 'state'),
    vaultJwtPath: '/token/vault',
    deadlineSeconds: 30,
    pod: { name: 'web-1', namespace: 'shop', uid: 'u' },
  };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

type Answer = unknown | VaultFailure;
const fail = (failure: VaultFailure): VaultFailure & { fail: true } => ({ ...failure, fail: true });

/**
 * Fault injector for Vault: answers per path are queued (the last repeats), so a test can
 * make Vault seal, fail or refuse at exactly the attempt it means, which the real Vault
 * cannot do on cue. The behaviour on the real Vault is in test/integration/init.test.ts.
 */
function vaultFaultInjector(answers: Record<string, Answer[]>): VaultApi & { calls: string[]; revoked: string[] } {
  const calls: string[] = [];
  const revoked: string[] = [];
  const next = (key: string): Promise<unknown> => {
    calls.push(key);
    const queue = answers[key] ?? [fail({ status: 404, vaultErrors: [] })];
    const answer = queue.length > 1 ? queue.shift() : queue[0];
    if (typeof answer === 'object' && answer !== null && 'fail' in answer) return Promise.reject(new VaultFailureError(answer as unknown as VaultFailure));
    return Promise.resolve(answer);
  };
  return {
    calls,
    revoked,
    login: (authPath, role, jwt) => {
      assert.equal(jwt, JWT);
      return next(`login ${authPath} ${role}`);
    },
    read: (p, token) => {
      assert.equal(token, TOKEN);
      return next(`read ${p}`);
    },
    revokeSelf: async (token) => {
      await next('revoke');
      revoked.push(token);
    },
  };
}

const LOGIN_OK = { auth: { client_token: TOKEN, accessor: 'acc-1', lease_duration: 3600, renewable: true } };
const KV_OK = { lease_id: '', lease_duration: 0, data: { data: { USER: 'app', PASSWORD: CANARY }, metadata: { version: 1 } } };
const DB_OK = { lease_id: 'database/creds/web/xyz', lease_duration: 300, renewable: true, data: { username: 'v-web', password: CANARY } };

/** Time moves only when a test (or a sleep) moves it. */
class ManualClock {
  ms = T0;
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

function harness(vault: VaultApi, clock = new ManualClock()): { deps: DeliverDeps; output: () => string; slept: number[] } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c.toString()), done()) });
  const slept: number[] = [];
  return {
    slept,
    output: () => chunks.join(''),
    deps: {
      vault,
      readJwt: () => Promise.resolve(`${JWT}\n`),
      logger: createLogger({ name: 't', destination: stream }),
      now: clock.now,
      random: () => 0.5,
      sleep: (ms) => {
        slept.push(ms);
        clock.advance(ms);
        return Promise.resolve();
      },
    },
  };
}

/** A token an earlier run left on the state volume, as that run wrote it. */
function plantState(name: string, content: string): void {
  writeFileSync(path.join(config.stateDir, name), content, { mode: 0o400 });
}

test('delivers every secret, the token and the manifest, and logs one line per secret without values', async () => {
  const vault = vaultFaultInjector({ 'login auth/kubernetes web': [LOGIN_OK], 'read secret/data/app': [KV_OK], 'read database/creds/web': [DB_OK] });
  const h = harness(vault);
  const manifest = await deliver(config, h.deps, new AbortController().signal);

  assert.equal(readFileSync(path.join(config.secretsDir, 'app'), 'utf8'), `USER='app'\nPASSWORD='${CANARY}'\n`);
  assert.deepEqual(JSON.parse(readFileSync(path.join(config.secretsDir, 'db'), 'utf8')), DB_OK.data);
  assert.equal(statSync(path.join(config.secretsDir, 'db')).mode & 0o777, 0o440);
  assert.equal(readFileSync(path.join(config.stateDir, 'vault-token'), 'utf8'), TOKEN);
  assert.equal(statSync(path.join(config.stateDir, 'vault-token')).mode & 0o777, 0o400);
  assert.equal(statSync(path.join(config.stateDir, 'leases.json')).mode & 0o777, 0o400);
  const onDisk = parseManifest(readFileSync(path.join(config.stateDir, 'leases.json'), 'utf8'));
  assert.deepEqual(onDisk, manifest);
  assert.deepEqual(onDisk.token, { accessor: 'acc-1', ttlSeconds: 3600, renewable: true, issuedAtMs: T0 });
  assert.deepEqual(onDisk.secrets, [
    { name: 'app', path: 'secret/data/app', leaseId: '', leaseDurationSeconds: 0, renewable: false, issuedAtMs: T0 },
    { name: 'db', path: 'database/creds/web', leaseId: 'database/creds/web/xyz', leaseDurationSeconds: 300, renewable: true, issuedAtMs: T0 },
  ]);

  const lines = h.output().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const delivered = lines.filter((l) => l.msg === 'secret delivered');
  assert.deepEqual(delivered.map((l) => [l.secretName, l.path, l.leaseDurationSeconds]), [['app', 'secret/data/app', 0], ['db', 'database/creds/web', 300]]);
  for (const secret of [CANARY, TOKEN, JWT]) assert.ok(!h.output().includes(secret), `${secret} reached the log`);
  assert.ok(!vault.calls.includes('revoke'));
});

test('retries a sealed Vault and a failing database, then delivers', async () => {
  const sealed = fail({ status: 503, vaultErrors: ['Vault is sealed'] });
  const pgDown = fail({ status: 500, vaultErrors: ['failed to verify connection: dial tcp: connection refused'] });
  const vault = vaultFaultInjector({ 'login auth/kubernetes web': [sealed, sealed, LOGIN_OK], 'read secret/data/app': [KV_OK], 'read database/creds/web': [pgDown, DB_OK] });
  const h = harness(vault);
  await deliver(config, h.deps, new AbortController().signal);
  assert.equal(vault.calls.filter((c) => c.startsWith('login')).length, 3);
  assert.equal(vault.calls.filter((c) => c === 'read database/creds/web').length, 2);
  assert.equal(h.slept.length, 3);
  assert.match(h.output(), /"msg":"Vault not ready; retrying"/);
  assert.deepEqual(readdirSync(config.secretsDir).sort(), ['app', 'db']);
});

test('gives up at the deadline with the last reason', async () => {
  const vault = vaultFaultInjector({ 'login auth/kubernetes web': [fail({ vaultErrors: [], code: 'ECONNREFUSED' })] });
  const h = harness(vault);
  await assert.rejects(deliver({ ...config, deadlineSeconds: 5 }, h.deps, new AbortController().signal), (err: unknown) => {
    assert.ok(isCourierError(err, 'vault'));
    assert.match(failureReason(err), /^Vault at http:\/\/vault:8200 is unreachable \(ECONNREFUSED\) while logging in .* \(gave up after \d+ attempts in 5s; VAULT_COURIER_INIT_DEADLINE_SECONDS sets how long to retry\)$/);
    return true;
  });
  assert.ok(h.slept.reduce((a, b) => a + b, 0) === 5000);
});

const NOTHING_WRITTEN: ReadonlyArray<{ name: string; secrets?: readonly SecretSpec[]; db: Answer[]; reason: RegExp }> = [
  { name: 'a denied secret', db: [fail({ status: 403, vaultErrors: ['permission denied'] })], reason: /^vault-courier\.io\/secret-db: permission denied reading database\/creds\/web/ },
  { name: 'an unknown path', db: [fail({ status: 404, vaultErrors: [] })], reason: /^vault-courier\.io\/secret-db: nothing at database\/creds\/web/ },
  {
    name: 'a missing field',
    secrets: [{ name: 'app', path: 'secret/data/app', format: { kind: 'key', field: 'TOKEN' } }, { name: 'db', path: 'database/creds/web', format: { kind: 'json' } }],
    db: [DB_OK],
    reason: /^vault-courier\.io\/format-app: field "TOKEN" is not in the secret at secret\/data\/app; fields present: "USER", "PASSWORD"$/,
  },
];

for (const row of NOTHING_WRITTEN) {
  test(`${row.name}: fails at once, writes nothing, revokes the token`, async () => {
    const vault = vaultFaultInjector({ 'login auth/kubernetes web': [LOGIN_OK], 'read secret/data/app': [KV_OK], 'read database/creds/web': row.db, revoke: [{}] });
    const h = harness(vault);
    const cfg = row.secrets === undefined ? config : { ...config, secrets: row.secrets };
    await assert.rejects(deliver(cfg, h.deps, new AbortController().signal), (err: unknown) => {
      assert.match(failureReason(err), row.reason);
      assert.ok(!failureReason(err).includes(CANARY));
      return true;
    });
    assert.deepEqual(readdirSync(config.secretsDir), []);
    assert.deepEqual(readdirSync(config.stateDir), []);
    assert.ok(vault.calls.includes('revoke'), 'the token of the failed attempt was revoked');
    assert.deepEqual(h.slept, [], 'no retry');
    assert.ok(!h.output().includes(CANARY) && !h.output().includes(TOKEN));
  });
}

test('a permanent failure stops the other secrets retrying', async () => {
  const vault = vaultFaultInjector({
    'login auth/kubernetes web': [LOGIN_OK],
    'read secret/data/app': [fail({ status: 503, vaultErrors: ['Vault is sealed'] })],
    'read database/creds/web': [fail({ status: 403, vaultErrors: ['permission denied'] })],
    revoke: [{}],
  });
  const h = harness(vault);
  await assert.rejects(deliver(config, h.deps, new AbortController().signal), /secret-db: permission denied/);
  assert.ok(vault.calls.filter((c) => c === 'read secret/data/app').length <= 2);
});

test('an unreadable token file names the variable and the path', async () => {
  const h = harness(vaultFaultInjector({}));
  const deps = { ...h.deps, readJwt: () => Promise.reject(Object.assign(new Error('nope'), { code: 'ENOENT' })) };
  await assert.rejects(deliver(config, deps, new AbortController().signal), (err: unknown) => isCourierError(err, 'config') && err.message.startsWith('VAULT_COURIER_VAULT_JWT_PATH: cannot read the service-account token at /token/vault (ENOENT)'));
});

test('a wrong role fails at once naming the role annotation', async () => {
  const vault = vaultFaultInjector({ 'login auth/kubernetes web': [fail({ status: 400, vaultErrors: ['invalid role name "web"'] })] });
  const h = harness(vault);
  await assert.rejects(deliver(config, h.deps, new AbortController().signal), /^CourierError: vault-courier\.io\/role: Vault has no role "web" at auth\/kubernetes/);
  assert.equal(vault.calls.length, 1);
});

test('the secrets are fetched in parallel: every read is in flight before any answers', { timeout: 5000 }, async () => {
  const secrets = Array.from({ length: 10 }, (_, i): SecretSpec => ({ name: `s${i}`, path: `secret/data/s${i}`, format: { kind: 'json' } }));
  let inFlight = 0;
  let release: () => void = () => undefined;
  const allStarted = new Promise<void>((resolve) => (release = resolve));
  const vault: VaultApi = {
    login: () => Promise.resolve(LOGIN_OK),
    read: async () => {
      if (++inFlight === secrets.length) release();
      // A sequential fetch would wait here forever: the test's timeout would fail it.
      await allStarted;
      return KV_OK;
    },
    revokeSelf: () => Promise.resolve(),
  };
  const manifest = await deliver({ ...config, secrets }, harness(vault).deps, new AbortController().signal);
  assert.equal(manifest.secrets.length, 10);
  assert.equal(readdirSync(config.secretsDir).length, 10);
});

test('a token an earlier run left is revoked once the new secrets are in place, and only then', async () => {
  const answers = { 'login auth/kubernetes web': [LOGIN_OK], 'read secret/data/app': [KV_OK], 'read database/creds/web': [DB_OK], revoke: [{}] };
  const ok = vaultFaultInjector(answers);
  const h = harness(ok);
  plantState('vault-token', 'hvs.previous-run');
  await deliver(config, h.deps, new AbortController().signal);
  assert.deepEqual(ok.revoked, ['hvs.previous-run']);
  assert.ok(!h.output().includes('hvs.previous-run'), 'the old token is not logged');
  assert.deepEqual(readdirSync(config.stateDir).sort(), ['leases.json', 'vault-token'], 'the record of the undelivered token is cleared once it is delivered');

  for (const dir of [config.secretsDir, config.stateDir]) for (const f of readdirSync(dir)) rmSync(path.join(dir, f), { force: true });
  const failing = vaultFaultInjector({ ...answers, 'read database/creds/web': [fail({ status: 403, vaultErrors: ['permission denied'] })] });
  const h2 = harness(failing);
  plantState('vault-token', 'hvs.previous-run');
  await assert.rejects(deliver(config, h2.deps, new AbortController().signal));
  assert.deepEqual(failing.revoked, [TOKEN], 'a failed delivery revokes its own token and keeps the earlier one, whose secrets are still in place');
  assert.equal(readFileSync(path.join(config.stateDir, 'vault-token'), 'utf8'), 'hvs.previous-run');
});

/**
 * Fault injector for Vault's latency: each call takes the time its script says on the
 * manual clock, and Vault grants the lease halfway through, which the real Vault cannot be
 * made to do on cue. Records when each call was sent and when Vault granted its answer.
 */
interface Step {
  readonly tookMs: number;
  readonly answer: Answer;
}
function slowVaultFaultInjector(clock: ManualClock, script: Record<string, Step[]>): VaultApi & { sent: Record<string, number[]>; granted: Record<string, number[]> } {
  const sent: Record<string, number[]> = {};
  const granted: Record<string, number[]> = {};
  const call = async (key: string): Promise<unknown> => {
    const queue = script[key] ?? [];
    const step = (queue.length > 1 ? queue.shift() : queue[0]) ?? { tookMs: 0, answer: fail({ status: 404, vaultErrors: [] }) };
    (sent[key] ??= []).push(clock.ms);
    await Promise.resolve();
    clock.advance(step.tookMs / 2);
    (granted[key] ??= []).push(clock.ms);
    clock.advance(step.tookMs / 2);
    const answer = step.answer;
    if (typeof answer === 'object' && answer !== null && 'fail' in answer) throw new VaultFailureError(answer as unknown as VaultFailure);
    return answer;
  };
  return { sent, granted, login: () => call('login'), read: (p) => call(p), revokeSelf: async () => undefined };
}

const SERVER_ERROR = fail({ status: 500, vaultErrors: ['connection reset'] });

// The issue-time rule as deliver applies it: each lease's issue time is read before the
// request that produced it is sent (the attempt that answered, after retries), so it is
// never later than Vault's grant and every expiry computed from it errs early.
const ISSUE_TIMES: ReadonlyArray<{ name: string; login: Step[]; db: Step[]; tokenIssuedAt: number; dbIssuedAt: number }> = [
  { name: 'instant answers', login: [{ tookMs: 0, answer: LOGIN_OK }], db: [{ tookMs: 0, answer: DB_OK }], tokenIssuedAt: 0, dbIssuedAt: 0 },
  { name: 'a slow login and a slow database', login: [{ tookMs: 3_000, answer: LOGIN_OK }], db: [{ tookMs: 9_000, answer: DB_OK }], tokenIssuedAt: 0, dbIssuedAt: 3_000 },
  {
    name: 'a failed read retried: the retry is sent after 2 s of failure and a 188 ms backoff',
    login: [{ tookMs: 0, answer: LOGIN_OK }],
    db: [{ tookMs: 2_000, answer: SERVER_ERROR }, { tookMs: 9_000, answer: DB_OK }],
    tokenIssuedAt: 0,
    dbIssuedAt: 2_188,
  },
  {
    name: 'a login retried while Vault is sealed',
    login: [{ tookMs: 1_000, answer: fail({ status: 503, vaultErrors: ['Vault is sealed'] }) }, { tookMs: 4_000, answer: LOGIN_OK }],
    db: [{ tookMs: 500, answer: DB_OK }],
    tokenIssuedAt: 1_188,
    dbIssuedAt: 5_188,
  },
];

for (const row of ISSUE_TIMES) {
  test(`issue times, ${row.name}: stamped before each request, never after Vault's grant`, async () => {
    const clock = new ManualClock();
    const vault = slowVaultFaultInjector(clock, { login: row.login, 'database/creds/web': row.db });
    const manifest = await deliver({ ...config, secrets: [{ name: 'db', path: 'database/creds/web', format: { kind: 'json' } }] }, harness(vault, clock).deps, new AbortController().signal);
    const db = manifest.secrets[0];
    assert.equal(manifest.token.issuedAtMs - T0, row.tokenIssuedAt);
    assert.equal((db?.issuedAtMs ?? NaN) - T0, row.dbIssuedAt);
    assert.equal(manifest.token.issuedAtMs, vault.sent.login?.at(-1), 'the token: when the login that answered was sent');
    assert.equal(db?.issuedAtMs, vault.sent['database/creds/web']?.at(-1), 'the lease: when the read that answered was sent');
    assert.ok(manifest.token.issuedAtMs <= (vault.granted.login?.at(-1) ?? -Infinity), 'token issue time after Vault issued it');
    assert.ok((db?.issuedAtMs ?? Infinity) <= (vault.granted['database/creds/web']?.at(-1) ?? -Infinity), 'lease issue time after Vault granted it');
  });
}

test('the token is on the state volume before any secret is fetched', async () => {
  let atFirstRead: string[] = [];
  let recorded = '';
  const vault: VaultApi = {
    login: () => Promise.resolve(LOGIN_OK),
    read: () => {
      atFirstRead = readdirSync(config.stateDir);
      recorded = readFileSync(path.join(config.stateDir, UNDELIVERED_TOKENS_FILE), 'utf8');
      return Promise.resolve(KV_OK);
    },
    revokeSelf: () => Promise.resolve(),
  };
  await deliver({ ...config, secrets: [config.secrets[0] as SecretSpec] }, harness(vault).deps, new AbortController().signal);
  assert.deepEqual(atFirstRead, [UNDELIVERED_TOKENS_FILE], 'only the token, not yet the sidecar\'s files');
  assert.equal(recorded, `${TOKEN}\n`);
  assert.equal(statSync(path.join(config.stateDir, 'vault-token')).mode & 0o777, 0o400);
});

test('a run killed between login and delivery leaves its token; the next run revokes it before fetching, and delivers', async () => {
  // Fault injector for a kill: the first run's read never answers, and the run is
  // abandoned the way SIGKILL abandons a process (no catch, no finally runs).
  let fetching: () => void = () => undefined;
  const firstFetch = new Promise<void>((resolve) => (fetching = resolve));
  const killed: VaultApi = {
    login: () => Promise.resolve({ auth: { ...LOGIN_OK.auth, client_token: 'hvs.killed-run' } }),
    read: () => (fetching(), new Promise(() => undefined)),
    revokeSelf: () => Promise.reject(new Error('a killed run revokes nothing')),
  };
  void deliver({ ...config, secrets: [config.secrets[1] as SecretSpec] }, harness(killed).deps, new AbortController().signal);
  await firstFetch;
  assert.deepEqual(readdirSync(config.secretsDir), [], 'no secret delivered: all or nothing');
  assert.equal(readFileSync(path.join(config.stateDir, UNDELIVERED_TOKENS_FILE), 'utf8'), 'hvs.killed-run\n');

  const order: string[] = [];
  const next = vaultFaultInjector({ 'login auth/kubernetes web': [LOGIN_OK], 'read secret/data/app': [KV_OK], 'read database/creds/web': [DB_OK], revoke: [{}] });
  const nextVault: VaultApi = {
    login: (...a) => (order.push('login'), next.login(...a)),
    read: (...a) => (order.push('read'), next.read(...a)),
    revokeSelf: (t) => (order.push(`revoke ${t}`), next.revokeSelf(t)),
  };
  const h = harness(nextVault);
  await deliver(config, h.deps, new AbortController().signal);
  assert.deepEqual(order, ['login', 'revoke hvs.killed-run', 'read', 'read']);
  assert.match(h.output(), /"msg":"revoked the Vault token of an interrupted earlier run in this pod"/);
  assert.ok(!h.output().includes('hvs.killed-run'));
  assert.deepEqual(readdirSync(config.stateDir).sort(), ['leases.json', 'vault-token']);
  assert.equal(readFileSync(path.join(config.stateDir, 'vault-token'), 'utf8'), TOKEN);
});

test('a failed attempt whose token Vault would not revoke leaves it recorded for the next run', async () => {
  const vault = vaultFaultInjector({
    'login auth/kubernetes web': [LOGIN_OK],
    'read secret/data/app': [KV_OK],
    'read database/creds/web': [fail({ status: 403, vaultErrors: ['permission denied'] })],
    revoke: [fail({ vaultErrors: [], code: 'ECONNRESET' })],
  });
  await assert.rejects(deliver(config, harness(vault).deps, new AbortController().signal), /secret-db: permission denied/);
  assert.deepEqual(readdirSync(config.secretsDir), []);
  assert.deepEqual(readdirSync(config.stateDir), [UNDELIVERED_TOKENS_FILE]);
  assert.equal(readFileSync(path.join(config.stateDir, UNDELIVERED_TOKENS_FILE), 'utf8'), `${TOKEN}\n`);
});
