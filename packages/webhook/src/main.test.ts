/** The process itself: configuration errors stop it naming the variable; SIGTERM drains and exits 0. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '@vault-courier/devcluster';
import { createTestPki, httpsPost } from '../../../test/helpers/webhook-tls.ts';

const MAIN = path.join(import.meta.dirname, 'main.ts');

test('an invalid configuration stops the process at start, naming every variable', () => {
  const result = spawnSync(process.execPath, [MAIN], { encoding: 'utf8', env: { PATH: process.env.PATH, VAULT_COURIER_LISTEN: 'nope', VAULT_COURIER_LOG_LEVEL: 'verbose' }, timeout: 30_000 });
  assert.equal(result.status, 1);
  for (const variable of ['VAULT_COURIER_LISTEN', 'VAULT_COURIER_LOG_LEVEL', 'VAULT_COURIER_TLS_CERT', 'VAULT_COURIER_VAULT_ADDR', 'VAULT_COURIER_SERVICE_URL']) {
    assert.match(result.stderr, new RegExp(`${variable}: `), `${variable} not named`);
  }
});

test('values the injected containers would refuse stop the webhook at start (not every pod in Init)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vault-courier-main-'));
  try {
    const notPem = path.join(dir, 'ca.txt');
    writeFileSync(notPem, 'not a certificate\n');
    const env = {
      PATH: process.env.PATH,
      VAULT_COURIER_TLS_CERT: '/nonexistent/tls.crt',
      VAULT_COURIER_TLS_KEY: '/nonexistent/tls.key',
      VAULT_COURIER_VAULT_ADDR: 'https://vault:8200',
      VAULT_COURIER_INIT_IMAGE: 'init:1',
      VAULT_COURIER_SIDECAR_IMAGE: 'sidecar:1',
      VAULT_COURIER_SERVICE_URL: 'https://vault-courier.vault-courier.svc',
    };
    const rows: [Record<string, string>, RegExp][] = [
      [{ VAULT_COURIER_AUTH_PATH: 'kubernetes' }, /VAULT_COURIER_AUTH_PATH: "kubernetes" is not an auth mount path/],
      [{ VAULT_COURIER_VAULT_ADDR: 'https://vault:8200?namespace=a' }, /VAULT_COURIER_VAULT_ADDR: must not carry a query/],
      [{ VAULT_COURIER_VAULT_CACERT: notPem }, /VAULT_COURIER_VAULT_CACERT: the file must be PEM text/],
    ];
    for (const [extra, pattern] of rows) {
      const result = spawnSync(process.execPath, [MAIN], { encoding: 'utf8', env: { ...env, ...extra }, timeout: 30_000 });
      assert.equal(result.status, 1, JSON.stringify(extra));
      assert.match(result.stderr, pattern);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM: readiness drops, reviews are still answered during the grace delay, then the process exits 0', { timeout: 60_000 }, async () => {
  const pki = await createTestPki();
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [MAIN], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      // In-cluster configuration is loaded at start but not used by admission.
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: '1',
      VAULT_COURIER_LISTEN: `127.0.0.1:${port}`,
      VAULT_COURIER_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
      VAULT_COURIER_TLS_CERT: pki.serving.certPath,
      VAULT_COURIER_TLS_KEY: pki.serving.keyPath,
      VAULT_COURIER_VAULT_ADDR: 'https://127.0.0.1:8200',
      VAULT_COURIER_INIT_IMAGE: 'init:1',
      VAULT_COURIER_SIDECAR_IMAGE: 'sidecar:1',
      VAULT_COURIER_SERVICE_URL: `https://127.0.0.1:${port}`,
    },
  });
  try {
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve) => lines.on('line', (line) => line.includes('webhook listening') && resolve()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status, 503);
    const during = await httpsPost(`https://127.0.0.1:${port}/mutate`, '{}', { ca: pki.ca.certPem });
    assert.equal(during.status, 400, 'a request during the grace delay must still be answered');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
    await pki.remove();
  }
});
