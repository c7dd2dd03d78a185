import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { Socket } from 'node:net';
import path from 'node:path';
import express from 'express';
import { createLogger, isCourierError, type Logger } from '@vault-courier/core';
import { loadInjectionConfig, startWebhook, type RunningWebhook } from './server.ts';
import { createTestPki, httpsPost, testTls, testWebhookConfig, type TestPki } from '../../../test/helpers/webhook-tls.ts';

const CANARY = 'canary-9b2e-never-in-a-log-line';
const FIXTURES = path.resolve(import.meta.dirname, '../../../test/fixtures/admission');

function sink(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ name: 'test', level: 'debug', destination: stream });
  return { logger, text: () => chunks.join(''), lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, `${name}.review.json`), 'utf8')) as Record<string, unknown>;
}

/** A review whose pod carries the canary in an env value: it must never be logged. */
function canaryReview(): string {
  const review = fixture('no-volumes') as { request: { object: { spec: { containers: { env?: unknown[] }[] } } } };
  review.request.object.spec.containers[0]!.env = [{ name: 'API_KEY', value: CANARY }];
  return JSON.stringify(review);
}

describe('webhook over HTTPS', () => {
  let pki: TestPki;
  let webhook: RunningWebhook;
  const logs = sink();
  let ca: string;

  before(async () => {
    pki = await createTestPki();
    ca = pki.ca.certPem;
    webhook = await startWebhook(testWebhookConfig(testTls(pki)), logs.logger, { tlsPollIntervalMs: 50, drainTimeoutMs: 2_000 });
  });
  after(async () => {
    await webhook?.close();
    await pki?.remove();
  });

  // No API server and no Vault exist in these tests: every answer below also shows that
  // the admission path calls neither.
  test('POST /mutate injects a pod and logs one line per review with uid, namespace, pod and decision', async () => {
    const answer = await httpsPost(`${webhook.url}/mutate`, canaryReview(), { ca });
    assert.equal(answer.status, 200);
    const { response } = answer.json<{ response: { uid: string; allowed: boolean; patchType: string; patch: string } }>();
    assert.equal(response.uid, '3c4d2b1a-0001-4000-8000-000000000001');
    assert.equal(response.allowed, true);
    assert.equal(response.patchType, 'JSONPatch');
    const line = logs.lines().find((l) => l.uid === response.uid);
    assert.ok(line, 'no log line for the review');
    assert.equal(line.namespace, 'shop');
    assert.equal(line.pod, 'checkout-7d9f8b6c5d-*');
    assert.equal(line.decision, 'injected');
    assert.ok(!logs.text().includes(CANARY), 'a pod value reached the logs');
    assert.ok(!logs.text().includes('registry.example'), 'pod content reached the logs');
  });

  test('a bad pod is HTTP 200 with allowed: false and the message', async () => {
    const answer = await httpsPost(`${webhook.url}/mutate`, JSON.stringify(fixture('typo')), { ca });
    assert.equal(answer.status, 200);
    const { response } = answer.json<{ response: { allowed: boolean; status: { message: string } } }>();
    assert.equal(response.allowed, false);
    assert.match(response.status.message, /did you mean vault-courier\.io\/secret-db\?/);
  });

  test('POST /warn allows a Deployment with its annotations misplaced, with warnings and no value of the workload in them or in the log', async () => {
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: '3c4d2b1a-0002-4000-8000-000000000002',
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        namespace: 'shop',
        operation: 'UPDATE',
        object: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'checkout', annotations: { 'vault-courier.io/secret-db': CANARY } },
          spec: { template: { metadata: { annotations: { 'vault-courier.io/secert-db': 'x/y' } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1', env: [{ name: 'API_KEY', value: CANARY }] }] } } },
        },
      },
    };
    const answer = await httpsPost(`${webhook.url}/warn`, JSON.stringify(review), { ca });
    assert.equal(answer.status, 200);
    const { response } = answer.json<{ response: { uid: string; allowed: boolean; warnings: string[]; status?: unknown } }>();
    assert.equal(response.uid, review.request.uid);
    assert.equal(response.allowed, true);
    assert.equal(response.status, undefined);
    assert.equal(response.warnings.length, 2);
    assert.match(response.warnings[0]!, /vault-courier\.io\/secret-db is on the Deployment itself/);
    assert.match(response.warnings[1]!, /^spec\.template: its pods will be refused: .*did you mean vault-courier\.io\/secret-db\?$/);
    assert.ok(!JSON.stringify(response).includes(CANARY), 'a workload value reached the warnings');
    const line = logs.lines().find((l) => l.uid === review.request.uid);
    assert.deepEqual({ object: line?.object, decision: line?.decision, reason: line?.reason, warnings: line?.warnings }, { object: 'Deployment/checkout', decision: 'warned', reason: 'misplaced-and-invalid', warnings: 2 });
    assert.ok(!logs.text().includes(CANARY), 'a workload value reached the logs');
  });

  test('POST /warn answers anything but a workload write allowed, with no warnings', async () => {
    const answer = await httpsPost(`${webhook.url}/warn`, JSON.stringify(fixture('typo')), { ca });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json<{ response: unknown }>().response, { uid: (fixture('typo') as { request: { uid: string } }).request.uid, allowed: true });
  });

  test('malformed JSON, a non-v1 review and a wrong content type are 400 with a reason; the server keeps serving', async () => {
    const broken = await httpsPost(`${webhook.url}/mutate`, '{"apiVersion": "admission.k8s.io/v1", ', { ca });
    assert.equal(broken.status, 400);
    assert.match(broken.json<{ error: string }>().error, /not valid JSON/);
    const v1beta1 = await httpsPost(`${webhook.url}/mutate`, JSON.stringify({ ...fixture('no-volumes'), apiVersion: 'admission.k8s.io/v1beta1' }), { ca });
    assert.equal(v1beta1.status, 400);
    assert.match(v1beta1.json<{ error: string }>().error, /admission\.k8s\.io\/v1/);
    const text = await httpsPost(`${webhook.url}/mutate`, JSON.stringify(fixture('no-volumes')), { ca, contentType: 'text/plain' });
    assert.equal(text.status, 400);
    const ok = await httpsPost(`${webhook.url}/mutate`, JSON.stringify(fixture('no-volumes')), { ca });
    assert.equal(ok.status, 200);
  });

  test('a body over the limit is refused with 413', async () => {
    const huge = JSON.stringify({ ...fixture('no-volumes'), padding: 'x'.repeat(3 * 1024 * 1024) });
    const answer = await httpsPost(`${webhook.url}/mutate`, huge, { ca });
    assert.equal(answer.status, 413);
    assert.match(answer.json<{ error: string }>().error, /larger than the webhook accepts/);
  });

  test('metrics count reviews by outcome and time them; probes answer', async () => {
    const metrics = await (await fetch(`${webhook.metricsUrl}/metrics`)).text();
    assert.match(metrics, /vault_courier_admission_reviews_total\{outcome="injected",reason="injected"\} [1-9]/);
    assert.match(metrics, /vault_courier_admission_reviews_total\{outcome="denied",reason="invalid"\} [1-9]/);
    assert.match(metrics, /vault_courier_admission_reviews_total\{outcome="warned",reason="misplaced-and-invalid"\} 1/);
    assert.match(metrics, /vault_courier_admission_reviews_total\{outcome="ignored",reason="not-a-workload-write"\} 1/);
    // Unparseable JSON, a v1beta1 review and a text/plain body.
    assert.match(metrics, /vault_courier_admission_reviews_total\{outcome="error",reason="malformed"\} 3/);
    assert.match(metrics, /vault_courier_admission_reviews_total\{outcome="error",reason="too-large"\} 1/);
    assert.match(metrics, /vault_courier_admission_review_duration_seconds_bucket\{le="0.005",outcome="injected"\} [1-9]/);
    assert.ok(!metrics.includes(CANARY));
    assert.equal((await fetch(`${webhook.metricsUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${webhook.metricsUrl}/readyz`)).status, 200);
  });

  test('a new certificate written over the files is served to new connections', async () => {
    const before = await httpsPost(`${webhook.url}/mutate`, JSON.stringify(fixture('no-volumes')), { ca });
    const next = await pki.issue('rotated');
    // Key first, then certificate: the moment in between is a mismatched pair, which must be skipped.
    await copyFile(next.keyPath, pki.serving.keyPath);
    await new Promise((r) => setTimeout(r, 120));
    const during = await httpsPost(`${webhook.url}/mutate`, JSON.stringify(fixture('no-volumes')), { ca });
    assert.equal(during.fingerprint, before.fingerprint, 'a mismatched pair must not be installed');
    await copyFile(next.certPath, pki.serving.certPath);
    let after = before;
    for (let i = 0; i < 50 && after.fingerprint === before.fingerprint; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await httpsPost(`${webhook.url}/mutate`, JSON.stringify(fixture('no-volumes')), { ca });
    }
    assert.notEqual(after.fingerprint, before.fingerprint, 'the new certificate was not served');
    assert.equal(after.status, 200);
    const metrics = await (await fetch(`${webhook.metricsUrl}/metrics`)).text();
    assert.match(metrics, /vault_courier_tls_reloads_total\{result="ok"\} 1/);
  });
});

