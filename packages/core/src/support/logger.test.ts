import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, flatFieldsLogger } from './logger.ts';

const CANARY = 'canary-7f3a9c-should-never-be-logged';

function sink(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('sensitive fields are censored at any of the first three levels', () => {
  const out = sink();
  const log = createLogger({ name: 't', destination: out.stream });
  log.info({ token: CANARY, req: { headers: { authorization: `Bearer ${CANARY}` } }, vault: { auth: { client_token: CANARY } }, secret: { data: { password: CANARY } } }, 'hello');
  const [line] = out.lines();
  assert.ok(line);
  assert.equal(line.msg, 'hello');
  assert.equal(line.level, 'info');
  assert.equal(line.token, '[redacted]');
  assert.ok(!JSON.stringify(line).includes(CANARY), 'canary leaked into a log line');
});

test('the flat-fields logger censors every sensitive key at the top level and keeps the parent\'s redaction', () => {
  const out = sink();
  const parent = createLogger({ name: 't', destination: out.stream });
  const log = flatFieldsLogger(parent);
  log.info({ pod: 'web-*', token: CANARY, jwt: CANARY, clientToken: CANARY, authorization: CANARY, password: CANARY, secret: CANARY, data: CANARY, value: CANARY, values: CANARY, client_token: CANARY }, 'pod injected');
  parent.info({ req: { headers: { authorization: CANARY } } }, 'nested');
  const [flat, nested] = out.lines();
  assert.equal(flat?.pod, 'web-*', 'other fields are kept');
  assert.equal(flat?.name, 't', 'the parent\'s bindings are kept');
  assert.equal(flat?.token, '[redacted]');
  assert.equal(nested?.msg, 'nested');
  assert.ok(!out.lines().some((line) => JSON.stringify(line).includes(CANARY)), 'canary leaked into a log line');
});

test('errors keep their message and kind through the err serializer', () => {
  const out = sink();
  const log = createLogger({ name: 't', destination: out.stream });
  log.error({ err: Object.assign(new Error('vault sealed'), { kind: 'vault' }) }, 'login failed');
  const [line] = out.lines();
  const err = line?.err as Record<string, unknown>;
  assert.equal(err.message, 'vault sealed');
  assert.equal(err.kind, 'vault');
});
