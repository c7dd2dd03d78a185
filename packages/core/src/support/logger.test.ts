import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from './logger.ts';

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

test('errors keep their message and kind through the err serializer', () => {
  const out = sink();
  const log = createLogger({ name: 't', destination: out.stream });
  log.error({ err: Object.assign(new Error('vault sealed'), { kind: 'vault' }) }, 'login failed');
  const [line] = out.lines();
  const err = line?.err as Record<string, unknown>;
  assert.equal(err.message, 'vault sealed');
  assert.equal(err.kind, 'vault');
});