test('close() drains: an in-flight request completes, then the port is closed', async () => {
  const pki = await createTestPki();
  const slow = express.Router();
  slow.post('/slow', (_req, res) => {
    setTimeout(() => res.status(200).json({ done: true }), 300);
  });
  const webhook = await startWebhook(testWebhookConfig(testTls(pki)), sink().logger, { routes: () => [slow], drainTimeoutMs: 5_000 });
  try {
    const inFlight = httpsPost(`${webhook.url}/slow`, '{}', { ca: pki.ca.certPem });
    await new Promise((r) => setTimeout(r, 50));
    const closed = webhook.close();
    assert.equal((await inFlight).status, 200);
    await closed;
    await assert.rejects(httpsPost(`${webhook.url}/mutate`, '{}', { ca: pki.ca.certPem }), /ECONNREFUSED/);
  } finally {
    await webhook.close();
    await pki.remove();
  }
});

test('close(): while draining, every answer closes its keep-alive connection, so a pooling client (the API server) dials a Ready replica next', async () => {
  const pki = await createTestPki();
  const webhook = await startWebhook(testWebhookConfig(testTls(pki)), sink().logger, { shutdownDelayMs: 400 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pki.ca.certPem });
  const post = () =>
    new Promise<{ status: number; connection: string | undefined; socket: Socket }>((resolve, reject) => {
      const req = request(`${webhook.url}/mutate`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, socket: req.socket as Socket }));
      });
      req.on('error', reject);
      req.end('{}');
    });
  try {
    const before = await post();
    assert.equal(before.connection, 'keep-alive');
    const closed = webhook.close();
    const during = await post();
    assert.equal(during.status, 400, 'still answered during the delay');
    assert.equal(during.socket, before.socket, 'over the connection the client held');
    assert.equal(during.connection, 'close');
    await closed;
    assert.ok(during.socket.destroyed, 'the server ended the connection after its answer');
  } finally {
    agent.destroy();
    await webhook.close();
    await pki.remove();
  }
});

