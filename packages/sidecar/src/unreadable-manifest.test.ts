import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MANIFEST_VERSION, serializeManifest } from '@vault-courier/core';
import { decideStart, type ManifestRead } from './unreadable-manifest.ts';

const FILE = '/vault-courier/state/leases.json';
const CANARY = 'canary-written-over-the-manifest';
const GOOD = serializeManifest({ version: MANIFEST_VERSION, token: { accessor: 'a', ttlSeconds: 60, renewable: true, issuedAtMs: 1 }, secrets: [] });
const EVICT = { mode: 'evict', why: 'owned by a ReplicaSet' } as const;
const WARN = { mode: 'warn', why: 'no controller recreates it' } as const;

const ROWS: ReadonlyArray<{ name: string; read: ManifestRead; mode: typeof EVICT | typeof WARN; expect: 'run' | '/evict' | '/expiry-warning'; problem?: RegExp }> = [
  { name: 'a readable manifest: the sidecar runs', read: { text: GOOD }, mode: EVICT, expect: 'run' },
  { name: 'garbage over the manifest: evict now', read: { text: `${CANARY}\n` }, mode: EVICT, expect: '/evict', problem: /^\/vault-courier\/state\/leases\.json: lease manifest is not valid JSON \(33 characters\)/ },
  { name: 'a manifest cut short: evict now', read: { text: '{"version":1,' }, mode: EVICT, expect: '/evict', problem: /not valid JSON/ },
  { name: 'valid JSON of the wrong shape: evict now, naming the field', read: { text: '{"version":1,"token":{"accessor":"a"},"secrets":[]}' }, mode: EVICT, expect: '/evict', problem: /leases\.json: lease manifest: token\.ttlSeconds must be a number >= 0/ },
  { name: 'another version: evict now', read: { text: '{"version":7}' }, mode: EVICT, expect: '/evict', problem: /version 7 is not supported/ },
  { name: 'the file is missing: evict now', read: { errorCode: 'ENOENT' }, mode: EVICT, expect: '/evict', problem: /leases\.json is missing: the init container writes it/ },
  { name: 'the file cannot be read: evict now, naming the error', read: { errorCode: 'EACCES' }, mode: EVICT, expect: '/evict', problem: /leases\.json cannot be read \(EACCES\)/ },
  { name: 'garbage in a pod nothing recreates: warn now', read: { text: CANARY }, mode: WARN, expect: '/expiry-warning', problem: /not valid JSON/ },
];

for (const row of ROWS) {
  test(`start decision: ${row.name}`, () => {
    const decision = decideStart(FILE, row.read, row.mode);
    if (row.expect === 'run') {
      assert.equal(decision.action, 'run');
      return;
    }
    assert.equal(decision.action, 'rotate-now');
    assert.equal(decision.endpoint, row.expect);
    assert.match(decision.problem, row.problem ?? /./);
    assert.ok(!decision.problem.includes(CANARY), 'the problem never quotes the file');
  });
}
