/**
 * Requests for POST /evict, /expiry-warning and /deadline, drawn from a seeded generator:
 * tokens (none, malformed, expired, another audience or issuer, `alg: none`, no kid, forged
 * with a key the cluster does not have, HS256 keyed with the cluster's public key, replayed
 * for a deleted pod or another uid, a non-injected pod's), Authorization headers that are
 * not `Bearer <jwt>`, and bodies (malformed, too large, other charsets and encodings).
 * Each case lists the answers (core's EVICTION_ANSWERS reasons) it may get. No case ever
 * carries a valid token of the live injected pod to /evict: that is the one request that
 * should evict, and the fuzzer proves nothing else does.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { EvictionReason } from '@vault-courier/core';
import type { Random } from './random.ts';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface EvictionWorld {
  /** The cluster's service-account signing key (PKCS#8 PEM) and the kid the API server puts on its tokens. */
  readonly signingKeyPem: string;
  readonly kid: string;
  readonly issuer: string;
  /** An injected pod that must never be evicted; its API-server token goes to the other endpoints only. */
  readonly live: PodRef & { readonly token: string };
  /** A pod that no longer exists, and the token the API server issued for it. */
  readonly deleted: PodRef & { readonly token: string };
  /** A pod vault-courier did not inject, and its token. */
  readonly plain: PodRef & { readonly token: string };
}

export interface EvictionCase {
  readonly kind: string;
  readonly path: '/evict' | '/expiry-warning' | '/deadline';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The reasons this case may be answered with. */
  readonly expect: readonly EvictionReason[];
}

type StatusBody = { kind?: unknown; apiVersion?: unknown; code?: unknown; reason?: unknown; message?: unknown };

function envelopeProblem(status: number, text: string): { problem: string } | { body: StatusBody } {
  let body: StatusBody;
  try {
    body = JSON.parse(text) as StatusBody;
  } catch {
    return { problem: `${status} with a body that is not JSON: ${text.slice(0, 120)}` };
  }
  if (status >= 500) return { problem: `a ${status}: ${text.slice(0, 200)}` };
  if (body.kind !== 'Status' || body.apiVersion !== 'v1' || body.code !== status) return { problem: `not a v1 Status with code ${status}: ${text.slice(0, 200)}` };
  return { body };
}

/** What every answer must be: a v1 Status whose reason is one of core's, with that reason's code and a message; never Evicted. */
export function statusProblem(c: EvictionCase, status: number, text: string, answers: Readonly<Record<string, { code: number }>>): string | undefined {
  const envelope = envelopeProblem(status, text);
  if ('problem' in envelope) return envelope.problem;
  const { body } = envelope;
  const reason = typeof body.reason === 'string' ? body.reason : '';
  if (answers[reason]?.code !== status) return `reason ${JSON.stringify(body.reason)} is not one of core's answers with code ${status}`;
  if (typeof body.message !== 'string' || body.message === '') return `${reason} without a message`;
  if (reason === 'Evicted') return 'EVICTED';
  if (c.expect.length > 0 && !c.expect.includes(reason as EvictionReason)) return `answered ${reason} (${body.message}), expected ${c.expect.join(' or ')}`;
  return undefined;
}

export interface TokenKit {
  readonly world: EvictionWorld;
  readonly clusterKey: KeyObject;
  readonly clusterPublicPem: string;
  readonly forgedRsa: CryptoKey;
  readonly forgedEc: CryptoKey;
}

export async function createTokenKit(world: EvictionWorld): Promise<TokenKit> {
  const clusterKey = createPrivateKey(world.signingKeyPem);
  return {
    world,
    clusterKey,
    clusterPublicPem: createPublicKey(clusterKey).export({ type: 'spki', format: 'pem' }).toString(),
    forgedRsa: (await generateKeyPair('RS256')).privateKey,
    forgedEc: (await generateKeyPair('ES256')).privateKey,
  };
}

