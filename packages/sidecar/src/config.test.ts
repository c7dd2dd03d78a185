import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INJECTED_ENV } from '@vault-courier/core/names';
import { isCourierError } from '@vault-courier/core/errors';
import { parseSidecarConfig, rotationMode } from './config.ts';

const ENV = {
  [INJECTED_ENV.stateDir]: '/vault-courier/state',
  [INJECTED_ENV.evictJwtPath]: '/vault-courier/token/vault-courier',
  [INJECTED_ENV.serviceUrl]: 'https://vault-courier.vault-courier.svc:443',
  [INJECTED_ENV.vaultAddr]: 'https://vault.vault.svc:8200/',
  [INJECTED_ENV.podName]: 'api-1',
  [INJECTED_ENV.podNamespace]: 'shop',
  [INJECTED_ENV.podUid]: '0b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b',
  [INJECTED_ENV.rotate]: 'true',
  [INJECTED_ENV.ownerKind]: 'ReplicaSet',
  [INJECTED_ENV.gracePeriodSeconds]: '30',
};

test('parses the injected environment', () => {
  const c = parseSidecarConfig(ENV);
  assert.equal(c.vaultAddr, 'https://vault.vault.svc:8200');
  assert.equal(c.serviceUrl.href, 'https://vault-courier.vault-courier.svc/');
  assert.equal(c.gracePeriodSeconds, 30);
  assert.equal(c.rotate, true);
  assert.equal(c.serviceCaPem, undefined);
  assert.equal(c.logLevel, 'info');
});

test('reports every problem at once, naming each variable', () => {
  const env = { ...ENV, [INJECTED_ENV.stateDir]: 'relative', [INJECTED_ENV.podUid]: '', [INJECTED_ENV.rotate]: 'maybe', [INJECTED_ENV.gracePeriodSeconds]: '-1', [INJECTED_ENV.serviceUrl]: 'ftp://x', VAULT_COURIER_LOG_LEVEL: 'verbose' };
  const err = (() => {
    try {
      parseSidecarConfig(env);
    } catch (e) {
      return e;
    }
    return assert.fail('expected a config error');
  })();
  assert.ok(isCourierError(err, 'config'));
  for (const name of [INJECTED_ENV.stateDir, INJECTED_ENV.podUid, INJECTED_ENV.rotate, INJECTED_ENV.gracePeriodSeconds, INJECTED_ENV.serviceUrl, 'VAULT_COURIER_LOG_LEVEL']) {
    assert.match(err.message, new RegExp(name), `${name} not named`);
  }
});

const modes: { rotate: boolean; ownerKind: string; want: string }[] = [
  { rotate: true, ownerKind: 'ReplicaSet', want: 'evict' },
  { rotate: true, ownerKind: 'StatefulSet', want: 'evict' },
  { rotate: false, ownerKind: 'ReplicaSet', want: 'warn: vault-courier.io/rotate is "false"' },
  { rotate: true, ownerKind: '', want: 'warn: no controller owns the pod, so nothing would recreate it' },
  { rotate: true, ownerKind: 'Job', want: 'warn: a Job owns the pod, and evicting it would fail or restart the work' },
];

for (const m of modes) {
  test(`rotationMode(rotate=${m.rotate}, owner=${m.ownerKind || 'none'}) = ${m.want}`, () => {
    const r = rotationMode(m);
    assert.equal(r.mode === 'evict' ? 'evict' : `warn: ${r.why}`, m.want);
  });
}
