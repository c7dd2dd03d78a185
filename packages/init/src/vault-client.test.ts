// The environment a Vault client library would read on its own (node-vault does: the
// sidecar's and init's clients must not), set before the client is imported: none of it
// may change what the client does.
const ENV_CANARY = 'canary-env-token-4c2f';
process.env.VAULT_TOKEN = ENV_CANARY;
process.env.VAULT_NAMESPACE = 'env-namespace';
process.env.VAULT_PREFIX = '/env-prefix';
process.env.VAULT_SKIP_VERIFY = 'true';
process.env.DEBUG = '*';

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inspect } from 'node:util';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const JWT = 'canary-jwt-eyJhbGciOi.9a8b';
const TOKEN = 'canary-vault-token-hvs.77e1';

function handler(seen: Seen[]): http.RequestListener {
  return (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const reply = (status: number, json: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      };
      if (req.url === '/v1/auth/kubernetes/login') reply(200, { auth: { client_token: TOKEN, accessor: 'a', lease_duration: 60, renewable: true } });
      else if (req.url === '/v1/secret/data/app') reply(200, { data: { data: { k: 'v' }, metadata: { version: 1 } } });
      else if (req.url === '/v1/secret/data/denied') reply(403, { errors: ['1 error occurred:\n\t* permission denied\n\n'] });
      else if (req.url === '/v1/secret/data/hang') return; // never answers
      else reply(404, { errors: [] });
    });
  };
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

// Request recorders standing in for Vault: the real Vault cannot report the headers it
// received, and these tests are about exactly that (no token, namespace or prefix from the
// environment). envVaultFaultInjector sits at the environment's VAULT_ADDR: any request it
// sees is the fault under test. The client against the real Vault: test/integration/init.test.ts.
const envVaultSeen: Seen[] = [];
const seen: Seen[] = [];
const tlsSeen: Seen[] = [];
const envVaultFaultInjector = http.createServer(handler(envVaultSeen));
const recordingVault = http.createServer(handler(seen));
let recordingTlsVault: https.Server;
let caPem = '';
let dir = '';
let plainAddr = '';
let secureAddr = '';
const stderr: string[] = [];
const originalWrite = process.stderr.write.bind(process.stderr);

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vault-client-'));
  execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  caPem = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  recordingTlsVault = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: caPem }, handler(tlsSeen));
  process.env.VAULT_ADDR = `http://127.0.0.1:${await listen(envVaultFaultInjector)}`;
  plainAddr = `http://127.0.0.1:${await listen(recordingVault)}`;
  secureAddr = `https://127.0.0.1:${await listen(recordingTlsVault)}`;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    stderr.push(chunk.toString());
    return originalWrite(chunk, ...rest);
  }) as typeof process.stderr.write;
});

after(() => {
  process.stderr.write = originalWrite;
  envVaultFaultInjector.close();
  recordingVault.close();
  recordingTlsVault.close();
  envVaultFaultInjector.closeAllConnections();
  recordingVault.closeAllConnections();
  recordingTlsVault.closeAllConnections();
  rmSync(dir, { recursive: true, force: true });
});

const { createVaultClient } = await import('./vault-client.ts');
const { VaultFailureError } = await import('./vault-errors.ts');

test('login goes to the configured address only, with no token and no namespace from the environment', async () => {
  const vault = createVaultClient({ addr: plainAddr, caPem: undefined, requestTimeoutMs: 5000 });
  const body = await vault.login('auth/kubernetes', 'app', JWT);
  assert.equal((body as { auth: { client_token: string } }).auth.client_token, TOKEN);
  const req = seen.at(-1);
  assert.ok(req);
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/v1/auth/kubernetes/login', 'no VAULT_PREFIX in the path');
  assert.deepEqual(JSON.parse(req.body), { role: 'app', jwt: JWT });
  assert.equal(req.headers['x-vault-token'], undefined);
  assert.equal(req.headers['x-vault-namespace'], undefined);
  assert.equal(envVaultSeen.length, 0, 'VAULT_ADDR was used');
});

