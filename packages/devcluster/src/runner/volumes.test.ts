import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthenticationV1TokenRequest, CoreV1Api } from '@kubernetes/client-node';
import { createLogger } from '@vault-courier/core';
import { PodVolumes } from './volumes.ts';

const pod = { metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1' }, spec: { serviceAccountName: 'web', containers: [] } };
const quiet = createLogger({ name: 'test', level: 'silent' });

/**
 * Fault injector for TokenRequest: tokens that live `lifetimeMs`, numbered so a refresh is
 * visible. The real API server refuses lifetimes under 600 s, too long to watch a refresh.
 */
function shortLivedTokensFaultInjector(lifetimeMs: number) {
  const requests: { name: string; namespace: string; body: AuthenticationV1TokenRequest }[] = [];
  const core = {
    createNamespacedServiceAccountToken: async (req: { name: string; namespace: string; body: AuthenticationV1TokenRequest }) => {
      requests.push(req);
      return { status: { token: `token-${requests.length}`, expirationTimestamp: new Date(Date.now() + lifetimeMs) } };
    },
    readNamespacedConfigMap: async () => ({ data: { 'ca.crt': 'CA PEM' } }),
  };
  return { core: core as unknown as CoreV1Api, requests };
}

test('projected tokens: requested bound to the pod with the spec audience and lifetime, written with the mode, refreshed at 80% of their lifetime', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vc-volumes-'));
  const { core, requests } = shortLivedTokensFaultInjector(1_000);
  const volumes = new PodVolumes(core, pod, quiet);
  try {
    await volumes.prepare([
      { kind: 'emptyDir', name: 'secrets', hostDir: path.join(dir, 'secrets') },
      {
        kind: 'projected',
        name: 'token',
        hostDir: path.join(dir, 'token'),
        files: [
          { kind: 'token', path: 'vault', audience: 'vault', expirationSeconds: 600, mode: 0o440 },
          { kind: 'configMap', path: 'ca.crt', configMap: 'kube-root-ca.crt', key: 'ca.crt', optional: false, mode: 0o644 },
          { kind: 'field', path: 'namespace', value: 'shop', mode: 0o644 },
        ],
      },
    ]);
    assert.ok((await stat(path.join(dir, 'secrets'))).isDirectory());
    assert.equal(await readFile(path.join(dir, 'token', 'vault'), 'utf8'), 'token-1');
    assert.equal((await stat(path.join(dir, 'token', 'vault'))).mode & 0o777, 0o440);
    assert.equal(await readFile(path.join(dir, 'token', 'ca.crt'), 'utf8'), 'CA PEM');
    assert.equal(await readFile(path.join(dir, 'token', 'namespace'), 'utf8'), 'shop');
    assert.deepEqual(requests[0], {
      name: 'web',
      namespace: 'shop',
      body: { spec: { audiences: ['vault'], expirationSeconds: 600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web-1', uid: 'u-1' } } },
    });
    await sleep(600);
    assert.equal(requests.length, 1, 'not refreshed before 80% of the lifetime');
    await sleep(500);
    assert.equal(await readFile(path.join(dir, 'token', 'vault'), 'utf8'), 'token-2', 'refreshed after 80% of the lifetime');
    volumes.stop();
    const count = requests.length;
    await sleep(1_000);
    assert.equal(requests.length, count, 'no refresh once stopped');
  } finally {
    volumes.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a configMap key that is missing fails the volume with a message naming it', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vc-volumes-'));
  const { core } = shortLivedTokensFaultInjector(60_000);
  const volumes = new PodVolumes(core, pod, quiet);
  try {
    await assert.rejects(
      volumes.prepare([{ kind: 'projected', name: 'cfg', hostDir: dir, files: [{ kind: 'configMap', path: 'x', configMap: 'settings', key: 'nope', optional: false, mode: 0o644 }] }]),
      /volume cfg: cannot project x \(configMap settings has no key nope\)/,
    );
  } finally {
    volumes.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
