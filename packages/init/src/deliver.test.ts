import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, isCourierError, parseManifest, type InitConfig, type SecretSpec } from '@vault-courier/core';
import { deliver, failureReason, type DeliverDeps } from './deliver.ts';
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

function harness(vault: VaultApi): { deps: DeliverDeps; output: () => string; slept: number[] } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c.toString()), done()) });
  let now = T0;
  const slept: number[] = [];
  return {
    slept,
    output: () => chunks.join(''),
    deps: {
      vault,
      readJwt: () => Promise.resolve(`${JWT}\n`),
      readPreviousToken: () => Promise.resolve(undefined),
      logger: createLogger({ name: 't', destination: stream }),
      now: () => now,
      random: () => 0.5,
      sleep: (ms) => {
        slept.push(ms);
        now += ms;
        return Promise.resolve();
      },
    },
  };
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
  await deliver(config, { ...h.deps, readPreviousToken: () => Promise.resolve('hvs.previous-run') }, new AbortController().signal);
  assert.deepEqual(ok.revoked, ['hvs.previous-run']);
  assert.ok(!h.output().includes('hvs.previous-run'), 'the old token is not logged');

  for (const dir of [config.secretsDir, config.stateDir]) for (const f of readdirSync(dir)) rmSync(path.join(dir, f), { force: true });
  const failing = vaultFaultInjector({ ...answers, 'read database/creds/web': [fail({ status: 403, vaultErrors: ['permission denied'] })] });
  const h2 = harness(failing);
  await assert.rejects(deliver(config, { ...h2.deps, readPreviousToken: () => Promise.resolve('hvs.previous-run') }, new AbortController().signal));
  assert.deepEqual(failing.revoked, [TOKEN], 'a failed delivery revokes its own token and keeps the earlier one, whose secrets are still in place');
});
