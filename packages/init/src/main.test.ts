// The entry point as the kubelet runs it: exit codes, the one-line reason, signals. No Vault
// is needed: these are the cases where none answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const MAIN = path.join(import.meta.dirname, 'main.ts');
let dir = '';
let closedPort = 0;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'init-main-'));
  mkdirSync(path.join(dir, 'secrets'));
  mkdirSync(path.join(dir, 'state'));
  writeFileSync(path.join(dir, 'jwt'), 'not-a-real-jwt');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedPort = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function env(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    VAULT_COURIER_VAULT_ADDR: `http://127.0.0.1:${closedPort}`,
    VAULT_COURIER_ROLE: 'web',
    VAULT_COURIER_SECRETS: '[{"name":"app","path":"secret/data/app","format":{"kind":"json"}}]',
    VAULT_COURIER_SECRETS_DIR: path.join(dir, 'secrets'),
    VAULT_COURIER_STATE_DIR: path.join(dir, 'state'),
    VAULT_COURIER_VAULT_JWT_PATH: path.join(dir, 'jwt'),
    ...overrides,
  };
}

interface Exit {
  code: number | null;
  lines: Array<Record<string, unknown>>;
  stderr: string;
  ms: number;
}

function run(e: NodeJS.ProcessEnv, whileRunning?: (child: ChildProcess) => void): Promise<Exit> {
  const started = performance.now();
  const child = spawn(process.execPath, [MAIN], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
    whileRunning?.(child);
  });
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const lines = stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, lines, stderr, ms: performance.now() - started });
    }),
  );
}

test('an invalid environment exits 2 with one line naming every variable at fault', async () => {
  const r = await run(env({ VAULT_COURIER_VAULT_ADDR: '', VAULT_COURIER_SECRETS: 'nope', VAULT_COURIER_STATE_DIR: 'relative' }));
  assert.equal(r.code, 2);
  assert.equal(r.lines.length, 1);
  const msg = String(r.lines[0]?.msg);
  for (const v of ['VAULT_COURIER_VAULT_ADDR: ', 'VAULT_COURIER_SECRETS: ', 'VAULT_COURIER_STATE_DIR: ']) assert.ok(msg.includes(v), msg);
});

test('an unreachable Vault is retried until the deadline, then exit 1 with a one-line reason', async () => {
  const r = await run(env({ VAULT_COURIER_INIT_DEADLINE_SECONDS: '2' }));
  assert.equal(r.code, 1);
  const last = r.lines.at(-1);
  assert.equal(last?.level, 'error');
  assert.match(String(last?.msg), new RegExp(`^Vault at http://127\\.0\\.0\\.1:${closedPort} is unreachable \\(ECONNREFUSED\\) while logging in at auth/kubernetes as role "web" \\(gave up after \\d+ attempts in 2s; VAULT_COURIER_INIT_DEADLINE_SECONDS sets how long to retry\\)$`));
  assert.ok(r.lines.filter((l) => l.msg === 'Vault not ready; retrying').length >= 2);
  assert.ok(r.ms >= 1900 && r.ms < 8000, `${Math.round(r.ms)} ms`);
  assert.ok(!JSON.stringify(r.lines).includes('not-a-real-jwt'), 'the JWT was logged');
  assert.deepEqual(readdirSync(path.join(dir, 'secrets')), []);
});

test('SIGTERM while retrying stops at once with exit 1 and says so', async () => {
  let sent = false;
  const r = await run(env({ VAULT_COURIER_INIT_DEADLINE_SECONDS: '60' }), (child) => {
    if (!sent) child.kill('SIGTERM');
    sent = true;
  });
  assert.equal(r.code, 1);
  assert.equal(r.lines.at(-1)?.msg, 'stopped by SIGTERM before the secrets were delivered');
  assert.ok(r.ms < 10_000, `${Math.round(r.ms)} ms`);
});
