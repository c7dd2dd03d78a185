import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vaultError } from './vault-http.ts';

test("vaultError: Vault's own error text, the method and path, never a request body", () => {
  const rows: [unknown, string][] = [
    [{ errors: ['permission denied'] }, 'Vault answered 403 to POST auth/kubernetes/login: permission denied'],
    [{ errors: ['a', 'b'] }, 'Vault answered 403 to POST auth/kubernetes/login: a; b'],
    [undefined, 'Vault answered 403 to POST auth/kubernetes/login: no error text'],
    [{ errors: [] }, 'Vault answered 403 to POST auth/kubernetes/login: no error text'],
  ];
  for (const [body, message] of rows) {
    const err = vaultError('POST', 'auth/kubernetes/login', 403, body);
    assert.equal(err.message, message);
    assert.equal((err as unknown as { status: number }).status, 403);
  }
});
