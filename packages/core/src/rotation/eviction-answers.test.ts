import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVICTION_ANSWERS, parseRetryAfter, sidecarStep, type ReceivedAnswer, type SidecarStep } from './eviction-answers.ts';

const rows: { name: string; answer: ReceivedAnswer; step: SidecarStep }[] = [
  { name: 'accepted', answer: { status: 201, reason: 'Evicted', retryAfterSeconds: undefined }, step: { action: 'accepted', reason: 'Evicted' } },
  { name: 'pod gone (the webhook read the pod)', answer: { status: 410, reason: 'PodGone', retryAfterSeconds: undefined }, step: { action: 'gone', reason: 'PodGone' } },
  { name: 'PDB-conflict 409, same uid: a retry, never gone', answer: { status: 409, reason: 'EvictionConflict', retryAfterSeconds: undefined }, step: { action: 'retry', reason: 'EvictionConflict' } },
  { name: 'a bare 404 from a foreign server (wrong VAULT_COURIER_SERVICE_URL)', answer: { status: 404, reason: undefined, retryAfterSeconds: undefined }, step: { action: 'unknown', reason: undefined } },
  { name: 'a Kubernetes NotFound Status (not ours)', answer: { status: 404, reason: 'NotFound', retryAfterSeconds: undefined }, step: { action: 'unknown', reason: undefined } },
  { name: 'a 409 Conflict Status without our reason', answer: { status: 409, reason: 'Conflict', retryAfterSeconds: undefined }, step: { action: 'unknown', reason: undefined } },
  { name: 'our reason with another code (a proxy rewrote it)', answer: { status: 404, reason: 'PodGone', retryAfterSeconds: undefined }, step: { action: 'unknown', reason: undefined } },
  { name: 'a prototype key is no reason', answer: { status: 410, reason: 'toString', retryAfterSeconds: undefined }, step: { action: 'unknown', reason: undefined } },
  { name: "the webhook's rate limit: Retry-After honoured", answer: { status: 429, reason: 'RateLimited', retryAfterSeconds: 7 }, step: { action: 'retry-after', reason: 'RateLimited', delayMs: 7000 } },
  { name: 'rate limit without Retry-After: the refill interval', answer: { status: 429, reason: 'RateLimited', retryAfterSeconds: undefined }, step: { action: 'retry-after', reason: 'RateLimited', delayMs: 5000 } },
  { name: 'rate limit with an absurd Retry-After: capped at a minute', answer: { status: 429, reason: 'RateLimited', retryAfterSeconds: 86_400 }, step: { action: 'retry-after', reason: 'RateLimited', delayMs: 60_000 } },
  { name: 'a PDB 429: backoff, apart from the rate limit', answer: { status: 429, reason: 'DisruptionBudget', retryAfterSeconds: 10 }, step: { action: 'retry', reason: 'DisruptionBudget' } },
  { name: 'a bare 429 from a foreign proxy', answer: { status: 429, reason: undefined, retryAfterSeconds: 1 }, step: { action: 'unknown', reason: undefined } },
  { name: 'Vault down', answer: { status: 503, reason: 'VaultUnavailable', retryAfterSeconds: undefined }, step: { action: 'retry', reason: 'VaultUnavailable' } },
  { name: 'not injected: refused', answer: { status: 403, reason: 'NotInjected', retryAfterSeconds: undefined }, step: { action: 'refused', reason: 'NotInjected' } },
  { name: 'RBAC missing: refused', answer: { status: 502, reason: 'EvictionRefused', retryAfterSeconds: undefined }, step: { action: 'refused', reason: 'EvictionRefused' } },
  { name: 'a 502 from a foreign gateway', answer: { status: 502, reason: undefined, retryAfterSeconds: undefined }, step: { action: 'unknown', reason: undefined } },
];

for (const row of rows) {
  test(`sidecarStep: ${row.name}`, () => {
    assert.deepEqual(sidecarStep(row.answer), row.step);
  });
}

test('every reason maps to its own action with its own code', () => {
  for (const [reason, spec] of Object.entries(EVICTION_ANSWERS)) {
    const step = sidecarStep({ status: spec.code, reason, retryAfterSeconds: 1 });
    assert.equal(step.action, spec.action, reason);
  }
});

test('parseRetryAfter: delta-seconds only', () => {
  const rows: [string | undefined, number | undefined][] = [
    ['3', 3],
    [' 12 ', 12],
    ['0', 0],
    [undefined, undefined],
    ['', undefined],
    ['-1', undefined],
    ['1.5', undefined],
    ['Wed, 21 Oct 2026 07:28:00 GMT', undefined],
  ];
  for (const [header, seconds] of rows) assert.equal(parseRetryAfter(header), seconds, String(header));
});
