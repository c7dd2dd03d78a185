import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventName } from './cluster.ts';

const POD = { namespace: 'shop', name: 'api-7d9f-abcde', uid: '0b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b', serviceAccount: 'api' };

test('eventName: one stable name per pod and reason, so repeats count on one Event', () => {
  assert.equal(eventName(POD, 'EvictionBlocked'), eventName(POD, 'EvictionBlocked'));
  assert.match(eventName(POD, 'EvictionBlocked'), /^api-7d9f-abcde\.[0-9a-f]{16}$/);
  assert.notEqual(eventName(POD, 'EvictionBlocked'), eventName(POD, 'EvictionRequested'));
  assert.notEqual(eventName(POD, 'EvictionBlocked'), eventName({ ...POD, uid: '1b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b' }, 'EvictionBlocked'), 'a successor with the same name gets its own Event');
});

test('eventName stays a valid object name for the longest pod names', () => {
  const name = eventName({ ...POD, name: 'a'.repeat(253) }, 'EvictionBlocked');
  assert.equal(name.length, 253);
  assert.match(name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
});
