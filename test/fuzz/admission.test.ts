/**
 * 10,000 seeded AdmissionReviews (one in ten to the warn-only /warn) through the webhook's real HTTPS server (its own process,
 * started as main.ts starts it, with a real serving certificate): no crash, no hang, no
 * 5xx, every answer a 4xx with a reason or a well-formed review whose patch applies to the
 * pod sent (admission-answers.ts), and the webhook's memory flat after a full collection.
 * Reproduce a failure with the seed printed on stderr: VAULT_COURIER_FUZZ_SEED=<seed>.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent } from 'node:https';
import { createTestPki, type TestPki } from '../helpers/webhook-tls.ts';
import { loadReviews, nextCase } from './admission-cases.ts';
import { answerProblem } from './admission-answers.ts';
import { seededRandom } from './random.ts';
import { postCase } from './post.ts';

const CASES = 10_000;
const WARM_UP = 2_000;
const IN_FLIGHT = 8;
/** A request the webhook has not answered by then is a hang. */
const ANSWER_TIMEOUT_MS = 10_000;
/**
 * Memory is read after a full collection at three points: after the warm-up, half-way and
 * at the end. Neither V8's heap nor the Buffers outside it (bodies, TLS records) may grow
 * from the warm-up on: a leak of one small object per review is 8,000 objects, of the
 * bodies tens of MiB. RSS keeps the allocator's high-water mark from the 2 MiB bodies and
 * moves with the machine's load (0-32 MiB measured), so it is held loosely, and only from
 * half-way.
 */
const HEAP_TOLERANCE = 8 * 1024 * 1024;
const BUFFER_TOLERANCE = 8 * 1024 * 1024;
const RSS_TOLERANCE = 64 * 1024 * 1024;

const SCRIPT = new URL('./webhook-process.ts', import.meta.url).pathname;

interface Memory {
  readonly heapUsed: number;
  readonly arrayBuffers: number;
  readonly rss: number;
}

function ask<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string }) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as T);
    };
    const onExit = (code: number | null, signal: string | null) => reject(new Error(`the webhook process exited (${code ?? signal}) while the fuzzer waited for "${type}"`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (type !== 'listening') child.send({ type });
  });
}

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

describe('POST /mutate under 10,000 fuzzed AdmissionReviews', () => {
  let pki: TestPki;
  let child: ChildProcess;
  let url: string;
  let agent: Agent;
  const rng = seededRandom('admission fuzzer');
  const bases = loadReviews();
  const problems: string[] = [];
  const statuses = new Map<string, number>();
  let sent = 0;

  async function run(count: number): Promise<void> {
    const worker = async () => {
      while (sent < count) {
        const index = sent++;
        const c = nextCase(rng, bases);
        let problem: string | undefined;
        try {
          const answer = await postCase(url, agent, c, ANSWER_TIMEOUT_MS);
          const key = `${c.kind.replace(/-\d+$/, '')} ${answer.status}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          problem = answerProblem(c, answer);
        } catch (err) {
          problem = `no answer: ${(err as Error).message}`;
        }
        if (problem !== undefined && problems.length < 20) problems.push(`case ${index} (${c.kind}, ${c.body.length} bytes): ${problem}\n    body: ${c.body.subarray(0, 300).toString('utf8')}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  }

  before(async () => {
    pki = await createTestPki();
    child = fork(SCRIPT, [pki.serving.certPath, pki.serving.keyPath, pki.ca.certPath], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    url = (await ask<{ url: string }>(child, 'listening')).url;
    agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT, ca: pki.ca.certPem });
  });

  after(async () => {
    agent?.destroy();
    if (child?.exitCode === null) {
      const exited = once(child, 'exit');
      child.send({ type: 'stop' });
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await pki?.remove();
  });

  test('every answer is a 4xx with a reason or a well-formed review whose patch applies; no crash, no 5xx; memory flat', async () => {
    const started = performance.now();
    await run(WARM_UP);
    const warm = (await ask<{ memory: Memory }>(child, 'memory')).memory;
    await run((WARM_UP + CASES) / 2);
    const half = (await ask<{ memory: Memory }>(child, 'memory')).memory;
    await run(CASES);
    const end = await ask<{ memory: Memory; logLines: number; errorLines: string[] }>(child, 'memory');
    const seconds = (performance.now() - started) / 1000;
    const table = [...statuses].sort().map(([k, n]) => `${k}: ${n}`).join(', ');
    const figures = (m: Memory) => `heap ${MiB(m.heapUsed)} buffers ${MiB(m.arrayBuffers)} rss ${MiB(m.rss)}`;
    console.error(`admission fuzzer: ${CASES} reviews in ${seconds.toFixed(1)} s; after warm-up ${figures(warm)}, half-way ${figures(half)}, end ${figures(end.memory)}; answers: ${table}`);

    assert.equal(problems.length, 0, `seed ${rng.seed}: wrong answers:\n  ${problems.join('\n  ')}`);
    assert.equal(child.exitCode, null, 'the webhook process is still running');
    assert.ok(end.logLines >= CASES, `one log line per review at least (got ${end.logLines})`);
    // The review paths catch their own failures (refuse, or allow without warnings) and log them as errors: none may happen.
    assert.deepEqual(end.errorLines, [], 'reviews that failed inside the webhook');
    assert.ok(end.memory.heapUsed - warm.heapUsed < HEAP_TOLERANCE, `heap grew by ${MiB(end.memory.heapUsed - warm.heapUsed)} (tolerance ${MiB(HEAP_TOLERANCE)})`);
    assert.ok(end.memory.arrayBuffers - warm.arrayBuffers < BUFFER_TOLERANCE, `buffers grew by ${MiB(end.memory.arrayBuffers - warm.arrayBuffers)} (tolerance ${MiB(BUFFER_TOLERANCE)})`);
    assert.ok(end.memory.rss - half.rss < RSS_TOLERANCE, `rss grew by ${MiB(end.memory.rss - half.rss)} in the second half (tolerance ${MiB(RSS_TOLERANCE)})`);
  });
});
