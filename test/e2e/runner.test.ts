/**
 * The process runner on the real API server: plain pods (no webhook, no Vault), so what is
 * proven here is the runner alone: binding, init order, native sidecars, volumes and
 * projected tokens, env with container paths mapped, status and Ready, refusal of unknown
 * images, deletion in the kubelet's order, and no process left behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, type V1Container, type V1ContainerStatus, type V1Pod } from '@kubernetes/client-node';
import { createLogger } from '@vault-courier/core';
import { createNamespace, LOCAL_IMAGES, projectImages, startDevCluster, startProcessRunner, type DevCluster, type ProcessRunner } from '@vault-courier/devcluster';
import { ContainerOutput, isReady, processAlive, readPodOrUndefined, REPO_ROOT, reportedPids, waitFor } from './helpers.ts';

const FIXTURE_IMAGE = 'vault-courier/test-fixture:dev';
const NS = 'runner-e2e';

let cluster: DevCluster;
let runner: ProcessRunner;
let core: CoreV1Api;
let workDir: string;
const output = new ContainerOutput();

before(async () => {
  cluster = await startDevCluster({ postgres: true, controllers: true });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  workDir = await mkdtemp(path.join(tmpdir(), 'vault-courier-runner-'));
  const images = { ...projectImages(REPO_ROOT), [FIXTURE_IMAGE]: { argv: [process.execPath, path.join(REPO_ROOT, 'test/e2e/fixtures/container.ts')] } };
  const logger = createLogger({ name: 'process-runner', destination: createWriteStream(path.join(workDir, 'runner.log')) });
  runner = await startProcessRunner({ kubeConfig: cluster.kubeConfig, images, workDir, cwd: REPO_ROOT, logger, onContainerLine: output.collect });
  await createNamespace(cluster.kubeConfig, NS);
});

after(async () => {
  await runner?.stop();
  await cluster?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function fixture(name: string, env: Record<string, string>, extra: Partial<V1Container> = {}): V1Container {
  return { name, image: FIXTURE_IMAGE, env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })), ...extra };
}

async function createPod(pod: V1Pod): Promise<string> {
  const created = await core.createNamespacedPod({ namespace: NS, body: pod });
  return created.metadata?.name ?? '';
}

async function waitReady(name: string, timeoutMs = 60_000): Promise<V1Pod> {
  return waitFor(`pod ${name} Ready`, timeoutMs, async () => {
    const pod = await readPodOrUndefined(cluster.kubeConfig, NS, name);
    return isReady(pod) ? pod : undefined;
  });
}

async function waitGone(name: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  await waitFor(`pod ${name} deleted`, timeoutMs, async () => ((await readPodOrUndefined(cluster.kubeConfig, NS, name)) === undefined ? true : undefined), 100);
  return Date.now() - started;
}

/** Init container writes credentials the demo app reads; a native sidecar reads a projected token. */
function demoPod(db: { host: string; port: number; superuser: string; password: string }): V1Pod {
  const credentials = JSON.stringify({ username: db.superuser, password: db.password });
  const secretsMount = { name: 'secrets', mountPath: '/vault/secrets' };
  return {
    metadata: { name: 'demo' },
    spec: {
      automountServiceAccountToken: false,
      volumes: [
        { name: 'secrets', emptyDir: { medium: 'Memory' } },
        { name: 'token', projected: { sources: [{ serviceAccountToken: { audience: 'vault', path: 'vault', expirationSeconds: 600 } }] } },
      ],
      initContainers: [
        fixture('write-credentials', { FIXTURE_WRITE_FILE: '/vault/secrets/db', FIXTURE_WRITE_CONTENT: credentials, FIXTURE_SHOW_ENV: 'FIXTURE_WRITE_FILE' }, { volumeMounts: [secretsMount] }),
        fixture('sidecar', {}, {
          restartPolicy: 'Always',
          volumeMounts: [{ name: 'token', mountPath: '/var/run/token', readOnly: true }],
          env: [
            { name: 'FIXTURE_TOKEN_FILE', value: '/var/run/token/vault' },
            { name: 'FIXTURE_SHOW_ENV', value: 'POD_NAME,POD_UID' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
          ],
        }),
      ],
      containers: [
        {
          name: 'app',
          image: LOCAL_IMAGES.demoApp,
          env: Object.entries({ DEMO_SECRETS_DIR: '/vault/secrets', DEMO_DB_HOST: db.host, DEMO_DB_PORT: String(db.port), DEMO_QUERY_INTERVAL_MS: '500' }).map(([k, v]) => ({ name: k, value: v })),
          volumeMounts: [{ ...secretsMount, readOnly: true }],
        },
      ],
    },
  };
}

function stateOf(statuses: V1ContainerStatus[] | undefined, index: number): string {
  return Object.keys(statuses?.[index]?.state ?? {})[0] ?? 'none';
}

test('a pod with the demo image runs after its init container, beside a native sidecar, and becomes Ready', async () => {
  const db = cluster.postgres;
  assert.ok(db);
  const name = await createPod(demoPod(db));
  const pod = await waitReady(name);
  const status = pod.status ?? {};
  assert.equal(pod.spec?.nodeName, runner.nodeName, 'bound to the runner through pods/binding');
  const uid = pod.metadata?.uid;
  assert.deepEqual(Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c.status])), { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'True', Ready: 'True' });
  assert.equal(status.phase, 'Running');
  assert.deepEqual([stateOf(status.initContainerStatuses, 0), stateOf(status.initContainerStatuses, 1), stateOf(status.containerStatuses, 0)], ['terminated', 'running', 'running']);
  assert.equal(status.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0);

  // The container path was mapped onto the emptyDir on the host.
  const wrote = output.events(name, 'write-credentials').find((e) => e.event === 'start') ?? {};
  const file = String((wrote.env as Record<string, string>).FIXTURE_WRITE_FILE);
  assert.ok(file.startsWith(workDir) && file.endsWith(path.join('volumes', 'secrets', 'db')), `FIXTURE_WRITE_FILE mapped to ${file}`);
  // The downward API and a TokenRequest bound to the pod, with the spec's audience and lifetime.
  // Ready means started (no probes): the process may not have printed anything yet.
  const token = await waitFor('the sidecar read its token', 20_000, () => output.events(name, 'sidecar').find((e) => e.event === 'token'));
  const sidecarStart = output.events(name, 'sidecar').find((e) => e.event === 'start') ?? {};
  assert.deepEqual(sidecarStart.env, { POD_NAME: name, POD_UID: uid });
  assert.deepEqual(token.aud, ['vault']);
  assert.equal((token.kubernetes as { pod: { uid: string } }).pod.uid, uid);
  assert.equal(token.lifetime, 600);

  const connected = await waitFor('demo-app connected', 20_000, () => output.events(name, 'app').find((e) => e.msg === 'connected to the database'));
  assert.equal(connected.user, db.superuser);
  await waitFor('demo-app keeps querying', 10_000, () => output.events(name, 'app').some((e) => e.msg === 'query ok') || undefined);
  assert.ok(!output.of(name, 'app').join('\n').includes(db.password), 'the demo app never logs the password');
});