/** The claims the API server puts on a bound token, for `pod`. */
function claimsFor(world: EvictionWorld, pod: PodRef, nowSeconds: number): JWTPayload {
  return {
    aud: ['vault-courier'],
    iss: world.issuer,
    sub: `system:serviceaccount:${pod.namespace}:app`,
    iat: nowSeconds - 60,
    nbf: nowSeconds - 60,
    exp: nowSeconds + 3600,
    'kubernetes.io': { namespace: pod.namespace, pod: { name: pod.name, uid: pod.uid }, serviceaccount: { name: 'app', uid: '00000000-0000-4000-8000-000000000000' } },
  };
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

interface TokenCase {
  readonly kind: string;
  /** The Authorization header, or undefined for none. */
  readonly authorization: string | undefined;
  readonly expect: readonly EvictionReason[];
  /** A token that verifies for the live pod: kept away from /evict. */
  readonly live?: boolean;
}

const UNAUTHORIZED: readonly EvictionReason[] = ['Unauthorized'];
const GONE: readonly EvictionReason[] = ['PodGone', 'RateLimited'];

function malformedToken(rng: Random): TokenCase {
  const raw = rng.pick([
    () => rng.text(1 + rng.int(200), 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'),
    () => `${b64(rng.text(20))}.${b64(rng.text(20))}.${rng.text(40)}`,
    () => `${b64({ alg: 'RS256' })}.${b64('not json')}.sig`,
    () => 'e30.e30.',
    () => `${b64({ alg: 'RS256', kid: rng.text(8) })}.${b64({})}`,
    () => `a.b.c.d.e`,
    () => 'x'.repeat(6_000),
  ])();
  return { kind: 'malformed-token', authorization: `Bearer ${raw}`, expect: UNAUTHORIZED };
}

function oddHeader(rng: Random, kit: TokenKit): TokenCase {
  const token = kit.world.deleted.token;
  const authorization = rng.pick(['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', `Bearer  ${token}`, `bearer ${token}`, `Bearer ${token} extra`, `Token ${token}`, token, `Bearer ${token}%A0`]);
  return { kind: 'odd-header', authorization, expect: UNAUTHORIZED };
}

async function clusterSigned(rng: Random, kit: TokenKit, nowSeconds: number): Promise<TokenCase> {
  const { world } = kit;
  const base = claimsFor(world, world.deleted, nowSeconds);
  const variants: [string, JWTPayload, readonly EvictionReason[]][] = [
    ['expired', { ...base, iat: nowSeconds - 7200, nbf: nowSeconds - 7200, exp: nowSeconds - 3600 }, UNAUTHORIZED],
    ['not-yet-valid', { ...base, nbf: nowSeconds + 3600 }, UNAUTHORIZED],
    ['wrong-audience', { ...base, aud: rng.pick([['vault'], 'vault-courier-x', [], ['kubernetes']]) }, UNAUTHORIZED],
    ['wrong-issuer', { ...base, iss: rng.pick(['https://evil.example', `${world.issuer}/`, '']) }, UNAUTHORIZED],
    ['no-exp', { ...base, exp: undefined }, UNAUTHORIZED],
    ['no-iat', { ...base, iat: undefined }, UNAUTHORIZED],
    ['not-bound-to-a-pod', { ...base, 'kubernetes.io': rng.pick([undefined, {}, { namespace: world.deleted.namespace }, { namespace: 7, pod: { name: [], uid: null } }, 'pod']) }, ['NotBoundToPod']],
    // Replayed: a token of the cluster for a pod that is gone, or for the live pod's name with another uid.
    ['replayed-deleted', base, GONE],
    ['replayed-other-uid', claimsFor(world, { ...world.live, uid: '11111111-2222-4333-8444-555555555555' }, nowSeconds), GONE],
  ];
  const [kind, payload, expect] = rng.pick(variants);
  const header = rng.chance(0.2) ? { alg: 'RS256' } : { alg: 'RS256', kid: world.kid };
  const jwt = await new SignJWT(payload).setProtectedHeader(header).sign(kit.clusterKey);
  // Without a kid the cluster's single key is still the one that verifies: only the cluster can sign such a token.
  return { kind: `${kind}${header.kid === undefined ? '-no-kid' : ''}`, authorization: `Bearer ${jwt}`, expect };
}

async function forged(rng: Random, kit: TokenKit, nowSeconds: number): Promise<TokenCase> {
  const { world } = kit;
  const claims = claimsFor(world, rng.chance(0.5) ? world.live : world.deleted, nowSeconds);
  const variant = rng.int(5);
  let jwt: string;
  if (variant === 0) jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: world.kid }).sign(kit.forgedRsa);
  else if (variant === 1) jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: rng.text(16) }).sign(kit.forgedRsa);
  else if (variant === 2) jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: world.kid }).sign(kit.forgedEc);
  // The classic confusion: HMAC keyed with the public key a verifier holds.
  else if (variant === 3) jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: world.kid }).sign(new TextEncoder().encode(kit.clusterPublicPem));
  else jwt = `${b64({ alg: rng.pick(['none', 'None', 'NONE']), kid: world.kid })}.${b64(claims)}.`;
  return { kind: ['forged-same-kid', 'forged-own-kid', 'forged-es256', 'hs256-public-key', 'alg-none'][variant] ?? 'forged', authorization: `Bearer ${jwt}`, expect: UNAUTHORIZED };
}

