/**
 * The webhook called by the real kube-apiserver: registered with the document core
 * builds (buildMutatingWebhookConfiguration) and its caBundle, then every behaviour a
 * user sees through kubectl: stored mutated, untouched, refused with a message naming
 * the annotation, ReplicaSet pods injected, reinvocation injected once, workloads warned
 * about through kubectl apply (the warn-only registration, buildValidatingWebhookConfiguration),
 * and the webhook down refusing only the pods that asked for secrets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { AdmissionregistrationV1Api, ApiException, AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { startDevCluster, createNamespace, type DevCluster } from '@vault-courier/devcluster';
import { buildMutatingWebhookConfiguration, buildValidatingWebhookConfiguration, createLogger, INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME, WEBHOOK_NAME } from '@vault-courier/core';
import { startWebhook, type RunningWebhook } from '@vault-courier/webhook/server';
import { testWebhookConfig } from '../helpers/webhook-tls.ts';

const OPTED_IN = 'shop';
const PLAIN = 'plain';
const SECRET = { 'vault-courier.io/secret-db': 'database/creds/shop' };

function silentLogger() {
  return createLogger({ name: 'webhook-it', level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) });
}

function pod(name: string, annotations: Record<string, string> = {}, labels: Record<string, string> = {}): V1Pod {
  return { metadata: { name, annotations, labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } };
}

function initNames(p: V1Pod): string[] {
  return (p.spec?.initContainers ?? []).map((c) => c.name);
}

/** The vault-courier volumes a container mounts (the API server adds its own kube-api-access). */
function mountNames(p: V1Pod, container: string): string[] {
  return (p.spec?.initContainers?.find((c) => c.name === container)?.volumeMounts ?? []).map((m) => m.name).filter((n) => n.startsWith('vault-courier-'));
}

/** The message the API server returns, as kubectl prints it. */
function apiMessage(err: unknown): string {
  assert.ok(err instanceof ApiException, `expected an API error, got ${String(err)}`);
  try {
    return (JSON.parse(String(err.body)) as { message: string }).message;
  } catch {
    return String(err.body);
  }
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const ADDER_LABEL = 'test.vault-courier.io/adder';

interface KubectlRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * kubectl with the admin kubeconfig, the manifest on stdin. Asynchronous on purpose: the
 * webhook answers the API server from this very process.
 */
function kubectl(cluster: DevCluster, args: readonly string[], input: unknown): Promise<KubectlRun> {
  return new Promise((resolve) => {
    const child = execFile(cluster.kubectl, ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', path.join(cluster.dir, 'kubectl-cache'), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(JSON.stringify(input));
  });
}

/** The "Warning: ..." lines kubectl printed. */
function warningsOf(run: KubectlRun): string[] {
  return run.stderr.split('\n').filter((line) => line.startsWith('Warning: ')).map((line) => line.slice('Warning: '.length));
}

function deployment(name: string, own: Record<string, string>, onTemplate: Record<string, string>, env: { name: string; value: string }[] = []) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, annotations: own },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name }, annotations: onTemplate }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1', env }] } },
    },
  };
}

/**
 * A second webhook that changes the pod after ours ran, so the API server reinvokes ours:
 * label `container` adds a container, `secret` adds a `vault-courier.io/secret-*` annotation.
 */