test('an image the runner does not know waits with ErrImageNeverPull and a clear message', async () => {
  const name = await createPod({ metadata: { name: 'unknown-image' }, spec: { automountServiceAccountToken: false, containers: [{ name: 'web', image: 'nginx:1.27' }] } });
  const waiting = await waitFor('a waiting status', 30_000, async () => (await readPodOrUndefined(cluster.kubeConfig, NS, name))?.status?.containerStatuses?.[0]?.state?.waiting);
  assert.equal(waiting.reason, 'ErrImageNeverPull');
  assert.match(waiting.message ?? '', /the process runner runs only .*vault-courier\/demo-app:dev.*"nginx:1\.27" is not one of them/);
  const pod = await readPodOrUndefined(cluster.kubeConfig, NS, name);
  assert.equal(pod?.status?.phase, 'Pending');
  assert.ok(!isReady(pod));
});

test('deletion: app containers get SIGTERM first, the sidecar only after they exited, then the pod object is deleted', async () => {
  const name = await createPod({
    metadata: { name: 'ordered-stop' },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 20,
      initContainers: [fixture('sidecar', { FIXTURE_TERM_DELAY_MS: '100' }, { restartPolicy: 'Always' })],
      containers: [fixture('app', { FIXTURE_TERM_DELAY_MS: '1500' })],
    },
  });
  await waitReady(name);
  await waitFor('both containers started', 10_000, () => (output.events(name, 'app').length > 0 && output.events(name, 'sidecar').length > 0) || undefined);
  await core.deleteNamespacedPod({ namespace: NS, name });
  const took = await waitGone(name, 20_000);
  const app = output.events(name, 'app');
  const sidecar = output.events(name, 'sidecar');
  const appTerm = app.find((e) => e.event === 'sigterm')?.t as number;
  const appExit = app.find((e) => e.event === 'exit')?.t as number;
  const sidecarTerm = sidecar.find((e) => e.event === 'sigterm')?.t as number;
  assert.ok(appTerm && appExit && sidecarTerm, `every event seen: ${JSON.stringify({ app, sidecar })}`);
  assert.ok(appTerm < appExit && appExit <= sidecarTerm, 'the sidecar is signalled only after the app exited');
  assert.ok(took < 10_000, `the final delete came once the containers stopped (${took} ms)`);
});

