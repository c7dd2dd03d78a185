/**
 * The real parts, proven on real processes: what the webhook, init container and sidecar
 * rely on. One dev cluster (etcd, kube-apiserver, kube-controller-manager, Vault,
 * PostgreSQL) for the whole file.
 */
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api, PolicyV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import pg from 'pg';
import { isCourierError } from '@vault-courier/core';
import { defaultBinaries } from '@vault-courier/devcluster/binaries';
import { probe } from '@vault-courier/devcluster/http-probe';
import { startProcess, waitUntilReady } from '@vault-courier/devcluster/process';
import {
  bindAndMarkReady,
  ComponentDiedError,
  createNamespace,
  createServiceAccount,
  isApiStatus,
  requestServiceAccountToken,
  startDevCluster,
  vaultClient,
  type DevCluster,
} from '@vault-courier/devcluster';

const CANARY = 'canary-7f3a9c-never-log-me';

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function createPod(kc: KubeConfig, namespace: string, name: string, serviceAccountName = 'default'): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  return core.createNamespacedPod({
    namespace,
    body: { metadata: { name }, spec: { serviceAccountName, containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
  });
}

describe('real parts', () => {
  let cluster: DevCluster;

  before(async () => {
    cluster = await startDevCluster({ vault: true, postgres: true, controllers: true });
  });

  after(async () => {
    await cluster?.stop();
  });

  describe('Vault kubernetes auth with a real TokenReview', () => {
    const namespace = 'vault-auth';
    const role = 'app';
    let pod: V1Pod;

    before(async () => {
      const kc = cluster.kubeConfig;
      await createNamespace(kc, namespace);
      await createServiceAccount(kc, namespace, 'app');
      await createServiceAccount(kc, namespace, 'intruder');
      pod = await createPod(kc, namespace, 'app-0', 'app');
      const vault = cluster.vault!;
      await vault.writePolicy('app', 'path "secret/data/app/*" { capabilities = ["read"] }\npath "database/creds/app-db" { capabilities = ["read"] }\n');
      await vault.createVaultRole({ name: role, namespace, serviceAccount: 'app', policies: ['app'], ttl: 600 });
    });

    async function login(jwt: string) {
      const anonymous = vaultClient(cluster.vault!.addr, '');
      // node-vault 0.12 builds this path from mount_point alone: without it, it posts to
      // auth//login and Vault answers 403.
      return anonymous.kubernetesLogin({ role, jwt, mount_point: 'kubernetes' });
    }

    test('a pod-bound token with audience vault logs in, and its Vault token reads KV', async () => {
      const jwt = await requestServiceAccountToken(cluster.kubeConfig, {
        namespace,
        serviceAccount: 'app',
        audiences: ['vault'],
        podName: pod.metadata!.name!,
        podUid: pod.metadata!.uid!,
        expirationSeconds: 600,
      });
      const answer = await login(jwt);
      assert.equal(answer.auth.metadata.service_account_name, 'app');
      assert.equal(answer.auth.metadata.service_account_namespace, namespace);
      assert.ok(answer.auth.policies.includes('app'));

      await cluster.vault!.writeKv('app/config', { password: CANARY });
      const asApp = vaultClient(cluster.vault!.addr, answer.auth.client_token);
      const secret = await asApp.read('secret/data/app/config');
      assert.deepEqual(secret.data.data, { password: CANARY });
    });

    test('a token with another audience is refused', async () => {
      const jwt = await requestServiceAccountToken(cluster.kubeConfig, { namespace, serviceAccount: 'app', audiences: ['vault-courier'], podName: pod.metadata!.name!, expirationSeconds: 600 });
      await assert.rejects(login(jwt), (err: Error) => {
        assert.match(err.message, /audience|permission denied|invalid/i);
        return true;
      });
    });

    test('a token of another service account is refused', async () => {
      const jwt = await requestServiceAccountToken(cluster.kubeConfig, { namespace, serviceAccount: 'intruder', audiences: ['vault'], expirationSeconds: 600 });
      await assert.rejects(login(jwt), /service account name not authorized|permission denied/i);
    });

    test('a token of a deleted pod is refused: the TokenReview checks the binding', async () => {
      const doomed = await createPod(cluster.kubeConfig, namespace, 'doomed', 'app');
      const jwt = await requestServiceAccountToken(cluster.kubeConfig, {
        namespace,
        serviceAccount: 'app',
        audiences: ['vault'],
        podName: 'doomed',
        podUid: doomed.metadata!.uid!,
        expirationSeconds: 600,
      });
      await cluster.kubeConfig.makeApiClient(CoreV1Api).deleteNamespacedPod({ namespace, name: 'doomed', gracePeriodSeconds: 0 });
      await assert.rejects(login(jwt));
    });

    test('a database user from Vault connects to PostgreSQL, and dies when its Vault token is revoked', async () => {
      await cluster.vault!.createDatabaseRole({ name: 'app-db', ttlSeconds: 120, maxTtlSeconds: 300 });
      const jwt = await requestServiceAccountToken(cluster.kubeConfig, { namespace, serviceAccount: 'app', audiences: ['vault'], podName: pod.metadata!.name!, expirationSeconds: 600 });
      const token = (await login(jwt)).auth.client_token as string;
      const asApp = vaultClient(cluster.vault!.addr, token);
      const creds = await asApp.read('database/creds/app-db');
      assert.equal(creds.lease_duration, 120);
      const { username, password } = creds.data as { username: string; password: string };
      const connect = async () => {
        const client = new pg.Client({ host: cluster.postgres!.host, port: cluster.postgres!.port, database: 'postgres', user: username, password });
        client.on('error', () => undefined);
        await client.connect();
        return client;
      };
      const session = await connect();
      assert.equal((await session.query('SELECT current_user AS user')).rows[0].user, username);
      const sessionEnded = new Promise<void>((resolve) => session.once('end', () => resolve()));

      await asApp.write('auth/token/revoke-self', {});
      const started = Date.now();
      await eventually('the database user to be dropped', async () => {
        try {
          const again = await connect();
          await again.end();
          return undefined;
        } catch (err) {
          return err as Error & { code?: string };
        }
      }, 10_000).then((err) => assert.ok(['28P01', '28000'].includes(err.code ?? ''), `refused as an unknown user or bad password, got ${err.code}`));
      assert.ok(Date.now() - started < 10_000);
      // The open session ends too: revocation terminates the user's backends.
      await Promise.race([sessionEnded, sleep(5000).then(() => assert.fail('the open session survived revocation'))]);
    });
  });

  describe('controllers, PodDisruptionBudgets and the Eviction API', () => {
    const namespace = 'eviction';
    const labels = { app: 'web' };

    async function activePods(): Promise<V1Pod[]> {
      const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
      const list = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
      return list.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
    }

    async function pdbAllows(expected: number): Promise<void> {
      const policy = cluster.kubeConfig.makeApiClient(PolicyV1Api);
      await eventually(`the PDB to allow ${expected} disruption(s)`, async () => {
        const pdb = await policy.readNamespacedPodDisruptionBudget({ namespace, name: 'web' });
        const fresh = pdb.status?.observedGeneration === pdb.metadata?.generation;
        return fresh && pdb.status?.disruptionsAllowed === expected ? true : undefined;
      });
    }

    async function evict(name: string) {
      const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
      return core.createNamespacedPodEviction({ namespace, name, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } } });
    }

    test('a Deployment of 3 becomes 3 pods; a PDB blocks an eviction with 429, then lets one through and the ReplicaSet replaces it', async () => {
      const kc = cluster.kubeConfig;
      await createNamespace(kc, namespace);
      await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name: 'web' },
          spec: {
            replicas: 3,
            selector: { matchLabels: labels },
            template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'registry.invalid/web:1' }] } },
          },
        },
      });
      const pods = await eventually('3 pods', async () => {
        const found = await activePods();
        return found.length === 3 ? found : undefined;
      });
      for (const pod of pods) await bindAndMarkReady(kc, namespace, pod.metadata!.name!);

      const policy = kc.makeApiClient(PolicyV1Api);
      await policy.createNamespacedPodDisruptionBudget({ namespace, body: { metadata: { name: 'web' }, spec: { minAvailable: 3, selector: { matchLabels: labels } } } });
      await pdbAllows(0);
      const victim = pods[0]!.metadata!.name!;
      await assert.rejects(evict(victim), (err: unknown) => isApiStatus(err, 429));

      const pdb = await policy.readNamespacedPodDisruptionBudget({ namespace, name: 'web' });
      pdb.spec!.minAvailable = 2;
      await policy.replaceNamespacedPodDisruptionBudget({ namespace, name: 'web', body: pdb });
      await pdbAllows(1);
      await evict(victim);

      const replaced = await eventually('a replacement pod', async () => {
        const found = await activePods();
        const names = found.map((p) => p.metadata!.name!);
        return found.length === 3 && !names.includes(victim) ? names : undefined;
      });
      const before = new Set(pods.map((p) => p.metadata!.name!));
      assert.equal(replaced.filter((n) => !before.has(n)).length, 1, 'exactly one new pod');
    });
  });

  describe('service-account tokens verify with jose against /openid/v1/jwks', () => {
    const namespace = 'jwks';
    let pod: V1Pod;
    let jwks: JSONWebKeySet;

    before(async () => {
      await createNamespace(cluster.kubeConfig, namespace);
      pod = await createPod(cluster.kubeConfig, namespace, 'app-0');
      const discovery = await fetchAsAdmin('/.well-known/openid-configuration');
      assert.equal(discovery.issuer, cluster.serviceAccountIssuer);
      assert.equal(discovery.jwks_uri, `${cluster.serviceAccountIssuer}/openid/v1/jwks`);
      jwks = await fetchAsAdmin('/openid/v1/jwks');
    });

    async function fetchAsAdmin(path: string) {
      const answer = await probe(`${cluster.apiServerUrl}${path}`, cluster.adminTls);
      assert.equal(answer.status, 200, path);
      return JSON.parse(answer.body);
    }

    test('a pod-bound token verifies: issuer, audience, and the pod name and uid', async () => {
      const jwt = await requestServiceAccountToken(cluster.kubeConfig, {
        namespace,
        serviceAccount: 'default',
        audiences: ['vault-courier'],
        podName: 'app-0',
        podUid: pod.metadata!.uid!,
        expirationSeconds: 600,
      });
      const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: cluster.serviceAccountIssuer, audience: 'vault-courier' });
      assert.equal(payload.sub, `system:serviceaccount:${namespace}:default`);
      const claims = payload['kubernetes.io'] as { namespace: string; pod: { name: string; uid: string } };
      assert.equal(claims.namespace, namespace);
      assert.deepEqual(claims.pod, { name: 'app-0', uid: pod.metadata!.uid });
    });

    test('any service account may read the keys (system:service-account-issuer-discovery); anonymous callers may not', async () => {
      const jwt = await requestServiceAccountToken(cluster.kubeConfig, { namespace, serviceAccount: 'default', audiences: [cluster.serviceAccountIssuer], expirationSeconds: 600 });
      const tls = { ca: cluster.caPem };
      const asServiceAccount = await probe(`${cluster.apiServerUrl}/openid/v1/jwks`, tls, { authorization: `Bearer ${jwt}` });
      assert.equal(asServiceAccount.status, 200);
      assert.deepEqual(JSON.parse(asServiceAccount.body), jwks);
      assert.equal((await probe(`${cluster.apiServerUrl}/openid/v1/jwks`, tls)).status, 403);
    });

    test('the wrong audience, or a token signed by another key, does not verify', async () => {
      const jwt = await requestServiceAccountToken(cluster.kubeConfig, { namespace, serviceAccount: 'default', audiences: ['vault'], expirationSeconds: 600 });
      await assert.rejects(jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: cluster.serviceAccountIssuer, audience: 'vault-courier' }), /aud/);

      const { privateKey, publicKey } = await generateKeyPair('RS256');
      const kid = jwks.keys[0]!.kid!;
      const forged = await new SignJWT({ 'kubernetes.io': { namespace, pod: { name: 'app-0', uid: pod.metadata!.uid } } })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(cluster.serviceAccountIssuer)
        .setAudience('vault-courier')
        .setSubject(`system:serviceaccount:${namespace}:default`)
        .setExpirationTime('10m')
        .sign(privateKey);
      assert.ok((await exportJWK(publicKey)).n !== jwks.keys[0]!.n);
      await assert.rejects(jwtVerify(forged, createLocalJWKSet(jwks), { issuer: cluster.serviceAccountIssuer, audience: 'vault-courier' }), /signature/);
    });
  });

  test('no component log holds a secret value', async () => {
    for (const [component, path] of Object.entries(cluster.logs)) {
      const text = await readFile(path, 'utf8');
      assert.ok(!text.includes(CANARY), `${component} logged the canary`);
      assert.ok(!text.includes(cluster.postgres!.password), `${component} logged the PostgreSQL superuser password`);
    }
  });
});