async function startContainerAdder(cert: { certPem: string; keyPem: string }): Promise<{ server: Server; url: string }> {
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string; object: V1Pod } };
      const addSecret = review.request.object.metadata?.labels?.[ADDER_LABEL] === 'secret';
      const patch = addSecret
        ? [{ op: 'add', path: '/metadata/annotations/vault-courier.io~1secret-late', value: 'secret/data/shop/late' }]
        : [{ op: 'add', path: '/spec/containers/-', value: { name: 'added-later', image: 'registry.example/proxy:1' } }];
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('webhook on the real API server', { timeout: 300_000 }, () => {
  let cluster: DevCluster;
  let webhook: RunningWebhook | undefined;
  let adder: Server | undefined;
  let core: CoreV1Api;

  before(async () => {
    cluster = await startDevCluster({ controllers: true });
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    const serving = await cluster.issueCertificate({ name: 'webhook', commonName: 'vault-courier-webhook', ipAddresses: ['127.0.0.1'], usage: 'server' });
    // The cluster's CA signed the serving pair; Vault here needs no CA.
    const config = testWebhookConfig({ certPath: serving.certPath, keyPath: serving.keyPath, caCertPath: cluster.caCertPath }, { VAULT_COURIER_VAULT_CACERT: '', VAULT_COURIER_DEFAULT_ROLE: 'shop' });
    webhook = await startWebhook(config, silentLogger());
    const caBundle = Buffer.from(cluster.caPem).toString('base64');
    const admission = cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    await admission.createMutatingWebhookConfiguration({ body: buildMutatingWebhookConfiguration({ caBundle, url: webhook.url, namespace: 'vault-courier' }) });
    await admission.createValidatingWebhookConfiguration({ body: buildValidatingWebhookConfiguration({ caBundle, url: webhook.url, namespace: 'vault-courier' }) });
    const added = await startContainerAdder(serving);
    adder = added.server;
    // Named after ours: the API server calls configurations in name order, so this one
    // modifies the pod after our webhook ran, which is what triggers a reinvocation.
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: 'zz-test-container-adder' },
        webhooks: [
          {
            name: 'adder.test.vault-courier.io',
            admissionReviewVersions: ['v1'],
            clientConfig: { url: `${added.url}/`, caBundle },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
            objectSelector: { matchExpressions: [{ key: ADDER_LABEL, operator: 'In', values: ['container', 'secret'] }] },
            sideEffects: 'None',
            failurePolicy: 'Fail',
            reinvocationPolicy: 'Never',
          },
        ],
      },
    });
    await createNamespace(cluster.kubeConfig, OPTED_IN, { 'vault-courier.io/inject': 'enabled' });
    await createNamespace(cluster.kubeConfig, PLAIN);
    // The API server picks up new webhook configurations asynchronously: wait until a
    // dry-run create comes back injected.
    await eventually('the webhook registration to take effect', async () => {
      const probe = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('probe', SECRET), dryRun: 'All' });
      return initNames(probe).includes(INIT_CONTAINER_NAME) ? true : undefined;
    });
    await eventually('the warn-only registration to take effect', async () => {
      const probe = await kubectl(cluster, ['apply', '--dry-run=server', '-n', OPTED_IN, '-f', '-'], deployment('probe', SECRET, {}));
      return warningsOf(probe).length > 0 ? true : undefined;
    });
  });

  after(async () => {
    await webhook?.close();
    adder?.close();
    await cluster?.stop();
  });

  test('a pod in an opted-in namespace is stored mutated', async () => {
    const stored = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('injected', { ...SECRET, 'vault-courier.io/format-db': 'env' }) });
    assert.deepEqual(initNames(stored), [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME]);
    assert.equal(stored.spec?.initContainers?.[1]?.restartPolicy, 'Always');
    assert.deepEqual(stored.spec?.volumes?.map((v) => v.name).filter((n) => n.startsWith('vault-courier-')), ['vault-courier-secrets', 'vault-courier-state', 'vault-courier-token', 'vault-courier-evict-token']);
    // Each injected container mounts only the token it uses.
    assert.deepEqual(mountNames(stored, INIT_CONTAINER_NAME), ['vault-courier-secrets', 'vault-courier-state', 'vault-courier-token']);
    assert.deepEqual(mountNames(stored, SIDECAR_CONTAINER_NAME), ['vault-courier-state', 'vault-courier-evict-token']);
    assert.deepEqual({ ...stored.spec?.containers[0]?.volumeMounts?.find((m) => m.name === 'vault-courier-secrets') }, { name: 'vault-courier-secrets', mountPath: '/vault/secrets', readOnly: true });
    assert.equal(stored.metadata?.annotations?.['vault-courier.io/status'], 'injected');
    const read = await core.readNamespacedPod({ namespace: OPTED_IN, name: 'injected' });
    assert.deepEqual(initNames(read), [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME]);
  });

  test('a pod in an unlabelled namespace is stored untouched', async () => {
    const stored = await core.createNamespacedPod({ namespace: PLAIN, body: pod('plain-ns', SECRET) });
    assert.deepEqual(initNames(stored), []);
    assert.equal(stored.metadata?.annotations?.['vault-courier.io/status'], undefined);
  });

  test('a pod without vault-courier annotations is stored untouched', async () => {
    const stored = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('no-annotations', { 'example.com/other': 'x' }) });
    assert.deepEqual(initNames(stored), []);
    assert.equal(stored.spec?.volumes?.some((v) => v.name.startsWith('vault-courier-')) ?? false, false);
  });

  test('a pod with a typo or an invalid annotation is refused, naming the annotation', async (t) => {
    const typo = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('typo', { 'vault-courier.io/secert-db': 'database/creds/shop' }) }).then(
      () => assert.fail('the pod was admitted'),
      (err: unknown) => err,
    );
    assert.equal((typo as ApiException<unknown>).code, 400);
    const message = apiMessage(typo);
    t.diagnostic(`typo refused: ${message}`);
    assert.match(message, new RegExp(`admission webhook "${WEBHOOK_NAME}" denied the request`));
    assert.match(message, /vault-courier\.io\/secert-db is not a vault-courier annotation; did you mean vault-courier\.io\/secret-db\?/);
    const invalid = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('invalid', { ...SECRET, 'vault-courier.io/mount-path': 'relative/dir' }) }).then(
      () => assert.fail('the pod was admitted'),
      (err: unknown) => err,
    );
    assert.match(apiMessage(invalid), /vault-courier\.io\/mount-path must be an absolute path/);
    const query = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('query', { 'vault-courier.io/secret-db': 'secret/data/shop?version=2' }) }).then(
      () => assert.fail('the pod was admitted'),
      (err: unknown) => err,
    );
    assert.match(apiMessage(query), /vault-courier\.io\/secret-db contains "\?".*write the plain path/);
    const template = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('template', { ...SECRET, 'vault-courier.io/template-db': 'postgresql://{{username}}:{{password@db', 'vault-courier.io/namespace': 'team a' }) }).then(
      () => assert.fail('the pod was admitted'),
      (err: unknown) => err,
    );
    t.diagnostic(`template refused: ${apiMessage(template)}`);
    assert.match(apiMessage(template), /vault-courier\.io\/namespace "team a" is not a Vault namespace path.*; vault-courier\.io\/template-db is not a valid template \(Unclosed tag at \d+;/);
    await assert.rejects(core.readNamespacedPod({ namespace: OPTED_IN, name: 'typo' }), (err) => err instanceof ApiException && err.code === 404);
  });

  test("a Deployment's ReplicaSet creates injected pods", async () => {
    const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace: OPTED_IN,
      body: {
        metadata: { name: 'checkout' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'checkout' } },
          template: { metadata: { labels: { app: 'checkout' }, annotations: SECRET }, spec: { containers: [{ name: 'checkout', image: 'registry.example/checkout:1' }] } },
        },
      },
    });
    const pods = await eventually('2 ReplicaSet pods', async () => {
      const list = await core.listNamespacedPod({ namespace: OPTED_IN, labelSelector: 'app=checkout' });
      return list.items.length >= 2 ? list.items : undefined;
    });
    for (const p of pods) {
      assert.equal(p.metadata?.ownerReferences?.[0]?.kind, 'ReplicaSet');
      assert.deepEqual(initNames(p), [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME]);
      const env = Object.fromEntries((p.spec?.initContainers?.[0]?.env ?? []).map((e) => [e.name, e.value]));
      assert.equal(env.VAULT_COURIER_OWNER_KIND, 'ReplicaSet');
      assert.equal(env.VAULT_COURIER_ROTATE, 'true');
    }
  });

  test('a pod whose controller is outside the eviction allowlist (an Argo Workflow) is told to warn, not evict', async () => {
    const body = pod('workflow-step', SECRET);
    body.metadata!.ownerReferences = [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', name: 'wf', uid: '9d2c1b7a-0000-4000-8000-000000000001', controller: true }];
    // Dry run: the owner does not exist, and the garbage collector would delete a stored pod.
    const stored = await core.createNamespacedPod({ namespace: OPTED_IN, body, dryRun: 'All' });
    const sidecar = stored.spec?.initContainers?.find((c) => c.name === SIDECAR_CONTAINER_NAME);
    const env = Object.fromEntries((sidecar?.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.VAULT_COURIER_ROTATE, 'false');
    assert.match(env.VAULT_COURIER_ROTATE_REASON ?? '', /argoproj\.io\/Workflow is not one vault-courier evicts/);
  });

  test('a pod that went through reinvocation is injected once, and the later container gets the mount', async () => {
    const before = await (await fetch(`${webhook!.metricsUrl}/metrics`)).text();
    const stored = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('reinvoked', SECRET, { [ADDER_LABEL]: 'container' }) });
    assert.deepEqual(initNames(stored), [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME]);
    assert.deepEqual(stored.spec?.containers.map((c) => c.name), ['app', 'added-later']);
    assert.equal(stored.spec?.volumes?.filter((v) => v.name === 'vault-courier-secrets').length, 1);
    assert.deepEqual(stored.spec?.containers[1]?.volumeMounts?.filter((m) => m.name === 'vault-courier-secrets').map((m) => ({ ...m })), [{ name: 'vault-courier-secrets', mountPath: '/vault/secrets', readOnly: true }]);
    const after = await (await fetch(`${webhook!.metricsUrl}/metrics`)).text();
    const reinvoked = (text: string) => Number(/vault_courier_admission_reviews_total\{outcome="injected",reason="late-containers"\} (\d+)/.exec(text)?.[1] ?? 0);
    assert.equal(reinvoked(after) - reinvoked(before), 1, 'the API server did not reinvoke the webhook');
  });

  test('a secret-* added by a later webhook is refused on reinvocation, never admitted without it', async () => {
    const refused = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('late-secret', SECRET, { [ADDER_LABEL]: 'secret' }) }).then(
      () => assert.fail('the pod was admitted without its late secret'),
      (err: unknown) => err,
    );
    assert.match(apiMessage(refused), new RegExp(`admission webhook "${WEBHOOK_NAME}" denied the request`));
    assert.match(apiMessage(refused), /vault-courier\.io\/secret-late was added after vault-courier injected this pod/);
    await assert.rejects(core.readNamespacedPod({ namespace: OPTED_IN, name: 'late-secret' }), (err) => err instanceof ApiException && err.code === 404);
  });

  describe('kubectl apply of a workload prints the warn-only webhook\'s warnings', () => {
    const CANARY = 'CANARY-5e1f-never-in-a-warning';
    const warned = async (): Promise<number> => {
      const text = await (await fetch(`${webhook!.metricsUrl}/metrics`)).text();
      return [...text.matchAll(/vault_courier_admission_reviews_total\{outcome="warned",reason="[^"]+"\} (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    };

    test('annotations on the Deployment itself: applied, with a warning naming them, on create and on update; its ReplicaSet is not reviewed', async (t) => {
      const before = await warned();
      const body = deployment('misplaced', { 'vault-courier.io/secret-db': CANARY }, {});
      const created = await kubectl(cluster, ['apply', '-n', OPTED_IN, '-f', '-'], body);
      t.diagnostic(created.stderr.trim());
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /deployment\.apps\/misplaced created/);
      const expected = 'metadata.annotations: vault-courier annotation vault-courier.io/secret-db is on the Deployment itself, where vault-courier never looks; move it to spec.template.metadata.annotations';
      assert.deepEqual(warningsOf(created), [expected]);
      const updated = await kubectl(cluster, ['apply', '-n', OPTED_IN, '-f', '-'], { ...body, metadata: { ...body.metadata, labels: { tier: 'web' } } });
      assert.match(updated.stdout, /deployment\.apps\/misplaced configured/);
      assert.deepEqual(warningsOf(updated), [expected]);
      assert.ok(!created.stderr.includes(CANARY) && !updated.stderr.includes(CANARY), 'an annotation value was echoed');
      // The controller copies the Deployment's annotations onto the ReplicaSet it creates:
      // the not-controlled match condition keeps that write from being reviewed.
      const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
      await eventually('the ReplicaSet', async () => ((await apps.listNamespacedReplicaSet({ namespace: OPTED_IN, labelSelector: 'app=misplaced' })).items.length > 0 ? true : undefined));
      assert.equal((await warned()) - before, 2, 'only the two applies were warned');
    });

    test('an invalid pod template: applied, warned with the very message its pods are refused with, and no env value echoed', async () => {
      const annotations = { 'vault-courier.io/secert-db': 'database/creds/shop' };
      const run = await kubectl(cluster, ['apply', '-n', OPTED_IN, '-f', '-'], deployment('typo-template', {}, annotations, [{ name: 'DB_PASSWORD', value: CANARY }]));
      assert.equal(run.code, 0, run.stderr);
      const refused = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('typo-template-pod', annotations) }).then(
        () => assert.fail('the pod was admitted'),
        (err: unknown) => apiMessage(err),
      );
      const podMessage = refused.replace(`admission webhook "${WEBHOOK_NAME}" denied the request: `, '');
      assert.notEqual(podMessage, refused, refused);
      assert.deepEqual(warningsOf(run), [`spec.template: its pods will be refused: ${podMessage}`]);
      assert.ok(!run.stdout.includes(CANARY) && !run.stderr.includes(CANARY), 'an env value was echoed');
    });

    test('a CronJob: its template under jobTemplate is checked', async () => {
      const cronJob = {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'nightly' },
        spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { metadata: { annotations: { 'vault-courier.io/mount-path': 'relative', ...SECRET } }, spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'registry.example/job:1' }] } } } } },
      };
      const run = await kubectl(cluster, ['apply', '-n', OPTED_IN, '-f', '-'], cronJob);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(warningsOf(run).map((w) => w.replace(/: vault-courier: .*/, '')), ['spec.jobTemplate.spec.template: its pods will be refused']);
      assert.match(warningsOf(run)[0] ?? '', /vault-courier\.io\/mount-path must be an absolute path/);
    });

    test('valid annotations on the template: no warning; an un-opted-in namespace: no warning', async () => {
      const valid = await kubectl(cluster, ['apply', '-n', OPTED_IN, '-f', '-'], deployment('valid-template', {}, SECRET));
      assert.equal(valid.code, 0, valid.stderr);
      assert.deepEqual(warningsOf(valid), [], valid.stderr);
      const plain = await kubectl(cluster, ['apply', '-n', PLAIN, '-f', '-'], deployment('misplaced-plain', SECRET, { 'vault-courier.io/secert-db': 'x/y' }));
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /deployment\.apps\/misplaced-plain created/);
      assert.deepEqual(warningsOf(plain), [], plain.stderr);
    });
  });

  test('webhook stopped: pods asking for secrets are refused with a clear message; other pods are still created', async (t) => {
    await webhook?.close();
    webhook = undefined;
    const refused = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('while-down', SECRET) }).then(
      () => assert.fail('a pod asking for secrets was admitted without them'),
      (err: unknown) => err,
    );
    t.diagnostic(`refused while down: ${apiMessage(refused)}`);
    assert.match(apiMessage(refused), new RegExp(`failed calling webhook "${WEBHOOK_NAME}"`));
    const other = await core.createNamespacedPod({ namespace: OPTED_IN, body: pod('unrelated-while-down') });
    assert.equal(other.metadata?.name, 'unrelated-while-down');
  });
});
