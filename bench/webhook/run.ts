/**
 * POST /mutate on loopback: latency (p50, p99) one request at a time, then the maximum
 * throughput with concurrent keep-alive connections, for a realistic pod (a Deployment's
 * pod with an init container, two containers, a volume and two secrets:
 * test/fixtures/admission/own-init-containers.review.json). The webhook runs in its own
 * process pinned to one core (taskset -c 0) when taskset exists.
 * Usage: node bench/webhook/run.ts [--requests N] [--seconds S] [--concurrency C]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createTestPki } from '../../test/helpers/webhook-tls.ts';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { requests: { type: 'string', default: '3000' }, seconds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '32' } } });
const body = readFileSync(path.join(root, 'test/fixtures/admission/own-init-containers.review.json'));

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function post(url: string, agent: Agent): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(`${url}/mutate`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function sequential(url: string, agent: Agent, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await post(url, agent));
  return times.sort((a, b) => a - b);
}

async function saturate(url: string, agent: Agent, concurrency: number, seconds: number): Promise<{ count: number; times: number[] }> {
  const until = Date.now() + seconds * 1000;
  const times: number[] = [];
  const worker = async (): Promise<void> => {
    while (Date.now() < until) times.push(await post(url, agent));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { count: times.length, times: times.sort((a, b) => a - b) };
}

const pki = await createTestPki();
const pin = existsSync('/usr/bin/taskset') ? ['/usr/bin/taskset', '-c', '0'] : [];
const [command, ...args] = [...pin, process.execPath, path.join(import.meta.dirname, 'server.ts'), pki.serving.certPath, pki.serving.keyPath];
const server = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
try {
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: server.stdout! }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`the webhook exited with ${code}`)));
  });
  const requests = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const seconds = Number(values.seconds);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: pki.ca.certPem });
  await sequential(url, agent, 500); // warm-up: JIT, TLS sessions
  const one = await sequential(url, agent, requests);
  const load = await saturate(url, agent, concurrency, seconds);
  agent.destroy();
  const ms = (v: number) => v.toFixed(2);
  console.log(`POST /mutate, ${body.length} B review, webhook pinned to ${pin.length > 0 ? 'core 0' : 'no core (taskset missing)'}, Node ${process.version}`);
  console.log('| scenario | requests | p50 ms | p99 ms | max ms | req/s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  console.log(`| 1 connection, sequential | ${one.length} | ${ms(percentile(one, 50))} | ${ms(percentile(one, 99))} | ${ms(one.at(-1) ?? 0)} | ${(one.length / (one.reduce((a, b) => a + b, 0) / 1000)).toFixed(0)} |`);
  console.log(`| ${concurrency} connections, ${seconds} s | ${load.count} | ${ms(percentile(load.times, 50))} | ${ms(percentile(load.times, 99))} | ${ms(load.times.at(-1) ?? 0)} | ${(load.count / seconds).toFixed(0)} |`);
} finally {
  server.kill('SIGTERM');
  await pki.remove();
}
