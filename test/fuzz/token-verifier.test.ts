/**
 * The pure half of the eviction endpoints' token check, fuzzed: 2,000 seeded tokens signed
 * with a key in an in-process key set (jose's createLocalJWKSet, as the cluster's would be
 * after the fetch), their claims mutated in shape and type, their headers and signatures
 * varied. The verifier never throws and never answers "failed unexpectedly" (503); what it
 * accepts is a pod identity of DNS names and a uid that its `sub` agrees with.
 * test/integration/evict.test.ts fuzzes the same endpoints against the real API server's keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { createTokenVerifier } from '@vault-courier/webhook/evict/token-verifier';
import { seededRandom, type Random } from './random.ts';

const ISSUER = 'https://127.0.0.1:6443';
const CASES = 2_000;
const UID = '0b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b';

const ODD: unknown[] = [null, 7, -1, true, '', 'x', [], ['vault-courier'], {}, { name: 1 }, '\ud800', 'a'.repeat(300), 'Shop', 'shop/other', UID.toUpperCase()];

function claims(now: number): Record<string, unknown> {
  return {
    iss: ISSUER,
    aud: ['vault-courier'],
    sub: 'system:serviceaccount:shop:api',
    iat: now - 10,
    exp: now + 600,
    'kubernetes.io': { namespace: 'shop', pod: { name: 'api-1', uid: UID }, serviceaccount: { name: 'api', uid: UID } },
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets `path` where every step is still an object (an earlier mutation may have replaced one). */
function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node: unknown = target;
  for (const step of path.slice(0, -1)) node = isObject(node) ? node[step] : undefined;
  if (isObject(node)) node[path.at(-1) ?? ''] = value;
}

/** A claim (or a field of kubernetes.io) replaced, removed or retyped. */
function mutateClaims(rng: Random, base: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(base);
  const paths: string[][] = [['iss'], ['aud'], ['sub'], ['iat'], ['exp'], ['nbf'], ['kubernetes.io'], ['kubernetes.io', 'namespace'], ['kubernetes.io', 'pod'], ['kubernetes.io', 'pod', 'name'], ['kubernetes.io', 'pod', 'uid'], ['kubernetes.io', 'serviceaccount'], ['kubernetes.io', 'serviceaccount', 'name']];
  for (let i = rng.int(3); i >= 0; i--) {
    const path = rng.pick(paths);
    if (rng.chance(0.2)) setIn(out, path, undefined);
    else setIn(out, path, structuredClone(rng.pick(ODD)));
  }
  if (rng.chance(0.1)) out.sub = `system:serviceaccount:${String(rng.pick(ODD))}:api`;
  return out;
}

/** What an answer must be: 401/403 with a reason, or an identity of DNS names that `sub` agrees with. */
function answerProblem(payload: Record<string, unknown>, result: Awaited<ReturnType<ReturnType<typeof createTokenVerifier>>>): string | undefined {
  if (!result.ok) return result.status === 401 || result.status === 403 ? (result.reason === '' ? 'a refusal without a reason' : undefined) : `${result.status} ${result.reason}`;
  const dns = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (!dns.test(result.pod.namespace) || !dns.test(result.pod.name)) return `accepted ${JSON.stringify(result.pod)}`;
  return payload.sub === `system:serviceaccount:${result.pod.namespace}:${result.pod.serviceAccount}` ? undefined : `accepted a sub of ${JSON.stringify(payload.sub)}`;
}

const HEADERS = [{ alg: 'RS256', kid: 'k1' }, { alg: 'RS256' }, { alg: 'RS256', kid: 'k2' }, { alg: 'RS256', kid: 'k1', crit: ['x'] }, { alg: 'RS256', kid: 'k1', b64: false, crit: ['b64'] }];

async function sign(payload: Record<string, unknown>, header: (typeof HEADERS)[number], key: CryptoKey): Promise<string> {
  try {
    return await new SignJWT(payload as JWTPayload).setProtectedHeader(header).sign(key);
  } catch {
    // jose refuses to sign some claim sets (a non-number exp): a forger would write those by hand.
    return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;
  }
}

test('2,000 fuzzed claim sets, headers and signatures: the verifier never throws or fails unexpectedly; what it accepts is a well-formed pod identity', async () => {
  const rng = seededRandom('token verifier fuzzer');
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
  const verify = createTokenVerifier({ getKey: keys, issuer: async () => ISSUER });
  const now = Math.floor(Date.now() / 1000);
  const seen = new Map<string, number>();
  const problems: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const payload = rng.chance(0.1) ? claims(now) : mutateClaims(rng, claims(now));
    const jwt = await sign(payload, rng.pick(HEADERS), rng.chance(0.9) ? privateKey : other.privateKey);
    const result = await verify(jwt);
    const label = result.ok ? 'ok' : `${result.status}`;
    seen.set(label, (seen.get(label) ?? 0) + 1);
    const problem = answerProblem(payload, result);
    if (problem !== undefined) problems.push(`case ${i}: ${problem}`);
  }
  assert.deepEqual(problems, [], `seed ${rng.seed}`);
  console.error(`token verifier fuzzer: ${[...seen].map(([k, n]) => `${k}: ${n}`).join(', ')}`);
  assert.ok((seen.get('ok') ?? 0) > 0 && (seen.get('401') ?? 0) > 0 && (seen.get('403') ?? 0) > 0, 'the cases reach every answer');
});