describe('start-up faults', () => {
  test('a component that dies is reported with the tail of its log, and nothing is left behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'apiserver-fault-injector-'));
    const apiserverFaultInjector = join(dir, 'kube-apiserver');
    await writeFile(apiserverFaultInjector, '#!/bin/sh\necho "I1124 starting"\necho "E1124 fatal: unable to load the serving certificate" >&2\nexit 1\n', { mode: 0o755 });
    let clusterDir = '';
    try {
      await assert.rejects(startDevCluster({ controllers: false, binaries: { kubeApiserver: apiserverFaultInjector } }), (err: unknown) => {
        assert.ok(err instanceof ComponentDiedError);
        assert.equal(err.component, 'kube-apiserver');
        assert.match(err.message, /kube-apiserver exited with code 1 before it was ready/);
        assert.match(err.message, /fatal: unable to load the serving certificate/);
        clusterDir = err.logPath.replace(/\/logs\/kube-apiserver\.log$/, '');
        return true;
      });
      assert.ok(clusterDir.length > 0);
      await assert.rejects(access(clusterDir), 'the temp dir is removed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a real component's bind failure is recognised as a port clash, the case withPortRetry starts again", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as AddressInfo).port;
    const dir = await mkdtemp(join(tmpdir(), 'port-clash-'));
    try {
      const etcd = startProcess({
        name: 'etcd',
        command: defaultBinaries().etcd,
        logPath: join(dir, 'etcd.log'),
        args: [`--data-dir=${join(dir, 'data')}`, `--listen-client-urls=http://127.0.0.1:${taken}`, `--advertise-client-urls=http://127.0.0.1:${taken}`, '--listen-peer-urls=http://127.0.0.1:0'],
      });
      await assert.rejects(waitUntilReady(etcd, async () => false, 20_000), (err: unknown) => err instanceof ComponentDiedError && err.portClash);
    } finally {
      holder.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a missing binary stops the start with its name and the set-up command', async () => {
    await assert.rejects(startDevCluster({ controllers: false, binaries: { etcd: '/nonexistent/etcd' } }), (err: unknown) => {
      assert.ok(isCourierError(err, 'config'));
      assert.match(err.message, /etcd is missing: no executable at \/nonexistent\/etcd/);
      assert.match(err.message, /bash scripts\/setup\.sh/);
      return true;
    });
  });
});