test('read sends the token it is given, never VAULT_TOKEN', async () => {
  const vault = createVaultClient({ addr: plainAddr, caPem: undefined, requestTimeoutMs: 5000 });
  const body = await vault.read('secret/data/app', TOKEN);
  assert.deepEqual((body as { data: { data: unknown } }).data.data, { k: 'v' });
  const req = seen.at(-1);
  assert.equal(req?.method, 'GET');
  assert.equal(req?.url, '/v1/secret/data/app');
  assert.equal(req?.headers['x-vault-token'], TOKEN);
  assert.equal(req?.headers['x-vault-namespace'], undefined);
  await vault.revokeSelf(TOKEN).catch(() => undefined);
  assert.equal(seen.at(-1)?.url, '/v1/auth/token/revoke-self');
  assert.equal(seen.at(-1)?.headers['x-vault-token'], TOKEN);
  assert.ok(!seen.some((s) => JSON.stringify(s).includes(ENV_CANARY)), 'VAULT_TOKEN reached Vault');
});

test('DEBUG=* makes the client print nothing: no JWT, no token', () => {
  const printed = stderr.join('');
  assert.ok(!printed.includes(JWT) && !printed.includes(TOKEN), 'a credential reached stderr');
  assert.ok(!printed.includes('node-vault'), `node-vault debug output: ${printed.slice(0, 200)}`);
});

test('TLS is verified although VAULT_SKIP_VERIFY=true: unknown CA fails, the configured CA works', async () => {
  const untrusting = createVaultClient({ addr: secureAddr, caPem: undefined, requestTimeoutMs: 5000 });
  await assert.rejects(untrusting.read('secret/data/app', TOKEN), (err: unknown) => {
    assert.ok(err instanceof VaultFailureError);
    assert.equal(err.failure.status, undefined);
    assert.match(err.failure.code ?? '', /SELF_SIGNED|CERT|UNABLE_TO_VERIFY/);
    return true;
  });
  assert.equal(tlsSeen.length, 0, 'a request was sent over an unverified connection');
  const trusting = createVaultClient({ addr: secureAddr, caPem, requestTimeoutMs: 5000 });
  const body = await trusting.read('secret/data/app', TOKEN);
  assert.deepEqual((body as { data: { data: unknown } }).data.data, { k: 'v' });
  assert.equal(tlsSeen.length, 1);
});

test('a refusal keeps status and Vault errors only; nothing in the error holds the token or the JWT', async () => {
  const vault = createVaultClient({ addr: plainAddr, caPem: undefined, requestTimeoutMs: 5000 });
  for (const attempt of [() => vault.read('secret/data/denied', TOKEN), () => vault.login('auth/missing', 'app', JWT)]) {
    const err = await attempt().then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof VaultFailureError);
    const dump = inspect(err, { depth: 10, showHidden: true }) + JSON.stringify(err);
    assert.ok(!dump.includes(TOKEN) && !dump.includes(JWT), `a credential is in the error: ${dump}`);
  }
  const denied = await vault.read('secret/data/denied', TOKEN).catch((e: unknown) => e);
  assert.ok(denied instanceof VaultFailureError);
  assert.deepEqual(denied.failure, { status: 403, vaultErrors: ['1 error occurred: * permission denied'] });
});

test('network failures keep their code: refused, and a timeout on a Vault that hangs', async () => {
  const closed = http.createServer();
  const port = await listen(closed);
  closed.close();
  const refused = await createVaultClient({ addr: `http://127.0.0.1:${port}`, caPem: undefined, requestTimeoutMs: 5000 }).read('x', TOKEN).catch((e: unknown) => e);
  assert.ok(refused instanceof VaultFailureError);
  assert.deepEqual(refused.failure, { vaultErrors: [], code: 'ECONNREFUSED' });
  const hung = await createVaultClient({ addr: plainAddr, caPem: undefined, requestTimeoutMs: 200 }).read('secret/data/hang', TOKEN).catch((e: unknown) => e);
  assert.ok(hung instanceof VaultFailureError);
  assert.equal(hung.failure.code, 'ETIMEDOUT');
});
