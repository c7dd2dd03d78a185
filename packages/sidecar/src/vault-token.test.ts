import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { isCourierError } from '@vault-courier/core/support/errors';
import { createVaultToken } from './vault-token.ts';

const TOKEN = 'hvs.canary-token-must-never-appear';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/**
 * Fault injector for Vault's token endpoints: answers exactly as the test says (a 5xx, a
 * capped renewal, a hang) and records each request, which the real Vault cannot be made to
 * do on cue. The sidecar against the real Vault is in test/integration/sidecar.test.ts.
 */
async function vaultFaultInjector(handler: Handler) {
  const seen: { method: string; url: string; token: string | undefined; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', token: req.headers['x-vault-token'] as string | undefined, body });
      handler(req, body, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { addr: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

test('renew-self sends the token and the increment, reads lease_duration and renewable', async () => {
  const v = await vaultFaultInjector((_q, _b, res) => json(res, 200, { auth: { lease_duration: 3600, renewable: true } }));
  try {
    const t = createVaultToken({ addr: v.addr, caPem: undefined, token: TOKEN, requestTimeoutMs: 1000 });
    assert.deepEqual(await t.renewSelf(3600), { ttlSeconds: 3600, renewable: true });
    assert.deepEqual(v.seen[0], { method: 'POST', url: '/v1/auth/token/renew-self', token: TOKEN, body: '{"increment":"3600s"}' });
  } finally {
    await v.close();
  }
});

test('lookup-self: expiry and the start of the current TTL, after a renewal', async () => {
  const v = await vaultFaultInjector((_q, _b, res) =>
    json(res, 200, { data: { ttl: 1200, renewable: true, issue_time: '2026-11-24T12:00:00Z', last_renewal_time: Date.UTC(2026, 10, 24, 12, 40) / 1000, expire_time: '2026-11-24T13:40:00Z' } }),
  );
  try {
    const t = createVaultToken({ addr: v.addr, caPem: undefined, token: TOKEN, requestTimeoutMs: 1000 });
    assert.deepEqual(await t.lookupSelf(), { ttlSeconds: 1200, renewable: true, sinceMs: Date.UTC(2026, 10, 24, 12, 40), expiresAtMs: Date.UTC(2026, 10, 24, 13, 40) });
    assert.equal(v.seen[0]?.method, 'GET');
  } finally {
    await v.close();
  }
});

test('the environment changes nothing: VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE are ignored', async () => {
  const v = await vaultFaultInjector((req, _b, res) => json(res, 200, { auth: { lease_duration: 60, renewable: true }, ns: req.headers['x-vault-namespace'] ?? null }));
  const saved = { ...process.env };
  Object.assign(process.env, { VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: 'env-token', VAULT_NAMESPACE: 'env-ns' });
  try {
    const t = createVaultToken({ addr: v.addr, caPem: undefined, token: TOKEN, requestTimeoutMs: 1000 });
    await t.renewSelf(60);
    assert.equal(v.seen[0]?.token, TOKEN);
  } finally {
    process.env = saved;
    await v.close();
  }
});

const failures: { name: string; handler: Handler; retryable: boolean; message: RegExp }[] = [
  { name: '403 permission denied (token expired or revoked): final', handler: (_q, _b, res) => json(res, 403, { errors: ['permission denied'] }), retryable: false, message: /answered 403 \(permission denied\) to renew-self/ },
  { name: '503 sealed: retryable', handler: (_q, _b, res) => json(res, 503, { errors: ['Vault is sealed'] }), retryable: true, message: /answered 503 \(Vault is sealed\)/ },
  { name: '429: retryable', handler: (_q, _b, res) => json(res, 429, {}), retryable: true, message: /answered 429 to renew-self/ },
  { name: 'a Vault that hangs: retryable timeout', handler: () => undefined, retryable: true, message: /did not answer renew-self \(ETIMEDOUT\)/ },
];

for (const f of failures) {
  test(`renew-self failure: ${f.name}, and the token is in no error`, async () => {
    const v = await vaultFaultInjector(f.handler);
    try {
      const t = createVaultToken({ addr: v.addr, caPem: undefined, token: TOKEN, requestTimeoutMs: 300 });
      const err = await t.renewSelf(60).then(() => assert.fail('expected a failure'), (e: unknown) => e);
      assert.ok(isCourierError(err, 'vault'));
      assert.equal(err.retryable, f.retryable);
      assert.match(err.message, f.message);
      assert.ok(!JSON.stringify({ err, cause: err.cause, stack: err.stack }).includes('canary-token'));
    } finally {
      await v.close();
    }
  });
}

test('Vault not listening: retryable, naming the socket error', async () => {
  const t = createVaultToken({ addr: 'http://127.0.0.1:1', caPem: undefined, token: TOKEN, requestTimeoutMs: 1000 });
  const err = await t.revokeSelf(500).then(() => assert.fail('expected a failure'), (e: unknown) => e);
  assert.ok(isCourierError(err, 'vault') && err.retryable);
  assert.match(err.message, /did not answer revoke-self \(ECONNREFUSED\)/);
});