async function tokenCase(rng: Random, kit: TokenKit, nowSeconds: number): Promise<TokenCase> {
  const roll = rng.int(100);
  if (roll < 8) return { kind: 'no-token', authorization: undefined, expect: UNAUTHORIZED };
  if (roll < 20) return malformedToken(rng);
  if (roll < 30) return oddHeader(rng, kit);
  if (roll < 60) return clusterSigned(rng, kit, nowSeconds);
  if (roll < 82) return forged(rng, kit, nowSeconds);
  if (roll < 88) return { kind: 'replayed-api-server-token', authorization: `Bearer ${kit.world.deleted.token}`, expect: GONE };
  if (roll < 94) return { kind: 'not-injected', authorization: `Bearer ${kit.world.plain.token}`, expect: ['NotInjected', 'RateLimited'] };
  return { kind: 'live', authorization: `Bearer ${kit.world.live.token}`, expect: [], live: true };
}

interface BodyCase {
  readonly kind: string;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  /** body-parser refuses it: the answer is BadRequest whatever the token. */
  readonly refused: boolean;
}

const JSON_TYPE = { 'content-type': 'application/json' };

function bodyCase(rng: Random): BodyCase {
  const good = JSON.stringify(rng.pick([{}, { reason: 'credentials expire' }, { expiresAt: new Date().toISOString() }, { expiresAt: rng.text(10) }, { state: { reason: rng.text(5) } }, [], { reason: '\ud800\u202e\u0000' }]));
  const variants: BodyCase[] = [
    { kind: 'json', body: Buffer.from(good), headers: JSON_TYPE, refused: false },
    { kind: 'empty', body: Buffer.alloc(0), headers: JSON_TYPE, refused: false },
    { kind: 'text-plain', body: Buffer.from(good), headers: { 'content-type': 'text/plain' }, refused: false },
    // Every proper prefix of a JSON object or array is invalid JSON.
    { kind: 'truncated', body: Buffer.from(good.slice(0, 1 + rng.int(good.length - 1))), headers: JSON_TYPE, refused: true },
    { kind: 'not-json', body: Buffer.from(rng.pick(['null', '"x"', '42', 'evict me', '{"a":'])), headers: JSON_TYPE, refused: true },
    { kind: 'too-large', body: Buffer.from(JSON.stringify({ reason: 'r'.repeat(5_000) })), headers: JSON_TYPE, refused: true },
    { kind: 'utf-16', body: Buffer.from(good), headers: { 'content-type': 'application/json; charset=utf-16' }, refused: true },
    { kind: 'gzip-not-gzip', body: Buffer.from(good), headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, refused: true },
  ];
  const roll = rng.int(100);
  return roll < 55 ? (variants[0] as BodyCase) : rng.pick(variants.slice(1));
}

const PATHS = ['/evict', '/expiry-warning', '/deadline'] as const;

export async function nextEvictionCase(rng: Random, kit: TokenKit, nowSeconds: number): Promise<EvictionCase> {
  const token = await tokenCase(rng, kit, nowSeconds);
  const body = bodyCase(rng);
  const path = token.live ? rng.pick(PATHS.slice(1)) : rng.pick(PATHS);
  const headers = { ...body.headers, ...(token.authorization === undefined ? {} : { authorization: token.authorization }) };
  return { kind: `${path} ${token.kind} ${body.kind}`, path, headers, body: body.body, expect: body.refused ? ['BadRequest'] : token.expect };
}
