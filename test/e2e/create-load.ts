/**
 * A fixed-rate load of dry-run pod creations against the real API server, run as a child
 * process inside the cluster's network namespace (webhook-load.test.ts starts it with
 * nsenter), so its bytes go straight to the API server rather than through the test
 * process's loopback forwarder, and its CPU is its own to measure.
 *
 * Open loop: creation i is due at start + i / rate whatever the answers before it did, and
 * its latency is measured from when it was due, so a slow API server shows as latency
 * rather than as a lower rate (no coordinated omission). One JSON line on stdout when it
 * starts, one a second, one with the result; never a pod body.
 *
 * Usage: node create-load.ts '<LoadSpec as JSON>'
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { performance } from 'node:perf_hooks';

export interface LoadSpec {
  /** The API server as the namespace's processes reach it. */
  readonly apiServerUrl: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly namespace: string;
  /** A pod; each creation names it `<prefix>-<i>`. */
  readonly pod: Record<string, unknown>;
  readonly namePrefix: string;
  readonly ratePerSecond: number;
  readonly durationMs: number;
  /** Keep-alive connections at most (creations beyond them queue in the client). */
  readonly maxSockets: number;
  /** The annotation (key and value) every answer must carry. */
  readonly injectedAnnotation: readonly [string, string];
  /** Every n-th answer is parsed whole and must hold these init containers, in order. */
  readonly spotCheckEvery: number;
  readonly initContainerNames: readonly string[];
  /** Whether a creation that failed because the API server could not call the webhook is tried once more, after this delay. */
  readonly retryWebhookCallFailureAfterMs?: number;
}

export interface LoadError {
  readonly i: number;
  /** Milliseconds after the load's start when the creation was due. */
  readonly dueMs: number;
  /** When its answer came, milliseconds after the start. */
  readonly atMs: number;
  readonly status: number;
  /** The first 400 characters of the API server's message (no pod body: the API server quotes none). */
  readonly message: string;
  /** Whether one more try, with retryWebhookCallFailureAfterMs, succeeded. */
  readonly retried?: 'succeeded' | 'failed';
}

export interface LoadResult {
  readonly event: 'result';
  readonly due: number;
  readonly completed: number;
  readonly created: number;
  readonly injected: number;
  readonly spotChecked: number;
  readonly spotCheckFailures: number;
  readonly errors: readonly LoadError[];
  /** Completed creations per second between the first due time and the last answer. */
  readonly achievedPerSecond: number;
  /** How late the client sent, at worst (ms): above a few ms the generator is not keeping up. */
  readonly maxSendLagMs: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  /** The generator's own CPU over the run, in cores (user + system seconds / wall seconds). */
  readonly clientCpuCores: number;
  readonly wallMs: number;
}

