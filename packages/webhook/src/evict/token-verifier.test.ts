import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createRefreshingKeySet, createTokenVerifier } from './token-verifier.ts';

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

test('verifies against the cluster keys, and refetches them once when a token names a new key id', async () => {
  const old = await key('old');
  const rotated = await key('rotated');
  let keys = [old.jwk];
  let fetches = 0;
  let now = 0;
  const verify = createTokenVerifier({
    getKey: createRefreshingKeySet({ fetchJwks: async () => (fetches++, { keys }), now: () => now, minRefreshIntervalMs: 10_000 }),
    issuer: async () => ISSUER,
  });
  assert.deepEqual(await verify(await old.sign()), { ok: true, pod: { namespace: 'shop', name: 'api-1', uid: UID, serviceAccount: 'api' } });
  assert.equal(fetches, 1);
  assert.equal((await verify(await old.sign())).ok, true);
  assert.equal(fetches, 1, 'cached');

  // The API server rotated its signing key: the first token with the new kid triggers one refetch.
  keys = [old.jwk, rotated.jwk];
  now = 20_000;
  assert.equal((await verify(await rotated.sign())).ok, true);
  assert.equal(fetches, 2);

  // Unknown kids (forgeries) cannot make the webhook hammer the API server.
  const stranger = await key('stranger');
  for (let i = 0; i < 5; i++) assert.deepEqual(await verify(await stranger.sign()), { ok: false, status: 401, reason: "the token is not signed by one of the cluster's service-account keys" });
  assert.equal(fetches, 2);
});

test('refusals: audience, issuer, forged signature, not bound to a pod, keys unavailable', async () => {
  const k = await key('k');
  const forger = await key('k');
  const verify = createTokenVerifier({ getKey: createRefreshingKeySet({ fetchJwks: async () => ({ keys: [k.jwk] }) }), issuer: async () => ISSUER });
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
  const down = createTokenVerifier({ getKey: createRefreshingKeySet({ fetchJwks: async () => Promise.reject(new Error('ECONNREFUSED')) }), issuer: async () => ISSUER });
  assert.deepEqual(await down(await k.sign()), { ok: false, status: 503, reason: "cannot fetch the cluster's service-account keys from /openid/v1/jwks" });
  const noIssuer = createTokenVerifier({ getKey: createRefreshingKeySet({ fetchJwks: async () => ({ keys: [k.jwk] }) }), issuer: async () => Promise.reject(new Error('down')) });
  assert.equal((await noIssuer(await k.sign())).ok, false);
});

test('an expired token signed by the cluster key is refused as expired', async () => {
  const k = await key('k');
  const verify = createTokenVerifier({ getKey: createRefreshingKeySet({ fetchJwks: async () => ({ keys: [k.jwk] }) }), issuer: async () => ISSUER });
  const r = await verify(await k.sign(CLAIMS, { exp: '-1h' }));
  assert.deepEqual(r, { ok: false, status: 401, reason: 'the token has expired' });
});
