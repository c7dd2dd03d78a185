import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyVaultFailure, type VaultFailure, type VaultOperation } from './vault-errors.ts';

const ADDR = 'https://vault:8200';
const LOGIN: VaultOperation = { kind: 'login', authPath: 'auth/kubernetes', role: 'web' };
const READ: VaultOperation = { kind: 'read', name: 'db', path: 'database/creds/web' };

const ROWS: ReadonlyArray<{ name: string; failure: VaultFailure; op: VaultOperation; retryable: boolean; starts: string; mentions: readonly string[] }> = [
  { name: 'connection refused at login', failure: { vaultErrors: [], code: 'ECONNREFUSED' }, op: LOGIN, retryable: true, starts: 'Vault at https://vault:8200 is unreachable (ECONNREFUSED)', mentions: ['logging in at auth/kubernetes as role "web"'] },
  { name: 'timeout on a read', failure: { vaultErrors: [], code: 'ECONNABORTED' }, op: READ, retryable: true, starts: 'Vault at', mentions: ['ECONNABORTED', 'vault-courier.io/secret-db', 'database/creds/web'] },
  { name: 'DNS not resolving yet', failure: { vaultErrors: [], code: 'EAI_AGAIN' }, op: LOGIN, retryable: true, starts: 'Vault at', mentions: ['EAI_AGAIN'] },
  { name: 'sealed', failure: { status: 503, vaultErrors: ['Vault is sealed'] }, op: LOGIN, retryable: true, starts: 'Vault at https://vault:8200 is sealed (503)', mentions: ['unseal'] },
  { name: 'database down: 500 from the database engine', failure: { status: 500, vaultErrors: ['1 error occurred: * failed to verify connection: dial tcp 127.0.0.1:5432: connect: connection refused'] }, op: READ, retryable: true, starts: 'Vault at https://vault:8200 answered 500: 1 error occurred', mentions: ['5432', 'vault-courier.io/secret-db'] },
  { name: 'standby 429', failure: { status: 429, vaultErrors: [] }, op: READ, retryable: true, starts: 'Vault at https://vault:8200 answered HTTP 429', mentions: [] },
  { name: 'unknown role', failure: { status: 400, vaultErrors: ['invalid role name "web"'] }, op: LOGIN, retryable: false, starts: 'vault-courier.io/role: Vault has no role "web" at auth/kubernetes', mentions: ['400: invalid role name'] },
  { name: 'service account not bound', failure: { status: 403, vaultErrors: ['permission denied'] }, op: LOGIN, retryable: false, starts: 'vault-courier.io/role: Vault refused the login as role "web"', mentions: ['service account', '403: permission denied'] },
  { name: 'auth method not mounted', failure: { status: 400, vaultErrors: ['no handler for route "auth/kubernetes/login". route entry not found.'] }, op: LOGIN, retryable: false, starts: 'VAULT_COURIER_AUTH_PATH: Vault has no auth method at auth/kubernetes', mentions: [] },
  { name: 'read denied', failure: { status: 403, vaultErrors: ['1 error occurred: * permission denied'] }, op: READ, retryable: false, starts: 'vault-courier.io/secret-db: permission denied reading database/creds/web', mentions: ['policy'] },
  { name: 'unknown path', failure: { status: 404, vaultErrors: [] }, op: READ, retryable: false, starts: 'vault-courier.io/secret-db: nothing at database/creds/web (HTTP 404)', mentions: ['/data/'] },
  { name: 'unknown database role', failure: { status: 400, vaultErrors: ['unknown role: web'] }, op: READ, retryable: false, starts: 'vault-courier.io/secret-db: Vault refused database/creds/web (400: unknown role: web)', mentions: [] },
  { name: 'untrusted certificate', failure: { vaultErrors: [], code: 'SELF_SIGNED_CERT_IN_CHAIN' }, op: LOGIN, retryable: false, starts: 'TLS verification of Vault at https://vault:8200 failed (SELF_SIGNED_CERT_IN_CHAIN)', mentions: ['VAULT_COURIER_VAULT_CACERT'] },
  { name: 'wrong host name in the certificate', failure: { vaultErrors: [], code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, op: READ, retryable: false, starts: 'TLS verification', mentions: [] },
  { name: 'no code, no status', failure: { vaultErrors: [] }, op: { kind: 'revoke' }, retryable: false, starts: 'Vault at https://vault:8200 failed while revoking the Vault token (unknown error)', mentions: [] },
];

for (const row of ROWS) {
  test(`classifyVaultFailure: ${row.name} -> ${row.retryable ? 'retry' : 'fail at once'}`, () => {
    const err = classifyVaultFailure(row.failure, row.op, ADDR);
    assert.equal(err.kind, 'vault');
    assert.equal(err.retryable, row.retryable);
    assert.ok(err.message.startsWith(row.starts), err.message);
    for (const m of row.mentions) assert.ok(err.message.includes(m), `${err.message} should mention ${m}`);
    assert.ok(!err.message.includes('\n'), 'one line');
  });
}
