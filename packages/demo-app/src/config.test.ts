import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCourierError } from '@vault-courier/core';
import { parseCredentials, parseDemoConfig } from './config.ts';

const CANARY = 'canary-pw-5d1e-never-in-an-error';

test('parseDemoConfig: defaults, and every problem at once naming the variable', () => {
  assert.deepEqual(parseDemoConfig({ DEMO_DB_HOST: 'db' }), { credentialsFile: '/vault/secrets/db', host: 'db', port: 5432, database: 'postgres', queryIntervalMs: 5000 });
  assert.deepEqual(parseDemoConfig({ DEMO_DB_HOST: 'db', DEMO_SECRETS_DIR: '/s', DEMO_SECRET_NAME: 'pg', DEMO_DB_PORT: '6543', DEMO_DB_NAME: 'shop' }).credentialsFile, '/s/pg');
  assert.throws(
    () => parseDemoConfig({ DEMO_SECRETS_DIR: 'relative', DEMO_DB_PORT: 'x', DEMO_QUERY_INTERVAL_MS: '-1' }),
    (err: unknown) =>
      isCourierError(err, 'config') &&
      ['DEMO_SECRETS_DIR', 'DEMO_DB_HOST', 'DEMO_DB_PORT', 'DEMO_QUERY_INTERVAL_MS'].every((v) => err.message.includes(v)),
  );
});

test('parseCredentials: reads username and password; errors name the file and the field, never the value', () => {
  assert.deepEqual(parseCredentials(JSON.stringify({ username: 'v-app-1', password: CANARY }), '/s/db'), { username: 'v-app-1', password: CANARY });
  const bad: [string, RegExp][] = [
    [`password=${CANARY}`, /\/s\/db is not JSON: deliver the secret with vault-courier.io\/format-<name>: json/],
    [JSON.stringify({ user: 'x', password: CANARY }), /\/s\/db has no username field/],
    [JSON.stringify({ username: 'x', pass: CANARY }), /\/s\/db has no password field/],
  ];
  for (const [text, message] of bad) {
    assert.throws(
      () => parseCredentials(text, '/s/db'),
      (err: unknown) => isCourierError(err, 'config') && message.test(err.message) && !err.message.includes(CANARY),
    );
  }
});
