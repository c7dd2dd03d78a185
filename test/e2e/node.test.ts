/**
 * The real node: pods run as containers under the kubelet and containerd, from the
 * project's own images, with vault-courier installed by its Helm chart. What is proven
 * here is what the old process runner could not enforce: the restricted Pod Security
 * Standard, a non-root app uid apart from the injected containers' reading its files
 * through fsGroup on a read-only root, the kubelet's native-sidecar order on the way in
 * and out (with the Vault token revoked last), and `kubectl logs` for every container.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type V1ContainerStatus, type V1Pod } from '@kubernetes/client-node';
import { INIT_CONTAINER_NAME, INJECTED_ENV, SIDECAR_CONTAINER_NAME } from '@vault-courier/core';
import { APP_UID, embeddedTarget, prepareCluster, PROJECT_IMAGES, readPodLogs, restrictedContainer, startDevCluster, type DevCluster, type PodLogReader } from '@vault-courier/devcluster';
import { ContainerOutput, isReady, readPodOrUndefined, REPO_ROOT, waitFor } from './helpers.ts';

const run = promisify(execFile);
const NS = 'node-e2e';
const CANARY = `canary-${process.pid}-never-logged`;

let cluster: DevCluster;
let core: CoreV1Api;
let logs: PodLogReader;
const output = new ContainerOutput();

before(async () => {
  cluster = await startDevCluster({ vault: true, configureVault: false, postgres: true, controllers: true, node: true });
  const node = cluster.node;
  assert.ok(node);
  logs = readPodLogs(node.podLogsDir, output.collect);
  // The webhook's TLS from the certs/ command and the chart's secret mode; the demo uses Helm's generator.
  await prepareCluster(embeddedTarget(cluster), NS, 600, { tls: 'certs-command' });
  const vault = cluster.vault;
  assert.ok(vault);
  await vault.writeKv('probe/config', { password: CANARY, user: 'probe' });
  await vault.writePolicy('probe', 'path "secret/data/probe/*" { capabilities = ["read"] }');
  await vault.createVaultRole({ name: 'probe', namespace: NS, serviceAccount: 'default', policies: ['probe'], ttl: 600 });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedConfigMap({
    namespace: NS,
    body: { metadata: { name: 'probe' }, data: { 'probe-app.mjs': readFileSync(path.join(REPO_ROOT, 'test/e2e/fixtures/probe-app.mjs'), 'utf8') } },
  });
});

after(async () => {
  await cluster?.node?.drain();
  logs?.stop();
  await cluster?.stop();
});

const TEMPLATED = 'probe://{{user}}@vault-courier\n';
/** What TEMPLATED renders to over probe/config; the app reports the file's size, never its content. */
const RENDERED = 'probe://probe@vault-courier\n';

function probePod(name: string, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    metadata: {
      name,
      annotations: {
        'vault-courier.io/role': 'probe',
        'vault-courier.io/secret-config': 'secret/data/probe/config',
        // The same secret through a template: the app reads the rendered file.
        'vault-courier.io/secret-url': 'secret/data/probe/config',
        'vault-courier.io/template-url': TEMPLATED,
      },
    },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 15,
      volumes: [{ name: 'probe', configMap: { name: 'probe' } }],
      containers: [
        restrictedContainer({
          name: 'app',
          image: PROJECT_IMAGES.demoApp,
          command: ['node', '/probe/probe-app.mjs'],
          env: [
            { name: 'PROBE_SECRET_FILE', value: '/vault/secrets/url' },
            { name: 'PROBE_TERM_DELAY_MS', value: '1500' },
          ],
          volumeMounts: [{ name: 'probe', mountPath: '/probe', readOnly: true }],
        }),
      ],
      ...extra,
    },
  };
}

async function waitReady(name: string, timeoutMs = 90_000): Promise<V1Pod> {
  return waitFor(`pod ${name} Ready`, timeoutMs, async () => {
    const pod = await readPodOrUndefined(cluster.kubeConfig, NS, name);
    return isReady(pod) ? pod : undefined;
  });
}

test('the opted-in namespace enforces Pod Security "restricted": a privileged pod is refused, the injected one admitted', async () => {
  await assert.rejects(
    core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name: 'privileged' }, spec: { containers: [{ name: 'c', image: PROJECT_IMAGES.demoApp, securityContext: { privileged: true } }] } },
    }),
    (err: { code?: number; body?: string }) => err.code === 403 && /violates PodSecurity .{0,2}restricted/.test(String(err.body)),
  );
  const created = await core.createNamespacedPod({ namespace: NS, body: probePod('probe') });
  assert.equal(created.metadata?.annotations?.['vault-courier.io/status'], 'injected');
  // Vault serves TLS: the chart's vault.caCertSecret reached the injected containers through the webhook.
  const initEnv = Object.fromEntries((created.spec?.initContainers?.[0]?.env ?? []).map((e) => [e.name, e.value]));
  assert.match(initEnv[INJECTED_ENV.vaultAddr] ?? '', /^https:\/\//);
  assert.equal(initEnv[INJECTED_ENV.vaultCaPem], cluster.vault?.caPem);
  const names = (created.spec?.initContainers ?? []).map((c) => c.name);
  assert.deepEqual(names, [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME]);
});

