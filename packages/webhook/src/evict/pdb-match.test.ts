import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1LabelSelector, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { matchingPdbNames, selectorMatches } from './pdb-match.ts';

const LABELS = { app: 'api', tier: 'backend' };

const rows: { name: string; selector: V1LabelSelector | undefined; want: boolean }[] = [
  { name: 'missing selector matches nothing', selector: undefined, want: false },
  { name: 'empty selector matches everything', selector: {}, want: true },
  { name: 'matchLabels equal', selector: { matchLabels: { app: 'api' } }, want: true },
  { name: 'matchLabels differ', selector: { matchLabels: { app: 'web' } }, want: false },
  { name: 'matchLabels key absent', selector: { matchLabels: { zone: 'a' } }, want: false },
  { name: 'In', selector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend', 'db'] }] }, want: true },
  { name: 'In, not listed', selector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }] }, want: false },
  { name: 'NotIn, listed', selector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['backend'] }] }, want: false },
  { name: 'NotIn, key absent', selector: { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, want: true },
  { name: 'Exists', selector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, want: true },
  { name: 'DoesNotExist', selector: { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, want: false },
  { name: 'unknown operator', selector: { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, want: false },
  { name: 'labels AND expressions', selector: { matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }] }, want: false },
];

for (const row of rows) {
  test(`selectorMatches: ${row.name}`, () => assert.equal(selectorMatches(row.selector, LABELS), row.want));
}

test('matchingPdbNames lists the covering budgets by name', () => {
  const pdb = (name: string, selector?: V1LabelSelector): V1PodDisruptionBudget => ({ metadata: { name }, spec: { selector } });
  const pdbs = [pdb('z-all', {}), pdb('api', { matchLabels: { app: 'api' } }), pdb('web', { matchLabels: { app: 'web' } }), pdb('none')];
  assert.deepEqual(matchingPdbNames(pdbs, LABELS), ['api', 'z-all']);
});
