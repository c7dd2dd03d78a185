import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1LabelSelector } from '@kubernetes/client-node';
import { selectorMatches } from './label-selector.ts';

const labels = { app: 'demo-app', tier: 'web' };
const rows: { name: string; selector: V1LabelSelector | undefined; absent?: 'nothing' | 'everything'; labels?: Record<string, string>; want: boolean }[] = [
  { name: 'absent selects nothing (a PDB without selector)', selector: undefined, want: false },
  { name: 'absent selects everything where asked (a webhook without namespaceSelector)', selector: undefined, absent: 'everything', want: true },
  { name: 'empty selects everything', selector: {}, want: true },
  { name: 'matchLabels, all equal', selector: { matchLabels: { app: 'demo-app' } }, want: true },
  { name: 'matchLabels, one differs', selector: { matchLabels: { app: 'demo-app', tier: 'db' } }, want: false },
  { name: 'matchLabels, a missing key', selector: { matchLabels: { zone: 'a' } }, want: false },
  { name: 'In', selector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] }, want: true },
  { name: 'In, key missing', selector: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, want: false },
  { name: 'NotIn, key missing holds', selector: { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, want: true },
  { name: 'NotIn, value listed', selector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, want: false },
  { name: 'Exists', selector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, want: true },
  { name: 'DoesNotExist', selector: { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, want: false },
  { name: 'an unknown operator selects nothing', selector: { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, want: false },
  { name: 'a label whose value is empty still exists', selector: { matchExpressions: [{ key: 'x', operator: 'Exists' }] }, labels: { x: '' }, want: true },
  { name: 'a prototype key is no label', selector: { matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, want: false },
];

for (const row of rows) {
  test(`selectorMatches: ${row.name}`, () => assert.equal(selectorMatches(row.selector, row.labels ?? labels, row.absent), row.want));
}
