/**
 * The init container as the kubelet runs it (a process with the injected environment),
 * against the dev cluster's real Vault, kubernetes auth doing a real TokenReview against
 * the real API server, and the real PostgreSQL behind Vault's database engine. A temp dir
 * stands for each volume. The destructive cases (PostgreSQL down, Vault sealed, Vault
 * stopped) run last, in that order.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createNamespace, createServiceAccount, requestServiceAccountToken, startDevCluster, type DevCluster, type DevClusterVault } from '@vault-courier/devcluster';
import { defaultBinaries } from '@vault-courier/devcluster/binaries';
import { once } from 'node:events';
import { parseManifest, type LeaseManifest, type SecretSpec } from '@vault-courier/core';
import { createVaultToken } from '@vault-courier/sidecar/vault-token';
import { createTestPki, type TestPki } from '../helpers/webhook-tls.ts';
import { startRecordingVaultProxy, type RecordedVaultRequest, type RecordingVaultProxy } from '../helpers/recording-vault-proxy.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'packages/init/src/main.ts');
const SIDECAR_MAIN = path.join(ROOT, 'packages/sidecar/src/main.ts');
const NAMESPACE = 'shop';
const SERVICE_ACCOUNT = 'web';
const ROLE = 'web';
/** Planted in a secret: must never appear in the init container's output or errors. */
const CANARY = 'canary-init-9f27c1-never-printed';
const HOSTILE_ENV_TOKEN = 'canary-env-vault-token-31b0';

const APP_VALUES = {
  PASSWORD: CANARY,
  GREETING: `it's a "quoted" $HOME \`x\` \\ value`,
  MULTILINE: 'line one\nline two\n\n  indented\n',
  UNICODE: 'naïve café 🔐 日本',
  SPACES: '  padded  ',
};

let cluster: DevCluster;
let vault: DevClusterVault;
let work = '';
let jwtPath = '';
let pki: TestPki | undefined;
let recorder: RecordingVaultProxy | undefined;

interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  readonly secretsDir: string;
  readonly stateDir: string;
  readonly lines: Array<Record<string, unknown>>;
}

let runCount = 0;
const outputs: string[] = [];

/**
 * Runs the init container's entry point with the environment the webhook injects; `nodeArgs`
 * runs other code in its place (the fault injector below).
 */
async function runInit(secrets: readonly SecretSpec[], overrides: Record<string, string> = {}, nodeArgs: readonly string[] = [MAIN]): Promise<RunResult> {
  const runDir = path.join(work, `run-${++runCount}`);
  const secretsDir = path.join(runDir, 'secrets');
  const stateDir = path.join(runDir, 'state');
  mkdirSync(secretsDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    // What node-vault and its HTTP stack would read on their own: none of it may matter.
    VAULT_ADDR: 'http://127.0.0.1:1',
    VAULT_TOKEN: HOSTILE_ENV_TOKEN,
    VAULT_NAMESPACE: 'hostile',
    VAULT_SKIP_VERIFY: 'true',
    DEBUG: '*',
    VAULT_COURIER_VAULT_ADDR: vault.addr,
    VAULT_COURIER_AUTH_PATH: vault.authPath,
    VAULT_COURIER_ROLE: ROLE,
    VAULT_COURIER_SECRETS: JSON.stringify(secrets),
    VAULT_COURIER_SECRETS_DIR: secretsDir,
    VAULT_COURIER_STATE_DIR: stateDir,
    VAULT_COURIER_VAULT_JWT_PATH: jwtPath,
    VAULT_COURIER_POD_NAME: 'web-0',
    VAULT_COURIER_POD_NAMESPACE: NAMESPACE,
    VAULT_COURIER_POD_UID: 'uid-0',
    ...overrides,
  };
  const started = performance.now();
  const child = spawn(process.execPath, nodeArgs, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, sig) => resolve([c, sig])));
  outputs.push(stdout, stderr);
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, signal, stdout, stderr, ms: performance.now() - started, secretsDir, stateDir, lines };
}

function lastMessage(r: RunResult): string {
  return String(r.lines.at(-1)?.msg ?? `(no log line; stderr: ${r.stderr})`);
}

function assertNothingWritten(r: RunResult): void {
  assert.deepEqual(readdirSync(r.secretsDir), [], 'a secret file was left behind');
  assert.deepEqual(readdirSync(r.stateDir), [], 'a state file was left behind');
}

