import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { KubeConfig } from '@kubernetes/client-node';
import { createClusterKeySet, createTokenVerifier } from './token-verifier.ts';
import { jwksUrl, kubeFetch } from './cluster.ts';

const ISSUER = 'https://127.0.0.1:6443';
const UID = '0b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b';
const CLAIMS = {
  sub: 'system:serviceaccount:shop:api',
  'kubernetes.io': { namespace: 'shop', pod: { name: 'api-1', uid: UID }, serviceaccount: { name: 'api', uid: '11111111-2222-4333-8444-555555555555' } },
};

async function key(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const sign = (claims: Record<string, unknown> = CLAIMS, opts: { aud?: string; iss?: string; exp?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? 'vault-courier')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '10m')
      .sign(privateKey);
  return { jwk, sign };
}

/** A real HTTP server publishing a key set the test changes, and counting GETs. */
async function jwksServer(initial: JWK[]) {
  const state = { keys: initial, fetches: 0 };
  const server = createServer((_req, res) => {
    state.fetches++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: state.keys }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/openid/v1/jwks`);
  return { state, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('verifies against the cluster keys, refetches once for a new key id, and stops trusting a removed key', async () => {
  const old = await key('old');
  const rotated = await key('rotated');
  const stranger = await key('stranger');
  const jwks = await jwksServer([old.jwk]);
  try {
    const verify = createTokenVerifier({ getKey: createClusterKeySet({ url: jwks.url, cacheMaxAgeMs: 1000, cooldownMs: 300 }), issuer: async () => ISSUER });
    assert.deepEqual(await verify(await old.sign()), { ok: true, pod: { namespace: 'shop', name: 'api-1', uid: UID, serviceAccount: 'api' } });
    assert.equal((await verify(await old.sign())).ok, true);
    assert.equal(jwks.state.fetches, 1, 'cached');

    // The API server added a signing key: the first token with the new kid triggers one refetch.
    jwks.state.keys = [old.jwk, rotated.jwk];
    await sleep(350);
    assert.equal((await verify(await rotated.sign())).ok, true);
    assert.equal(jwks.state.fetches, 2);

    // Unknown kids (forgeries) cannot make the webhook hammer the API server.
    for (let i = 0; i < 5; i++) assert.deepEqual(await verify(await stranger.sign()), { ok: false, status: 401, reason: "the token is not signed by one of the cluster's service-account keys" });
    assert.equal(jwks.state.fetches, 2);

    // The API server dropped the old key: once the cache is older than its max age, tokens it signed no longer verify.
    jwks.state.keys = [rotated.jwk];
    const oldToken = await old.sign();
    await sleep(1050);
    assert.deepEqual(await verify(oldToken), { ok: false, status: 401, reason: "the token is not signed by one of the cluster's service-account keys" });
    assert.equal((await verify(await rotated.sign())).ok, true);
  } finally {
    await jwks.close();
  }
});

test('refusals: audience, issuer, forged signature, not bound to a pod, keys unavailable', async () => {
  const k = await key('k');
  const forger = await key('k');
  const jwks = await jwksServer([k.jwk]);
  after(() => jwks.close());
  const verify = createTokenVerifier({ getKey: createClusterKeySet({ url: jwks.url }), issuer: async () => ISSUER });
  const rows: [string, Promise<string>, number, RegExp][] = [
    ['audience vault', k.sign(CLAIMS, { aud: 'vault' }), 401, /aud claim/],
    ['another issuer', k.sign(CLAIMS, { iss: 'https://evil' }), 401, /iss claim/],
    ['forged with the same kid', forger.sign(), 401, /signature does not verify/],
    ['not bound to a pod', k.sign({ sub: 'system:serviceaccount:shop:api', 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'api' } } }), 403, /not bound to a pod/],
    ['garbage', Promise.resolve('not.a.jwt'), 401, /not a valid JWT/],
  ];
  for (const [what, jwt, status, reason] of rows) {
    const r = await verify(await jwt);
    assert.equal(r.ok, false, what);
    if (!r.ok) {
      assert.equal(r.status, status, what);
      assert.match(r.reason, reason, what);
    }
  }
  // The production fetch (the webhook's KubeConfig) against an API server that does not answer: 503, not a token error.
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }], users: [{ name: 'u', token: 'not-logged' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  const down = createTokenVerifier({ getKey: createClusterKeySet({ url: jwksUrl(kc), fetch: kubeFetch(kc) }), issuer: async () => ISSUER });
  assert.deepEqual(await down(await k.sign()), { ok: false, status: 503, reason: "cannot fetch the cluster's service-account keys from /openid/v1/jwks" });
  const noIssuer = createTokenVerifier({ getKey: createClusterKeySet({ url: jwks.url }), issuer: async () => Promise.reject(new Error('down')) });
  assert.equal((await noIssuer(await k.sign())).ok, false);
});

test('an expired token signed by the cluster key is refused as expired', async () => {
  const k = await key('k');
  const jwks = await jwksServer([k.jwk]);
  after(() => jwks.close());
  const verify = createTokenVerifier({ getKey: createClusterKeySet({ url: jwks.url }), issuer: async () => ISSUER });
  const r = await verify(await k.sign(CLAIMS, { exp: '-1h' }));
  assert.deepEqual(r, { ok: false, status: 401, reason: 'the token has expired' });
});
