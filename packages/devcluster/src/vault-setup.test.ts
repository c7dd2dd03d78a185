import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vaultSetupPlan, type VaultMountEntry } from './vault-setup.ts';

type Table = Record<string, VaultMountEntry>;
const devAuths: Table = { 'token/': { type: 'token' } };
const devMounts: Table = { 'secret/': { type: 'kv', options: { version: '2' } }, 'sys/': { type: 'system' }, 'cubbyhole/': { type: 'cubbyhole' } };
const done = { auths: { ...devAuths, 'kubernetes/': { type: 'kubernetes' } }, mounts: { ...devMounts, 'database/': { type: 'database' } } };

for (const [why, auths, mounts, withDatabase, expected] of [
  ['a fresh dev server: kubernetes auth and the database engine; its own secret/ kept', devAuths, devMounts, true, ['enable-kubernetes-auth', 'mount-database']],
  ['a fresh dev server without PostgreSQL', devAuths, devMounts, false, ['enable-kubernetes-auth']],
  ['a Vault without secret/ (not dev mode): KV v2 mounted', devAuths, { 'sys/': { type: 'system' } }, true, ['enable-kubernetes-auth', 'mount-kv-v2', 'mount-database']],
  ['already set up (a second run): nothing to mount', done.auths, done.mounts, true, []],
] as const) {
  test(`vaultSetupPlan: ${why}`, () => assert.deepEqual(vaultSetupPlan(auths, mounts, withDatabase), expected));
}

for (const [why, auths, mounts, error] of [
  ['secret/ is KV v1', devAuths, { 'secret/': { type: 'kv', options: { version: '1' } } }, /Vault's secret\/ is kv v1, not kv v2/],
  ['kubernetes/ is another auth method', { 'kubernetes/': { type: 'jwt' } }, devMounts, /Vault's kubernetes\/ is jwt, not kubernetes/],
  ['database/ is taken by something else', devAuths, { ...devMounts, 'database/': { type: 'kv', options: { version: '2' } } }, /Vault's database\/ is kv v2, not database/],
] as const) {
  test(`vaultSetupPlan: ${why} is refused, naming the path`, () => assert.throws(() => vaultSetupPlan(auths, mounts, true), error));
}
