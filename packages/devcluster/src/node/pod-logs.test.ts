import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseCriLogLine, parsePodLogDir, readPodLogs, type ContainerRef } from './pod-logs.ts';

test('parsePodLogDir: <namespace>_<pod>_<uid>, anything else ignored', () => {
  const rows: [string, ReturnType<typeof parsePodLogDir>][] = [
    ['demo_demo-app-7c9f_0b1c-22', { namespace: 'demo', pod: 'demo-app-7c9f', uid: '0b1c-22' }],
    ['kube-system_coredns_x', { namespace: 'kube-system', pod: 'coredns', uid: 'x' }],
    ['no-separators', undefined],
    ['a__b', undefined],
    ['a_b_c_d', undefined],
  ];
  for (const [name, expected] of rows) assert.deepEqual(parsePodLogDir(name), expected, name);
});

test('parseCriLogLine: time, stream, full or partial, text', () => {
  const rows: [string, ReturnType<typeof parseCriLogLine>][] = [
    ['2026-12-01T07:00:00.1Z stdout F {"msg":"hi"}', { time: '2026-12-01T07:00:00.1Z', stream: 'stdout', full: true, text: '{"msg":"hi"}' }],
    ['2026-12-01T07:00:00.1Z stderr P half', { time: '2026-12-01T07:00:00.1Z', stream: 'stderr', full: false, text: 'half' }],
    ['2026-12-01T07:00:00.1Z stdout F ', { time: '2026-12-01T07:00:00.1Z', stream: 'stdout', full: true, text: '' }],
    ['garbage', undefined],
  ];
  for (const [line, expected] of rows) assert.deepEqual(parseCriLogLine(line), expected, line);
});

test('readPodLogs: each full line once, partial lines joined, a line split across reads kept whole', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-logs-'));
  try {
    const logDir = path.join(dir, 'demo_app-1_uid-1', 'app');
    await mkdir(logDir, { recursive: true });
    const file = path.join(logDir, '0.log');
    const seen: [ContainerRef, string][] = [];
    const reader = readPodLogs(dir, (ref, line) => seen.push([ref, line]), 60_000);
    await appendFile(file, 't stdout F one\nt stdout P tw');
    reader.poll();
    await appendFile(file, 'o-a\nt stdout F -b\n');
    reader.poll();
    reader.poll();
    reader.stop();
    const ref = { namespace: 'demo', pod: 'app-1', uid: 'uid-1', container: 'app' };
    assert.deepEqual(seen, [
      [ref, 'one'],
      [ref, 'two-a-b'],
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readPodLogs: the last lines of a log the kubelet removed, and of one it rotated, are still read', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-logs-'));
  try {
    const removed = path.join(dir, 'demo_gone_uid-1', 'sidecar');
    const rotated = path.join(dir, 'demo_long_uid-2', 'app');
    await mkdir(removed, { recursive: true });
    await mkdir(rotated, { recursive: true });
    await appendFile(path.join(removed, '0.log'), 't stdout F started\n');
    await appendFile(path.join(rotated, '0.log'), 't stdout F first\n');
    const seen: string[] = [];
    const reader = readPodLogs(dir, (ref, line) => seen.push(`${ref.pod}: ${line}`), 60_000);
    reader.poll();
    const stillOpen = await open(path.join(removed, '0.log'), 'a');
    await stillOpen.appendFile('t stdout F token revoked\n');
    await rm(path.join(dir, 'demo_gone_uid-1'), { recursive: true });
    await stillOpen.appendFile('t stdout F after unlink\n');
    await stillOpen.close();
    await appendFile(path.join(rotated, '0.log'), 't stdout F second\n');
    await rename(path.join(rotated, '0.log'), path.join(rotated, '0.log.20261201-000000'));
    await appendFile(path.join(rotated, '0.log'), 't stdout F third\n');
    reader.poll();
    reader.stop();
    assert.deepEqual(seen.sort(), ['gone: after unlink', 'gone: started', 'gone: token revoked', 'long: first', 'long: second', 'long: third']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
