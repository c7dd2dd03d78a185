import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vaultClient } from './vault.ts';

test('vaultClient ignores VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE and VAULT_PREFIX', () => {
  const saved = { ...process.env };
  Object.assign(process.env, { VAULT_ADDR: 'http://evil:8200', VAULT_TOKEN: 'env-token', VAULT_NAMESPACE: 'ns', VAULT_PREFIX: '/x' });
  try {
    const client = vaultClient('http://127.0.0.1:8200', '') as unknown as Record<string, unknown>;
    assert.equal(client.endpoint, 'http://127.0.0.1:8200');
    // '' is "none" to node-vault: it sends a token or namespace header only when non-empty.
    assert.equal(client.token, '');
    assert.equal(client.namespace, '');
    assert.equal(client.pathPrefix, '');
    assert.equal((vaultClient('http://127.0.0.1:8200', 'root') as unknown as Record<string, unknown>).token, 'root');
  } finally {
    for (const key of ['VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_NAMESPACE', 'VAULT_PREFIX']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
});
