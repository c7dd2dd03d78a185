import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCourierError, type SecretSpec } from '@vault-courier/core';
import { parseLoginResponse, parseSecretResponse } from './vault-responses.ts';

const CANARY = 'canary-responses-0d9e';
const T = 1_700_000_000_000;
const spec = (path: string): SecretSpec => ({ name: 'app', path, format: { kind: 'json' } });

test('login: token and its lease', () => {
  const r = parseLoginResponse({ auth: { client_token: 'hvs.x', accessor: 'acc', lease_duration: 3600, renewable: true, policies: ['p'] } }, T);
  assert.deepEqual(r, { token: 'hvs.x', lease: { accessor: 'acc', ttlSeconds: 3600, renewable: true, issuedAtMs: T } });
});

test('login: an answer without a token is refused, naming the role annotation', () => {
  assert.throws(() => parseLoginResponse({ auth: null, warnings: ['x'] }, T), (e: unknown) => isCourierError(e, 'vault') && e.message.startsWith('vault-courier.io/role:'));
});

const READS: ReadonlyArray<{ name: string; path: string; body: unknown; data: unknown; lease: { leaseId: string; leaseDurationSeconds: number; renewable: boolean } }> = [
  {
    name: 'KV v2: the inner data, no lease',
    path: 'secret/data/app',
    body: { lease_id: '', lease_duration: 0, renewable: false, data: { data: { user: 'u', password: CANARY }, metadata: { version: 3, created_time: 'x', deletion_time: '', destroyed: false } } },
    data: { user: 'u', password: CANARY },
    lease: { leaseId: '', leaseDurationSeconds: 0, renewable: false },
  },
  {
    name: 'KV v1: the data itself; its lease_duration is a refresh hint, not an expiry',
    path: 'kv/app',
    body: { lease_id: '', lease_duration: 2764800, renewable: false, data: { user: 'u' } },
    data: { user: 'u' },
    lease: { leaseId: '', leaseDurationSeconds: 0, renewable: false },
  },
  {
    name: 'KV v1 secret whose keys happen to be data and metadata without a version',
    path: 'kv/odd',
    body: { lease_id: '', data: { data: 'a', metadata: { owner: 'me' } } },
    data: { data: 'a', metadata: { owner: 'me' } },
    lease: { leaseId: '', leaseDurationSeconds: 0, renewable: false },
  },
  {
    name: 'database credentials: data and a renewable lease',
    path: 'database/creds/app',
    body: { lease_id: 'database/creds/app/abc', lease_duration: 300, renewable: true, data: { username: 'v-app', password: CANARY } },
    data: { username: 'v-app', password: CANARY },
    lease: { leaseId: 'database/creds/app/abc', leaseDurationSeconds: 300, renewable: true },
  },
];

for (const row of READS) {
  test(`read: ${row.name}`, () => {
    const r = parseSecretResponse(spec(row.path), row.body, T);
    assert.deepEqual(r.data, row.data);
    assert.deepEqual(r.lease, { name: 'app', path: row.path, issuedAtMs: T, ...row.lease });
  });
}

const BAD_READS: ReadonlyArray<{ name: string; body: unknown; mentions: string }> = [
  { name: 'no data object', body: { lease_id: '', data: null }, mentions: 'no data object' },
  { name: 'data is an array', body: { data: [CANARY] }, mentions: 'no data object' },
  { name: 'KV v2 deleted version', body: { data: { data: null, metadata: { version: 2, deletion_time: 'x' } } }, mentions: 'deleted or destroyed' },
];

for (const row of BAD_READS) {
  test(`read refuses ${row.name}, naming the annotation and path`, () => {
    assert.throws(
      () => parseSecretResponse(spec('secret/data/app'), row.body, T),
      (e: unknown) => {
        assert.ok(isCourierError(e, 'vault'));
        assert.ok(e.message.startsWith('vault-courier.io/secret-app: '), e.message);
        assert.ok(e.message.includes('secret/data/app') && e.message.includes(row.mentions), e.message);
        assert.ok(!e.message.includes(CANARY));
        return true;
      },
    );
  });
}