function assertNoCredentialPrinted(r: RunResult): void {
  for (const secret of [CANARY, HOSTILE_ENV_TOKEN]) {
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${secret} was printed`);
  }
  // Vault >= 1.10 service tokens all start with hvs.
  assert.ok(!/hvs\.[A-Za-z0-9_-]{20}/.test(r.stdout + r.stderr), 'a Vault token was printed');
  assert.ok(!r.stdout.includes(readFileSync(jwtPath, 'utf8').trim()), 'the JWT was printed');
}

/** The users Vault's database engine created (their names start with v-). */
async function databaseUsers(): Promise<string[]> {
  assert.ok(cluster.postgres);
  const client = new pg.Client({ connectionString: cluster.postgres.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%' ORDER BY rolname");
    return rows.map((r) => r.rolname);
  } finally {
    await client.end();
  }
}

/** Vault's own clock for when it issued a token or a lease (RFC 3339, ns), in epoch ms rounded down. */
function vaultIssueTime(data: { issue_time?: unknown }): number {
  const text = String(data.issue_time);
  const ms = Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
  assert.ok(Number.isFinite(ms), `issue_time ${text}`);
  return ms;
}

/**
 * Issue times err early, on Vault's own clock (the same machine's): the token's and every
 * leased secret's are no later than Vault issued them, so no expiry computed from them is late.
 */
async function assertIssueTimesErrEarly(manifest: LeaseManifest, tokenLookup: { issue_time?: unknown }): Promise<void> {
  assert.ok(manifest.token.issuedAtMs <= vaultIssueTime(tokenLookup), `token stamped ${manifest.token.issuedAtMs}, issued ${String(tokenLookup.issue_time)}`);
  const leased = manifest.secrets.filter((s) => s.leaseId !== '');
  assert.ok(leased.length > 0);
  for (const s of leased) {
    const lease = (await vault.client.write('sys/leases/lookup', { lease_id: s.leaseId })) as { data: { issue_time?: unknown } };
    assert.ok(s.issuedAtMs <= vaultIssueTime(lease.data), `${s.name} stamped ${s.issuedAtMs}, issued ${String(lease.data.issue_time)}`);
  }
}

/** Looks a token up by its accessor with the root token: rejects once the token is revoked. */
function lookupAccessor(accessor: string): Promise<unknown> {
  return vault.client.write('auth/token/lookup-accessor', { accessor });
}

/**
 * The init container killed right after login: main.ts's wiring (the real Vault client, the
 * real volumes) with one fault injector around Vault's read. It lets Vault issue the first
 * secret (a database user is created for the token) and SIGKILLs its own process as the
 * answer arrives, before anything is written: the real Vault cannot make its client crash
 * on cue. It writes the token's accessor (not a credential) where the test can look the
 * token up with the root token.
 */
const KILLED_AFTER_LOGIN = `
import { readFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, parseInitConfig } from '@vault-courier/core';
import { createVaultClient } from '@vault-courier/init/vault-client';
import { deliver } from '@vault-courier/init/deliver';
const parsed = parseInitConfig(process.env);
if ('errors' in parsed) throw new Error(parsed.errors.join('; '));
const { config } = parsed;
const real = createVaultClient({ addr: config.vaultAddr, caPem: config.vaultCaPem, requestTimeoutMs: 10000 });
const vaultKillFaultInjector = {
  login: async (...args) => {
    const body = await real.login(...args);
    writeFileSync(process.env.FAULT_ACCESSOR_FILE, body.auth.accessor);
    return body;
  },
  read: async (...args) => {
    await real.read(...args);
    process.kill(process.pid, 'SIGKILL');
    return new Promise(() => {});
  },
  revokeSelf: real.revokeSelf,
};
await deliver(config, { vault: vaultKillFaultInjector, readJwt: () => readFile(config.vaultJwtPath, 'utf8'), logger: createLogger({ name: 'vault-courier-init' }), now: Date.now, sleep: (ms, signal) => sleep(ms, undefined, { signal }), random: Math.random }, new AbortController().signal);
`;

const KV: SecretSpec = { name: 'app', path: 'secret/data/app', format: { kind: 'env' } };
const KV_JSON: SecretSpec = { name: 'app-json', path: 'secret/data/app', format: { kind: 'json' } };
const KV1: SecretSpec = { name: 'legacy', path: 'kv1/legacy', format: { kind: 'key', field: 'api_key' } };
const DB: SecretSpec = { name: 'db', path: 'database/creds/web', format: { kind: 'json' } };

before(async () => {
  cluster = await startDevCluster({ vault: true, postgres: true });
  assert.ok(cluster.vault);
  vault = cluster.vault;
  work = mkdtempSync(path.join(tmpdir(), 'init-it-'));
  await createNamespace(cluster.kubeConfig, NAMESPACE);
  await createServiceAccount(cluster.kubeConfig, NAMESPACE, SERVICE_ACCOUNT);
  jwtPath = path.join(work, 'vault-jwt');
  writeFileSync(jwtPath, await requestServiceAccountToken(cluster.kubeConfig, { namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT, audiences: ['vault'], expirationSeconds: 3600 }), { mode: 0o400 });

  await vault.writePolicy(
    ROLE,
    ['secret/data/*', 'kv1/*', 'database/creds/web'].map((p) => `path "${p}" { capabilities = ["read"] }`).join('\n'),
  );
  await vault.createVaultRole({ name: ROLE, namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT, policies: [ROLE], ttl: 900 });
  await vault.writeKv('app', APP_VALUES);
  await Promise.all(Array.from({ length: 10 }, (_, i) => vault.writeKv(`many/s${i}`, { index: String(i), value: `v${i}` })));
  await vault.client.mount({ mount_point: 'kv1', type: 'kv', options: { version: '1' } });
  await vault.client.write('kv1/legacy', { api_key: 'k-123', other: CANARY });
  await vault.createDatabaseRole({ name: 'web', ttlSeconds: 300, maxTtlSeconds: 600 });
});

after(async () => {
  await recorder?.close();
  await pki?.remove();
  await cluster?.stop();
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

test('KV v2, KV v1 and a database secret are delivered, with the token and the lease manifest', async () => {
  const r = await runInit([KV, KV_JSON, KV1, DB]);
  assert.equal(r.code, 0, `${lastMessage(r)}\n${r.stderr}`);
  assert.deepEqual(readdirSync(r.secretsDir).sort(), ['app', 'app-json', 'db', 'legacy']);
  for (const name of readdirSync(r.secretsDir)) assert.equal(statSync(path.join(r.secretsDir, name)).mode & 0o777, 0o440, name);
  for (const name of ['vault-token', 'leases.json']) assert.equal(statSync(path.join(r.stateDir, name)).mode & 0o777, 0o400, name);

  assert.deepEqual(JSON.parse(readFileSync(path.join(r.secretsDir, 'app-json'), 'utf8')), APP_VALUES);
  assert.equal(readFileSync(path.join(r.secretsDir, 'legacy'), 'utf8'), 'k-123');

  const manifest = parseManifest(readFileSync(path.join(r.stateDir, 'leases.json'), 'utf8'));
  assert.equal(manifest.token.ttlSeconds, 900);
  assert.equal(manifest.token.renewable, true);
  assert.notEqual(manifest.token.accessor, '');
  const byName = Object.fromEntries(manifest.secrets.map((s) => [s.name, s]));
  assert.equal(byName.app?.leaseDurationSeconds, 0);
  assert.equal(byName.legacy?.leaseDurationSeconds, 0, 'KV v1 has no lease, whatever its lease_duration hint');
  assert.equal(byName.db?.leaseDurationSeconds, 300);
  assert.equal(byName.db?.renewable, true);
  assert.match(byName.db?.leaseId ?? '', /^database\/creds\/web\//);

  // The token written is the one Vault issued for this pod's service account.
  const token = readFileSync(path.join(r.stateDir, 'vault-token'), 'utf8');
  const self = (await vault.client.read('auth/token/lookup-self', { headers: { 'X-Vault-Token': token } })) as { data: { meta: Record<string, string>; accessor: string; issue_time?: unknown } };
  assert.equal(self.data.meta.service_account_name, SERVICE_ACCOUNT);
  assert.equal(self.data.accessor, manifest.token.accessor);
  await assertIssueTimesErrEarly(manifest, self.data);

  // One log line per secret: name, path, lease duration; never a value.
  const delivered = r.lines.filter((l) => l.msg === 'secret delivered').map((l) => [l.secretName, l.path, l.leaseDurationSeconds]);
  assert.deepEqual(delivered.sort(), [['app', 'secret/data/app', 0], ['app-json', 'secret/data/app', 0], ['db', 'database/creds/web', 300], ['legacy', 'kv1/legacy', 0]].sort());
  assertNoCredentialPrinted(r);
  assert.ok(!r.stdout.includes(token), 'the Vault token was printed');
  assert.equal(r.stderr, '', 'DEBUG=* printed something');
});

test('the database user Vault issued connects to the real PostgreSQL', async () => {
  const r = await runInit([DB]);
  assert.equal(r.code, 0, lastMessage(r));
  const creds = JSON.parse(readFileSync(path.join(r.secretsDir, 'db'), 'utf8')) as { username: string; password: string };
  assert.ok(cluster.postgres);
  const client = new pg.Client({ host: cluster.postgres.host, port: cluster.postgres.port, user: creds.username, password: creds.password, database: 'postgres' });
  await client.connect();
  try {
    const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
    assert.equal(rows[0]?.user, creds.username);
  } finally {
    await client.end();
  }
});

test('run again in the same pod (a sandbox restart), init revokes the earlier run\'s token: its database user is dropped', async () => {
  const first = await runInit([DB]);
  assert.equal(first.code, 0, lastMessage(first));
  const firstUser = (JSON.parse(readFileSync(path.join(first.secretsDir, 'db'), 'utf8')) as { username: string }).username;
  assert.ok((await databaseUsers()).includes(firstUser));
  const again = await runInit([DB], { VAULT_COURIER_SECRETS_DIR: first.secretsDir, VAULT_COURIER_STATE_DIR: first.stateDir });
  assert.equal(again.code, 0, lastMessage(again));
  const secondUser = (JSON.parse(readFileSync(path.join(first.secretsDir, 'db'), 'utf8')) as { username: string }).username;
  assert.notEqual(secondUser, firstUser, 'the file holds the new run\'s user');
  const users = await databaseUsers();
  assert.ok(users.includes(secondUser), 'the new user lives');
  assert.ok(!users.includes(firstUser), 'the earlier run\'s user was dropped with its token');
});

test('killed right after login, then run again in the same pod: the next run revokes the killed run\'s token, and its database user is dropped', async () => {
  const usersBefore = await databaseUsers();
  const accessorFile = path.join(work, 'killed-run-accessor');
  const killed = await runInit([DB], { FAULT_ACCESSOR_FILE: accessorFile }, ['--input-type=module', '-e', KILLED_AFTER_LOGIN]);
  assert.equal(killed.signal, 'SIGKILL', `the fault injector did not kill the run: ${lastMessage(killed)}\n${killed.stderr}`);
  assert.deepEqual(readdirSync(killed.secretsDir), [], 'a secret was delivered: all or nothing');
  assert.deepEqual(readdirSync(killed.stateDir), ['undelivered-vault-tokens'], 'the killed run left no token on the state volume');
  const accessor = readFileSync(accessorFile, 'utf8');
  await lookupAccessor(accessor);
  const killedUsers = (await databaseUsers()).filter((u) => !usersBefore.includes(u));
  assert.equal(killedUsers.length, 1, 'Vault issued the killed run a database user');

  const next = await runInit([DB], { VAULT_COURIER_SECRETS_DIR: killed.secretsDir, VAULT_COURIER_STATE_DIR: killed.stateDir });
  assert.equal(next.code, 0, lastMessage(next));
  assert.ok(next.lines.some((l) => l.msg === 'revoked the Vault token of an interrupted earlier run in this pod'));
  await assert.rejects(lookupAccessor(accessor), 'the killed run\'s token is still valid');
  // Vault drops the child leases' users in the background.
  let users = await databaseUsers();
  for (let i = 0; i < 50 && users.includes(killedUsers[0] ?? ''); i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    users = await databaseUsers();
  }
  assert.ok(!users.includes(killedUsers[0] ?? ''), 'the killed run\'s database user outlived its token');
  const newUser = (JSON.parse(readFileSync(path.join(killed.secretsDir, 'db'), 'utf8')) as { username: string }).username;
  assert.ok(users.includes(newUser), 'the new run\'s user lives');
  assert.deepEqual(readdirSync(killed.stateDir).sort(), ['leases.json', 'vault-token'], 'the record of the killed run\'s token outlived its revocation');
  assertNoCredentialPrinted(killed);
  assertNoCredentialPrinted(next);
});

test('the env file, sourced by a real sh with set -a, reproduces every value', async () => {
  const r = await runInit([KV]);
  assert.equal(r.code, 0, lastMessage(r));
  const names = Object.keys(APP_VALUES);
  const script = `set -a; . "$1"; printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`;
  const out = execFileSync('/bin/sh', ['-c', script, 'sh', path.join(r.secretsDir, 'app')], { env: { PATH: '/usr/bin:/bin' } }).toString('utf8');
  const values = out.split('\0');
  assert.deepEqual(Object.fromEntries(names.map((n, i) => [n, values[i]])), APP_VALUES);
});

test('10 secrets are fetched in parallel and all delivered', async () => {
  const many = Array.from({ length: 10 }, (_, i): SecretSpec => ({ name: `s${i}`, path: `secret/data/many/s${i}`, format: { kind: 'key', field: 'value' } }));
  const r = await runInit(many);
  assert.equal(r.code, 0, lastMessage(r));
  assert.equal(readdirSync(r.secretsDir).length, 10);
  for (let i = 0; i < 10; i++) assert.equal(readFileSync(path.join(r.secretsDir, `s${i}`), 'utf8'), `v${i}`);
  assert.equal(parseManifest(readFileSync(path.join(r.stateDir, 'leases.json'), 'utf8')).secrets.length, 10);
});

test('a wrong role fails at once, naming vault-courier.io/role, and writes nothing', async (t) => {
  const r = await runInit([KV], { VAULT_COURIER_ROLE: 'no-such-role' });
  t.diagnostic(lastMessage(r));
  assert.equal(r.code, 1);
  assert.match(lastMessage(r), /^vault-courier\.io\/role: Vault has no role "no-such-role" at auth\/kubernetes/);
  assert.equal(r.lines.filter((l) => l.msg === 'Vault not ready; retrying').length, 0);
  assertNothingWritten(r);
  assertNoCredentialPrinted(r);
});

test('a path that does not exist fails at once, naming the annotation and the path, and writes nothing', async (t) => {
  const r = await runInit([KV, { name: 'gone', path: 'secret/data/does-not-exist', format: { kind: 'json' } }]);
  t.diagnostic(lastMessage(r));
  assert.equal(r.code, 1);
  assert.match(lastMessage(r), /^vault-courier\.io\/secret-gone: nothing at secret\/data\/does-not-exist/);
  assertNothingWritten(r);
  assertNoCredentialPrinted(r);
});

test('a path the role may not read fails at once with permission denied, and its dynamic credentials are revoked', async (t) => {
  const usersBefore = await databaseUsers();
  const r = await runInit([DB, { name: 'admin', path: 'database/creds/admin', format: { kind: 'json' } }]);
  t.diagnostic(lastMessage(r));
  assert.equal(r.code, 1);
  assert.match(lastMessage(r), /^vault-courier\.io\/secret-admin: permission denied reading database\/creds\/admin/);
  assertNothingWritten(r);
  assert.ok(r.lines.some((l) => l.msg === 'revoked the Vault token of this failed attempt'));
  // Revoking the token revokes its child lease (Vault does it in the background): the
  // PostgreSQL user created for db is dropped.
  let users = await databaseUsers();
  for (let i = 0; i < 50 && users.length !== usersBefore.length; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    users = await databaseUsers();
  }
  assert.deepEqual(users, usersBefore);
});

/** The database secret as a connection URL, the KV secret as a properties file (no HTML escaping). */
const DB_URL: SecretSpec = { name: 'db-url', path: 'database/creds/web', format: { kind: 'template', template: '' } };
const PROPERTIES: SecretSpec = { name: 'app-properties', path: 'secret/data/app', format: { kind: 'template', template: '{{! vault-courier }}\ngreeting={{GREETING}}\napp.password={{{PASSWORD}}}\n' } };

function dbUrlSpec(): SecretSpec {
  assert.ok(cluster.postgres);
  return { ...DB_URL, format: { kind: 'template', template: `postgresql://{{username}}:{{password}}@${cluster.postgres.host}:${cluster.postgres.port}/postgres` } };
}

test('templates: the rendered connection URL connects to the real PostgreSQL; a properties file is written byte for byte', async () => {
  const r = await runInit([dbUrlSpec(), PROPERTIES]);
  assert.equal(r.code, 0, `${lastMessage(r)}\n${r.stderr}`);
  assert.deepEqual(readdirSync(r.secretsDir).sort(), ['app-properties', 'db-url']);
  for (const name of readdirSync(r.secretsDir)) assert.equal(statSync(path.join(r.secretsDir, name)).mode & 0o777, 0o440, name);
  assert.equal(readFileSync(path.join(r.secretsDir, 'app-properties'), 'utf8'), `greeting=${APP_VALUES.GREETING}\napp.password=${CANARY}\n`);
  const client = new pg.Client({ connectionString: readFileSync(path.join(r.secretsDir, 'db-url'), 'utf8') });
  await client.connect();
  try {
    const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
    assert.match(rows[0]?.user ?? '', /^v-/);
  } finally {
    await client.end();
  }
  assert.deepEqual(r.lines.filter((l) => l.msg === 'secret delivered').map((l) => l.format).sort(), ['template', 'template']);
  assertNoCredentialPrinted(r);
});

test('a template field the secret lacks stops init naming the field, never a value; nothing is written and the token is revoked', async (t) => {
  const r = await runInit([DB, { name: 'app-properties', path: 'secret/data/app', format: { kind: 'template', template: 'password={{PASSWORD}}\nuser={{USERNAME}}\n' } }]);
  t.diagnostic(lastMessage(r));
  assert.equal(r.code, 1);
  assert.match(lastMessage(r), /^vault-courier\.io\/template-app-properties: the template uses field "USERNAME", not in the secret at secret\/data\/app; fields present: "GREETING", "MULTILINE", "PASSWORD", "SPACES", "UNICODE"; fix the template or the secret$/);
  assertNothingWritten(r);
  assert.ok(r.lines.some((l) => l.msg === 'revoked the Vault token of this failed attempt'));
  assertNoCredentialPrinted(r);
});

/** Runs the sidecar on a state volume init filled, as the kubelet would, until it has decided its deadline (after lookup-self); then SIGTERM. */
async function runSidecar(state: RunResult, overrides: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [SIDECAR_MAIN], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      VAULT_NAMESPACE: 'hostile',
      VAULT_COURIER_STATE_DIR: state.stateDir,
      VAULT_COURIER_EVICT_JWT_PATH: jwtPath,
      VAULT_COURIER_SERVICE_URL: 'https://127.0.0.1:1',
      VAULT_COURIER_POD_NAME: 'web-0',
      VAULT_COURIER_POD_NAMESPACE: NAMESPACE,
      VAULT_COURIER_POD_UID: 'uid-0',
      VAULT_COURIER_ROTATE: 'false',
      VAULT_COURIER_ROTATE_REASON: 'the test only watches its Vault calls',
      VAULT_COURIER_GRACE_PERIOD_SECONDS: '5',
      ...overrides,
    },
  });
  let stdout = '';
  child.stderr.resume();
  const closed = once(child, 'close');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sidecar never computed its deadline:\n${stdout}`)), 20_000);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.split('\n').some((l) => l.startsWith('{') && DECIDED.includes(String((JSON.parse(l) as { msg?: unknown }).msg)))) {
        clearTimeout(timer);
        resolve();
      }
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  child.kill('SIGTERM');
  const [code] = (await closed) as [number | null];
  outputs.push(stdout);
  return { code, stdout };
}

const DECIDED = ['deadline computed', 'no deadline'];

function callsOf(requests: readonly RecordedVaultRequest[]): string[] {
  return requests.map((q) => `${q.method} ${q.path} ${q.namespace ?? '(no namespace)'} ${q.status ?? '?'}`);
}

test('vault-courier.io/namespace: X-Vault-Namespace on every call of init and the sidecar, on the wire in front of the real Vault (which ignores it)', async () => {
  pki = await createTestPki();
  recorder = await startRecordingVaultProxy(vault.addr, pki.serving);
  const overVault = { VAULT_COURIER_VAULT_ADDR: recorder.addr, VAULT_COURIER_VAULT_CACERT_PEM: pki.ca.certPem };
  const namespace = 'org/team-a';
  const withNamespace = { ...overVault, VAULT_COURIER_VAULT_NAMESPACE: namespace };

  // init: login, every read, and the revoke-self of a failed attempt.
  const delivered = await runInit([KV, DB, dbUrlSpec()], withNamespace);
  assert.equal(delivered.code, 0, lastMessage(delivered));
  const failed = await runInit([{ ...KV, format: { kind: 'template', template: '{{NOT_THERE}}' } }], withNamespace);
  assert.equal(failed.code, 1);
  const initCalls = recorder.requests.splice(0);
  assert.deepEqual(callsOf(initCalls).sort(), [
    `GET /v1/database/creds/web ${namespace} 200`,
    `GET /v1/database/creds/web ${namespace} 200`,
    `GET /v1/secret/data/app ${namespace} 200`,
    `GET /v1/secret/data/app ${namespace} 200`,
    `POST /v1/auth/kubernetes/login ${namespace} 200`,
    `POST /v1/auth/kubernetes/login ${namespace} 200`,
    `POST /v1/auth/token/revoke-self ${namespace} 204`,
  ]);

  // The sidecar: lookup-self at start, renew-self, revoke-self at SIGTERM; its Vault client is the one main.ts builds.
  const sidecar = await runSidecar(delivered, withNamespace);
  const token = readFileSync(path.join(delivered.stateDir, 'vault-token'), 'utf8').trim();
  assert.equal(sidecar.code, 0);
  assert.ok(sidecar.stdout.includes('Vault token revoked'), sidecar.stdout);
  const sidecarCalls = recorder.requests.splice(0);
  assert.deepEqual(callsOf(sidecarCalls), [`GET /v1/auth/token/lookup-self ${namespace} 200`, `POST /v1/auth/token/revoke-self ${namespace} 204`]);
  assert.ok(!sidecar.stdout.includes(token), 'the Vault token was printed');

  const again = await runInit([KV], withNamespace);
  assert.equal(again.code, 0, lastMessage(again));
  const client = createVaultToken({ addr: recorder.addr, caPem: pki.ca.certPem, namespace, token: readFileSync(path.join(again.stateDir, 'vault-token'), 'utf8').trim(), requestTimeoutMs: 5000 });
  recorder.requests.splice(0);
  assert.ok((await client.renewSelf(600)).ttlSeconds > 0);
  await client.revokeSelf(5000);
  assert.deepEqual(callsOf(recorder.requests.splice(0)), [`POST /v1/auth/token/renew-self ${namespace} 200`, `POST /v1/auth/token/revoke-self ${namespace} 204`]);

  // Without the setting no header is sent, whatever VAULT_NAMESPACE says in the environment.
  const plain = await runInit([KV], overVault);
  assert.equal(plain.code, 0, lastMessage(plain));
  const plainSidecar = await runSidecar(plain, overVault);
  assert.equal(plainSidecar.code, 0);
  assert.ok(recorder.requests.length >= 4, callsOf(recorder.requests).join('\n'));
  assert.deepEqual(recorder.requests.filter((q) => q.namespace !== undefined), [], 'a header without the setting');
  for (const r of [delivered, failed, again, plain]) assertNoCredentialPrinted(r);
});

test('a missing field in the canary secret names the fields, never their values', async (t) => {
  const r = await runInit([{ name: 'app', path: 'secret/data/app', format: { kind: 'key', field: 'PASSWD' } }]);
  t.diagnostic(lastMessage(r));
  assert.equal(r.code, 1);
  assert.match(lastMessage(r), /^vault-courier\.io\/format-app: field "PASSWD" is not in the secret at secret\/data\/app; fields present: "GREETING", "MULTILINE", "PASSWORD", "SPACES", "UNICODE"$/);
  assertNothingWritten(r);
  assertNoCredentialPrinted(r);
});

test('an invalid environment names every variable at fault and exits 2', async () => {
  const r = await runInit([KV], { VAULT_COURIER_VAULT_ADDR: 'not a url', VAULT_COURIER_SECRETS: '[{"name":"Bad"}]', VAULT_COURIER_INIT_DEADLINE_SECONDS: 'soon' });
  assert.equal(r.code, 2);
  const msg = lastMessage(r);
  for (const v of ['VAULT_COURIER_VAULT_ADDR', 'VAULT_COURIER_SECRETS', 'VAULT_COURIER_INIT_DEADLINE_SECONDS']) assert.ok(msg.includes(`${v}: `), msg);
});

test('PostgreSQL down: the database secret is retried until the deadline, then a clear error', async (t) => {
  assert.ok(cluster.postgres);
  await cluster.postgres.process.stop();
  const r = await runInit([KV, DB], { VAULT_COURIER_INIT_DEADLINE_SECONDS: '4' });
  t.diagnostic(lastMessage(r));
  assert.equal(r.code, 1);
  assert.match(lastMessage(r), /^Vault at http:\/\/127\.0\.0\.1:\d+ answered 5\d\d: .* while reading database\/creds\/web for vault-courier\.io\/secret-db \(gave up after \d+ attempts in [45]s; VAULT_COURIER_INIT_DEADLINE_SECONDS/);
  assert.ok(r.lines.filter((l) => l.msg === 'Vault not ready; retrying').length >= 2);
  assert.ok(r.ms >= 3500 && r.ms < 15_000, `took ${Math.round(r.ms)} ms`);
  assertNothingWritten(r);
  assertNoCredentialPrinted(r);
});

/** The vault CLI, as an operator runs it, with the root token. */
function vaultCli(...args: string[]): void {
  execFileSync(defaultBinaries().vault, args, { env: { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.rootToken, PATH: '/usr/bin:/bin', HOME: work }, stdio: 'ignore' });
}

test('Vault sealed, then unsealed while init retries: the secrets are delivered', async () => {
  const logPath = cluster.logs.vault;
  assert.ok(logPath !== undefined);
  // The dev server prints its unseal key at start.
  const unsealKey = /Unseal Key: (\S+)/.exec(readFileSync(logPath, 'utf8'))?.[1];
  assert.ok(unsealKey !== undefined, 'no unseal key in the dev server log');
  vaultCli('operator', 'seal');
  const running = runInit([KV], { VAULT_COURIER_INIT_DEADLINE_SECONDS: '60' });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  vaultCli('operator', 'unseal', unsealKey);
  const r = await running;
  assert.equal(r.code, 0, lastMessage(r));
  assert.ok(r.lines.some((l) => l.msg === 'Vault not ready; retrying' && String(l.reason).includes('is sealed (503)')));
  assert.deepEqual(readdirSync(r.secretsDir), ['app']);
  assertNoCredentialPrinted(r);
});

test('Vault sealed: login is retried until the deadline, then a clear error', async (t) => {
  vaultCli('operator', 'seal');
  const r = await runInit([KV], { VAULT_COURIER_INIT_DEADLINE_SECONDS: '3' });
  t.diagnostic(lastMessage(r));
  assert.equal(r.code, 1);
  assert.match(lastMessage(r), /^Vault at http:\/\/127\.0\.0\.1:\d+ is sealed \(503\) while logging in at auth\/kubernetes as role "web"; unseal it \(gave up after \d+ attempts in 3s; VAULT_COURIER_INIT_DEADLINE_SECONDS sets how long to retry\)$/);
  assert.ok(r.lines.filter((l) => l.msg === 'Vault not ready; retrying').length >= 2);
  assertNothingWritten(r);
});

test('Vault stopped: login is retried until the deadline, then a clear error', async (t) => {
  const proc = cluster.processes.find((p) => p.name === 'vault');
  assert.ok(proc);
  await proc.stop();
  const r = await runInit([KV], { VAULT_COURIER_INIT_DEADLINE_SECONDS: '3' });
  t.diagnostic(lastMessage(r));
  assert.equal(r.code, 1);
  assert.match(lastMessage(r), /^Vault at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\) while logging in at auth\/kubernetes as role "web" \(gave up after \d+ attempts in 3s; /);
  assert.ok(r.ms >= 2500 && r.ms < 10_000, `took ${Math.round(r.ms)} ms`);
  assertNothingWritten(r);
});

test('the canary never appeared in any run', () => {
  assert.ok(outputs.length > 0);
  for (const out of outputs) assert.ok(!out.includes(CANARY), 'canary printed');
});
