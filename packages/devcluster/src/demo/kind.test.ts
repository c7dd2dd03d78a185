import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeSidecarsProblem, parseForwardedPort } from './kind.ts';

for (const [line, expected] of [
  ['Forwarding from 127.0.0.1:41235 -> 8200', 41235],
  ['Forwarding from 127.0.0.1:5433 -> 5432\n', 5433],
  ['Forwarding from [::1]:41235 -> 8200', undefined],
  ['Handling connection for 41235', undefined],
  ['', undefined],
] as const) {
  test(`parseForwardedPort: ${JSON.stringify(line)}`, () => assert.equal(parseForwardedPort(line), expected));
}

for (const [major, minor, ok] of [
  ['1', '30', true],
  ['1', '29+', true],
  ['1', '33', true],
  ['1', '28', false],
  ['1', '', false],
] as const) {
  test(`nativeSidecarsProblem: Kubernetes ${major}.${minor} is ${ok ? 'fine' : 'refused, naming the fix'}`, () => {
    const problem = nativeSidecarsProblem(major, minor);
    if (ok) assert.equal(problem, undefined);
    else assert.match(problem ?? '', /native sidecar, on by default from 1\.29: update kind/);
  });
}