test('unreadable or mismatched certificate files stop the start, naming the variable', async () => {
  const pki = await createTestPki();
  try {
    const other = await pki.issue('other');
    const missing = testWebhookConfig(testTls(pki), { VAULT_COURIER_TLS_CERT: path.join(pki.dir, 'nope.crt') });
    await assert.rejects(startWebhook(missing, sink().logger), (err) => isCourierError(err, 'config') && /VAULT_COURIER_TLS_CERT: cannot read/.test(err.message));
    const mismatched = testWebhookConfig(testTls(pki), { VAULT_COURIER_TLS_KEY: other.keyPath });
    await assert.rejects(startWebhook(mismatched, sink().logger), (err) => isCourierError(err, 'config') && /not a matching PEM certificate and key/.test(err.message));
    const badCa = testWebhookConfig(testTls(pki), { VAULT_COURIER_VAULT_CACERT: path.join(pki.dir, 'nope.pem') });
    await assert.rejects(startWebhook(badCa, sink().logger), (err) => isCourierError(err, 'config') && /VAULT_COURIER_VAULT_CACERT/.test(err.message));
  } finally {
    await pki.remove();
  }
});

test('every setting the admission path uses reaches it: VAULT_COURIER_EVICT_OWNER_KINDS too', async () => {
  const pki = await createTestPki();
  try {
    const config = testWebhookConfig(testTls(pki), { VAULT_COURIER_EVICT_OWNER_KINDS: 'argoproj.io/Rollout,CloneSet' });
    assert.deepEqual(loadInjectionConfig(config).evictOwnerKinds, config.evictOwnerKinds);
    assert.equal(loadInjectionConfig(config).evictOwnerKinds?.length, 2);
  } finally {
    await pki.remove();
  }
});

test('a body that is not JSON is refused without quoting it: not in the answer, not in the log (the parser\'s message would)', async () => {
  const pki = await createTestPki();
  const logs = sink();
  const webhook = await startWebhook(testWebhookConfig(testTls(pki)), logs.logger);
  try {
    for (const body of [`{"env":[{"value":"${CANARY}" x`, `${CANARY}`, `{"a":"${CANARY}"}}`]) {
      const answer = await httpsPost(`${webhook.url}/mutate`, body, { ca: pki.ca.certPem });
      assert.equal(answer.status, 400);
      assert.match(answer.json<{ error: string }>().error, /not valid JSON/);
      assert.ok(!answer.text.includes(CANARY.slice(0, 10)), answer.text);
    }
    assert.ok(!logs.text().includes(CANARY.slice(0, 10)), 'the body reached the log');
    assert.match(logs.text(), /entity\.parse\.failed/);
  } finally {
    await webhook.close();
    await pki.remove();
  }
});
