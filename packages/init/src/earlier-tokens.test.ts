import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTokenList, planRevocations, serializeTokenList, type EarlierTokens, type RevocationPlan } from './earlier-tokens.ts';

const NEW = 'hvs.this-run';

// What the state volume can hold when init starts, and what this run does with each token.
const PLANS: ReadonlyArray<{ name: string; earlier: EarlierTokens; plan: RevocationPlan }> = [
  { name: 'a fresh pod: nothing to revoke', earlier: { delivered: undefined, undelivered: [] }, plan: { now: [], afterDelivery: undefined, undeliveredAfterLogin: [NEW] } },
  {
    name: 'a complete earlier run: its token once the new secrets replace its own',
    earlier: { delivered: 'hvs.complete', undelivered: [] },
    plan: { now: [], afterDelivery: 'hvs.complete', undeliveredAfterLogin: [NEW] },
  },
  {
    name: 'a run killed between login and delivery in a fresh pod (token only): at once',
    earlier: { delivered: undefined, undelivered: ['hvs.killed'] },
    plan: { now: ['hvs.killed'], afterDelivery: undefined, undeliveredAfterLogin: ['hvs.killed', NEW] },
  },
  {
    name: 'a complete run, then one killed before delivering: the killed one at once, the complete one after delivery',
    earlier: { delivered: 'hvs.complete', undelivered: ['hvs.killed'] },
    plan: { now: ['hvs.killed'], afterDelivery: 'hvs.complete', undeliveredAfterLogin: ['hvs.killed', NEW] },
  },
  {
    name: 'killed after its final commit, before clearing its record: still the delivered token',
    earlier: { delivered: 'hvs.complete', undelivered: ['hvs.complete'] },
    plan: { now: [], afterDelivery: 'hvs.complete', undeliveredAfterLogin: [NEW] },
  },
  {
    name: 'two kills in a row, one token listed twice: each revoked once',
    earlier: { delivered: undefined, undelivered: ['hvs.killed-1', 'hvs.killed-2', 'hvs.killed-1'] },
    plan: { now: ['hvs.killed-1', 'hvs.killed-2'], afterDelivery: undefined, undeliveredAfterLogin: ['hvs.killed-1', 'hvs.killed-2', NEW] },
  },
  {
    name: 'Vault handed out the same token again: never revoke the one in use',
    earlier: { delivered: NEW, undelivered: [NEW] },
    plan: { now: [], afterDelivery: undefined, undeliveredAfterLogin: [NEW] },
  },
];

for (const row of PLANS) {
  test(`revocations, ${row.name}`, () => {
    assert.deepEqual(planRevocations(row.earlier, NEW), row.plan);
  });
}

const LISTS: ReadonlyArray<{ name: string; text: string; tokens: string[] }> = [
  { name: 'empty', text: '', tokens: [] },
  { name: 'one with a newline', text: 'hvs.a\n', tokens: ['hvs.a'] },
  { name: 'two, blank lines and stray spaces', text: 'hvs.a\n\n  hvs.b \n', tokens: ['hvs.a', 'hvs.b'] },
];

for (const row of LISTS) {
  test(`token list, ${row.name}`, () => {
    assert.deepEqual(parseTokenList(row.text), row.tokens);
    assert.deepEqual(parseTokenList(serializeTokenList(row.tokens)), row.tokens);
  });
}