function appEvent(name: string): Record<string, unknown> | undefined {
  return output.events('probe', 'app').find((e) => e.event === name);
}

test('the app runs as its own non-root uid on a read-only root and reads its secret through fsGroup', async () => {
  const pod = await waitReady('probe');
  const spec = pod.spec ?? { containers: [] };
  assert.equal(spec.nodeName, cluster.node?.name, 'the real scheduler bound it to the node');
  const start = await waitFor('the app started', 30_000, () => appEvent('start'));
  assert.equal(start.uid, APP_UID);
  assert.notEqual(start.uid, spec.initContainers?.[0]?.securityContext?.runAsUser, 'the app and the injected containers run as different users');
  const fsGroup = spec.securityContext?.fsGroup;
  assert.ok(fsGroup !== undefined && (start.groups as number[]).includes(fsGroup), `the app is in the fsGroup ${fsGroup}`);
  const secret = appEvent('secret') ?? {};
  assert.deepEqual({ mode: secret.mode, gid: secret.gid }, { mode: '440', gid: fsGroup });
  assert.equal(Number(secret.bytes), Buffer.byteLength(RENDERED), 'the file holds the rendered template');
  const rootfs = appEvent('root-filesystem');
  assert.deepEqual(rootfs, { ...rootfs, writable: false, code: 'EROFS' });
});

const epochMs = (time: Date | string | undefined): number => new Date(time ?? 0).getTime();

/** When each container of the probe pod started or ended, from its status (one-second resolution). */
const startedAt = (status: V1ContainerStatus | undefined): number => epochMs(status?.state?.running?.startedAt);

function lifecycle(pod: V1Pod): { initExit: number | undefined; initDone: number; sidecarStart: number; appStart: number } {
  const status = pod.status ?? {};
  const [init, sidecar] = status.initContainerStatuses ?? [];
  const terminated = init?.state?.terminated;
  return { initExit: terminated?.exitCode, initDone: epochMs(terminated?.finishedAt), sidecarStart: startedAt(sidecar), appStart: startedAt(status.containerStatuses?.[0]) };
}

test('the kubelet starts the native sidecar after init exited and before the app', async () => {
  const times = lifecycle(await waitReady('probe'));
  assert.equal(times.initExit, 0);
  assert.ok(times.initDone > 0 && times.initDone <= times.sidecarStart && times.sidecarStart <= times.appStart, JSON.stringify(times));
  const delivered = output.events('probe', INIT_CONTAINER_NAME).filter((e) => e.msg === 'secret delivered');
  assert.deepEqual(delivered.map((e) => `${String(e.secretName)}:${String(e.format)}`).sort(), ['config:json', 'url:template']);
});

test('kubectl logs works for every container, through the API server and the kubelet', async () => {
  const node = cluster.node;
  assert.ok(node);
  for (const container of [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME, 'app']) {
    const { stdout }: { stdout: string } = await run(node.kubectl, ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', path.join(cluster.dir, 'kubectl-cache'), '-n', NS, 'logs', 'probe', '-c', container]);
    assert.ok(stdout.trim().length > 0, `kubectl logs probe -c ${container} printed its log`);
    assert.ok(!stdout.includes(CANARY), `no secret value in the ${container} log`);
  }
});

test('deletion: the app stops first, the sidecar after it exited, and the sidecar revokes the Vault token', async () => {
  await core.deleteNamespacedPod({ namespace: NS, name: 'probe' });
  await waitFor('pod probe gone', 60_000, async () => ((await readPodOrUndefined(cluster.kubeConfig, NS, 'probe')) === undefined ? true : undefined), 250);
  const revokedLine = () => {
    logs.poll();
    return output.events('probe', SIDECAR_CONTAINER_NAME).find((e) => String(e.msg).startsWith('Vault token revoked'));
  };
  // The runtime may flush the sidecar's last line a moment after the API shows the pod gone.
  const revoked = await waitFor('the sidecar logged its revocation', 10_000, revokedLine, 100).catch(() => undefined);
  const app = output.events('probe', 'app');
  const appTerm = Number(app.find((e) => e.event === 'sigterm')?.t);
  const appExit = Number(app.find((e) => e.event === 'exit')?.t);
  assert.ok(appTerm > 0 && appExit > 0 && revoked !== undefined, `every event seen: ${JSON.stringify({ app, sidecar: output.of('probe', SIDECAR_CONTAINER_NAME) })}`);
  assert.ok(appTerm < appExit && appExit <= new Date(String(revoked.time)).getTime(), 'the sidecar is stopped only after the app exited');
  assert.ok(!output.all().includes(CANARY), 'no secret value in any container output');
});
