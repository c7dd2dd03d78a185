import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '@vault-courier/devcluster/pki';
import { createVaultHealthCheck, DEFAULT_HEALTH_CACHE_MS } from './vault-health.ts';

/**
 * A fault injector for Vault's sys/health: a local HTTPS server that answers "sealed" on
 * cue and counts the questions, which the real Vault cannot do on cue. The check is real:
 * node-vault over TLS, verified against the test's CA.
 */
let dir: string;
let server: Server;
let addr: string;
let caPem: string;
let requests = 0;
let sealed = false;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-health-'));
  const ca = await createCertificateAuthority(dir, 'vault-health-test-ca');
  const serving = await issueCertificate(dir, ca, { name: 'vault', commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], usage: 'server' });
  caPem = ca.certPem;
  server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    if (!req.url?.startsWith('/v1/sys/health')) {
      res.writeHead(404).end();
      return;
    }
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ initialized: true, sealed, standby: false }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  addr = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

test('sys/health: two attempts within the window make one request, one after it another; "sealed" is cached too', async () => {
  let now = 1_000_000;
  const check = createVaultHealthCheck({ addr, caPem, now: () => now });
  requests = 0;
  sealed = false;
  assert.deepEqual(await check(), { ok: true });
  now += DEFAULT_HEALTH_CACHE_MS - 1;
  assert.deepEqual(await check(), { ok: true });
  assert.equal(requests, 1, 'the second attempt within the window is answered from the cache');

  sealed = true;
  now += 1;
  const answer = await check();
  assert.equal(requests, 2, 'an attempt after the window asks again');
  assert.equal(answer.ok, false);
  assert.match(answer.ok ? '' : answer.reason, /is sealed/);

  sealed = false;
  now += 500;
  assert.equal((await check()).ok, false, 'the unhealthy answer serves its window too');
  assert.equal(requests, 2);
  now += DEFAULT_HEALTH_CACHE_MS;
  assert.deepEqual(await check(), { ok: true });
  assert.equal(requests, 3);
});

test('sys/health: attempts while a question is out share it', async () => {
  const check = createVaultHealthCheck({ addr, caPem, now: () => 5_000_000 });
  requests = 0;
  sealed = false;
  const answers = await Promise.all([check(), check(), check(), check()]);
  assert.deepEqual(answers, [{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
  assert.equal(requests, 1);
});

test('sys/health: cacheMs 0 asks on every attempt', async () => {
  const check = createVaultHealthCheck({ addr, caPem, cacheMs: 0, now: () => 7_000_000 });
  requests = 0;
  await check();
  await check();
  assert.equal(requests, 2);
});