test('deletion: a container that ignores SIGTERM is killed at the end of the grace period', async () => {
  const name = await createPod({
    metadata: { name: 'stubborn' },
    spec: { automountServiceAccountToken: false, terminationGracePeriodSeconds: 2, containers: [fixture('app', { FIXTURE_IGNORE_SIGTERM: 'true' })] },
  });
  const pod = await waitReady(name);
  const [pid] = reportedPids(pod);
  assert.ok(pid && processAlive(pid));
  await waitFor('the app ready to ignore SIGTERM', 10_000, () => output.events(name, 'app').some((e) => e.event === 'start') || undefined);
  const started = Date.now();
  await core.deleteNamespacedPod({ namespace: NS, name });
  await waitGone(name, 15_000);
  const took = Date.now() - started;
  assert.ok(took >= 1_900 && took < 8_000, `killed after the 2 s grace period (${took} ms)`);
  assert.ok(!processAlive(pid), 'the process is gone');
  assert.equal(output.events(name, 'app').filter((e) => e.event === 'exit').length, 0, 'it never exited by itself');
});

test('an app container that crashes is restarted and its restarts are counted', async () => {
  const name = await createPod({ metadata: { name: 'crasher' }, spec: { automountServiceAccountToken: false, containers: [fixture('app', { FIXTURE_EXIT_CODE: '3' })] } });
  const status = await waitFor('two restarts', 30_000, async () => {
    const s = (await readPodOrUndefined(cluster.kubeConfig, NS, name))?.status?.containerStatuses?.[0];
    return (s?.restartCount ?? 0) >= 2 ? s : undefined;
  });
  assert.equal(status.lastState?.terminated?.exitCode, 3);
  await core.deleteNamespacedPod({ namespace: NS, name });
  await waitGone(name, 15_000);
});

test('no process is left behind after the runner stops', async () => {
  const name = await createPod({
    metadata: { name: 'left-running' },
    spec: { automountServiceAccountToken: false, initContainers: [fixture('sidecar', {}, { restartPolicy: 'Always' })], containers: [fixture('app', { FIXTURE_IGNORE_SIGTERM: 'true' })] },
  });
  const pod = await waitReady(name);
  const pids = reportedPids(pod);
  assert.equal(pids.length, 2);
  await waitFor('the app ready to ignore SIGTERM', 10_000, () => output.events(name, 'app').some((e) => e.event === 'start') || undefined);
  assert.ok(pids.every(processAlive));
  await runner.stop();
  assert.deepEqual(pids.filter(processAlive), [], 'every container process ended with the runner');
});