/** The q-quantile (0..1) of ascending `sorted`, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** The API server's answer when it could not reach the webhook (failurePolicy Fail). */
export function isWebhookCallFailure(status: number, message: string): boolean {
  return status === 500 && message.includes('failed calling webhook');
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

function print(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(`/api/v1/namespaces/${spec.namespace}/pods?dryRun=All`, spec.apiServerUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: spec.maxSockets, ca: readFileSync(spec.caFile), cert: readFileSync(spec.certFile), key: readFileSync(spec.keyFile) });
  // The body is the same but for the name: split once around a placeholder.
  const PLACEHOLDER = '\u0000name\u0000';
  const template = JSON.stringify({ ...spec.pod, metadata: { ...(spec.pod.metadata as object), name: PLACEHOLDER } });
  const [head, tail] = template.split(JSON.stringify(PLACEHOLDER)) as [string, string];
  const [annotationKey, annotationValue] = spec.injectedAnnotation;
  const injectedMark = `${JSON.stringify(annotationKey)}:${JSON.stringify(annotationValue)}`;

  const send = (name: string): Promise<Answer> =>
    new Promise((resolve) => {
      const body = `${head}${JSON.stringify(name)}${tail}`;
      const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => resolve({ status: 0, body: err.message }));
      });
      req.on('error', (err) => resolve({ status: 0, body: `client: ${err.message}` }));
      req.end(body);
    });

  const total = Math.round((spec.ratePerSecond * spec.durationMs) / 1000);
  const latencies: number[] = [];
  const errors: LoadError[] = [];
  let completed = 0;
  let created = 0;
  let injected = 0;
  let spotChecked = 0;
  let spotCheckFailures = 0;
  let maxSendLagMs = 0;
  let lastAnswerAt = 0;
  const inFlight = new Set<Promise<void>>();

  const messageOf = (answer: Answer): string => {
    try {
      return String((JSON.parse(answer.body) as { message?: unknown }).message ?? answer.body).slice(0, 400);
    } catch {
      return answer.body.slice(0, 400);
    }
  };
  const check = (i: number, answer: Answer): boolean => {
    if (answer.status !== 201) return false;
    created++;
    if (answer.body.includes(injectedMark)) injected++;
    if (i % spec.spotCheckEvery === 0) {
      spotChecked++;
      const pod = JSON.parse(answer.body) as { spec?: { initContainers?: { name?: string }[] }; metadata?: { annotations?: Record<string, string> } };
      const names = (pod.spec?.initContainers ?? []).map((c) => c.name);
      const ok = JSON.stringify(names) === JSON.stringify(spec.initContainerNames) && pod.metadata?.annotations?.[annotationKey] === annotationValue;
      if (!ok) spotCheckFailures++;
    }
    return true;
  };

  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const startEpoch = Date.now();
  print({ event: 'started', epochMs: startEpoch, due: total });
  const creation = async (i: number, dueAt: number): Promise<void> => {
    const name = `${spec.namePrefix}-${i}`;
    const answer = await send(name);
    const now = performance.now();
    lastAnswerAt = now;
    completed++;
    latencies.push(now - dueAt);
    if (check(i, answer)) return;
    const message = messageOf(answer);
    const failure = { i, dueMs: Math.round(dueAt - start), atMs: Math.round(now - start), status: answer.status, message };
    const retryAfter = spec.retryWebhookCallFailureAfterMs;
    if (retryAfter === undefined || !isWebhookCallFailure(answer.status, message)) {
      errors.push(failure);
      return;
    }
    await new Promise((r) => setTimeout(r, retryAfter));
    errors.push({ ...failure, retried: check(i, await send(name)) ? 'succeeded' : 'failed' });
  };

  let next = 0;
  let lastTick = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      const now = performance.now();
      while (next < total) {
        const dueAt = start + (next * 1000) / spec.ratePerSecond;
        if (dueAt > now) break;
        maxSendLagMs = Math.max(maxSendLagMs, now - dueAt);
        const p = creation(next, dueAt).finally(() => inFlight.delete(p));
        inFlight.add(p);
        next++;
      }
      const second = Math.floor((now - start) / 1000);
      if (second > lastTick) {
        lastTick = second;
        print({ event: 'tick', second, due: next, completed, errors: errors.length, inFlight: inFlight.size });
      }
      if (next < total) setTimeout(pump, 1);
      else resolve();
    };
    pump();
  });
  await Promise.all(inFlight);
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    event: 'result',
    due: total,
    completed,
    created,
    injected,
    spotChecked,
    spotCheckFailures,
    errors,
    achievedPerSecond: round(completed / ((lastAnswerAt - start) / 1000)),
    maxSendLagMs: round(maxSendLagMs),
    latencyMs: { p50: round(quantile(latencies, 0.5)), p90: round(quantile(latencies, 0.9)), p99: round(quantile(latencies, 0.99)), max: round(latencies.at(-1) ?? Number.NaN) },
    clientCpuCores: round((cpu.user + cpu.system) / 1000 / wallMs),
    wallMs: Math.round(wallMs),
  };
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  process.on('SIGTERM', () => process.exit(143));
  print(await run(spec));
}
