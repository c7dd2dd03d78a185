/** The load generator's two decisions (test/e2e/create-load.ts): a latency quantile, and which failure a client may retry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWebhookCallFailure, quantile } from '../e2e/create-load.ts';

test('quantile: nearest rank over ascending values', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  const rows: [readonly number[], number, number][] = [
    [hundred, 0.5, 50],
    [hundred, 0.99, 99],
    [hundred, 1, 100],
    [hundred, 0, 1],
    [[7], 0.99, 7],
    [[1, 2], 0.5, 1],
  ];
  for (const [values, q, expected] of rows) assert.equal(quantile(values, q), expected, `q=${q} of ${values.length}`);
  assert.ok(Number.isNaN(quantile([], 0.5)), 'no values, no quantile');
});

test("isWebhookCallFailure: only the API server's 500 for a webhook it could not call", () => {
  const refused = 'Internal error occurred: failed calling webhook "inject.vault-courier.io": failed to call webhook: Post "https://vault-courier.vault-courier.svc:443/mutate?timeout=5s": EOF';
  const rows: [number, string, boolean][] = [
    [500, refused, true],
    // The webhook answered and refused the pod: a retry would be refused again.
    [400, 'admission webhook "inject.vault-courier.io" denied the request: vault-courier.io/role: required', false],
    [500, 'Internal error occurred: etcdserver: request timed out', false],
    [0, 'client: socket hang up', false],
  ];
  for (const [status, message, expected] of rows) assert.equal(isWebhookCallFailure(status, message), expected, `${status} ${message}`);
});
