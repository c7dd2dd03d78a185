import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseForwardedPort } from './kind.ts';

for (const [line, expected] of [
  ['Forwarding from 127.0.0.1:41235 -> 8200', 41235],
  ['Forwarding from 127.0.0.1:5433 -> 5432\n', 5433],
  ['Forwarding from [::1]:41235 -> 8200', undefined],
  ['Handling connection for 41235', undefined],
  ['', undefined],
] as const) {
  test(`parseForwardedPort: ${JSON.stringify(line)}`, () => assert.equal(parseForwardedPort(line), expected));
}
