import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podIdentityFromClaims } from './eviction-identity.ts';

const UID = '0b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b';

function claims(over: { sub?: unknown; k8s?: unknown } = {}): Record<string, unknown> {
  return {
    iss: 'https://kubernetes.default.svc',
    aud: ['vault-courier'],
    sub: 'sub' in over ? over.sub : 'system:serviceaccount:shop:api',
    'kubernetes.io':
      'k8s' in over
        ? over.k8s
        : { namespace: 'shop', pod: { name: 'api-7d9f-abcde', uid: UID }, serviceaccount: { name: 'api', uid: '11111111-2222-4333-8444-555555555555' } },
  };
}

const rejected: { name: string; claims: Record<string, unknown>; reason: RegExp }[] = [
  { name: 'no kubernetes.io claim', claims: claims({ k8s: undefined }), reason: /no kubernetes\.io claim/ },
  { name: 'a token not bound to a pod', claims: claims({ k8s: { namespace: 'shop', serviceaccount: { name: 'api' } } }), reason: /not bound to a pod/ },
  { name: 'a pod without uid', claims: claims({ k8s: { namespace: 'shop', pod: { name: 'p' }, serviceaccount: { name: 'api' } } }), reason: /not bound to a pod/ },
  { name: 'a pod name that is not a string', claims: claims({ k8s: { namespace: 'shop', pod: { name: 7, uid: UID }, serviceaccount: { name: 'api' } } }), reason: /not bound to a pod/ },
  { name: 'no namespace', claims: claims({ k8s: { pod: { name: 'p', uid: UID }, serviceaccount: { name: 'api' } } }), reason: /no namespace/ },
  { name: 'a malformed uid', claims: claims({ k8s: { namespace: 'shop', pod: { name: 'p', uid: 'not-a-uid' }, serviceaccount: { name: 'api' } } }), reason: /malformed/ },
  { name: 'a name with a slash', claims: claims({ k8s: { namespace: 'shop', pod: { name: 'a/b', uid: UID }, serviceaccount: { name: 'api' } } }), reason: /malformed/ },
  { name: 'a subject from another namespace', claims: claims({ sub: 'system:serviceaccount:other:api' }), reason: /subject does not match/ },
  { name: 'no subject', claims: claims({ sub: undefined }), reason: /subject does not match/ },
];

for (const row of rejected) {
  test(`podIdentityFromClaims refuses ${row.name}`, () => {
    const r = podIdentityFromClaims(row.claims);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, row.reason);
  });
}

test('podIdentityFromClaims reads the pod the token is bound to', () => {
  assert.deepEqual(podIdentityFromClaims(claims()), { ok: true, pod: { namespace: 'shop', name: 'api-7d9f-abcde', uid: UID, serviceAccount: 'api' } });
});
