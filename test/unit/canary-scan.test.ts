import { test } from 'node:test';
import assert from 'node:assert/strict';
import { occurrences } from '../e2e/canary.ts';

test('occurrences: byte offsets of every occurrence, overlapping ones included, none for an empty needle', () => {
  const cases: [text: string, needle: string, offsets: number[]][] = [
    ['', 'vc', []],
    ['no match here', 'vc-canary', []],
    ['vc-canary', 'vc-canary', [0]],
    ['a vc-canary and vc-canary', 'vc-canary', [2, 16]],
    ['aaa', 'aa', [0, 1]],
    // Offsets count bytes, as a log file's reader would seek: "é" is two.
    ['é vc', 'vc', [3]],
    ['anything', '', []],
  ];
  for (const [text, needle, offsets] of cases) assert.deepEqual(occurrences(text, needle), offsets, JSON.stringify([text, needle]));
});
