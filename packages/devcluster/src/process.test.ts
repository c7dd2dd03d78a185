import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { isCourierError } from '@vault-courier/core';
import { ComponentDiedError, diedOfPortClash, startProcess, waitUntilReady, withPortRetry } from './process.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return false;
}

describe('process', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'devcluster-process-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a process that dies before it is ready is reported with the tail of its log', async () => {
    const proc = startProcess({ name: 'broken', command: '/bin/sh', args: ['-c', 'echo starting; echo "fatal: cannot open the data dir" >&2; exit 3'], logPath: join(dir, 'broken.log') });
    await assert.rejects(
      waitUntilReady(proc, async () => false, 5000),
      (err: unknown) => {
        assert.ok(err instanceof ComponentDiedError);
        assert.equal(err.component, 'broken');
        assert.equal(err.portClash, false);
        assert.match(err.message, /broken exited with code 3 before it was ready/);
        assert.match(err.message, /fatal: cannot open the data dir/);
        return true;
      },
    );
  });

  test('a missing binary names itself and the set-up command', () => {
    assert.throws(
      () => startProcess({ name: 'etcd', command: join(dir, 'no-such-etcd'), args: [], logPath: join(dir, 'x.log') }),
      (err: unknown) => isCourierError(err, 'config') && /etcd is missing/.test(err.message) && err.message.includes('bash scripts/setup.sh'),
    );
  });

  test('stop() kills the whole process group, children included, and is idempotent', async () => {
    const pidFile = join(dir, 'child.pid');
    // The leader ignores SIGTERM, so stop() must escalate to SIGKILL.
    const proc = startProcess({
      name: 'stubborn',
      command: '/bin/sh',
      args: ['-c', `trap '' TERM; sleep 300 & echo $! > ${pidFile}; wait`],
      logPath: join(dir, 'stubborn.log'),
    });
    await waitUntilReady(proc, async () => (await readFile(pidFile, 'utf8')).trim() !== '', 5000);
    const childPid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(alive(childPid));
    await Promise.all([proc.stop(200), proc.stop(200)]);
    assert.equal(alive(proc.pid), false);
    assert.ok(await waitGone(childPid), 'the child of the leader is gone too');
  });

  test('processes die with the Node process that started them, even on SIGTERM', async () => {
    const script = `
      import { startProcess } from ${JSON.stringify(new URL('./process.ts', import.meta.url).href)};
      const p = startProcess({ name: 'sleeper', command: '/bin/sleep', args: ['300'], logPath: ${JSON.stringify(join(dir, 'sleeper.log'))} });
      console.log(p.pid);
      setInterval(() => {}, 1000);
    `;
    const child = execFile(process.execPath, ['--input-type=module', '-e', script]);
    const pid = await new Promise<number>((resolve) => child.stdout?.once('data', (line: Buffer) => resolve(Number(line.toString().trim()))));
    assert.ok(alive(pid));
    child.kill('SIGTERM');
    assert.ok(await waitGone(pid), 'the sleeper was killed by the exit handler');
  });

  test('withPortRetry starts again only when a port was taken', async () => {
    let attempts = 0;
    const clash = startProcess({ name: 'clash', command: '/bin/sh', args: ['-c', 'echo "listen tcp 127.0.0.1:4001: bind: address already in use" >&2; exit 1'], logPath: join(dir, 'clash.log') });
    await clash.exited;
    const value = await withPortRetry(async () => {
      attempts++;
      if (attempts === 1) await waitUntilReady(clash, async () => false, 1000);
      return 'started';
    });
    assert.equal(value, 'started');
    assert.equal(attempts, 2);

    let other = 0;
    await assert.rejects(
      withPortRetry(async () => {
        other++;
        throw new Error('not a port problem');
      }),
      /not a port problem/,
    );
    assert.equal(other, 1);
  });
});

test('diedOfPortClash reads the bind failures of etcd, kube-apiserver, vault and postgres', () => {
  const cases: Array<[string, boolean]> = [
    ['listen tcp 127.0.0.1:2379: bind: address already in use', true],
    ['failed to listen: listen tcp 127.0.0.1:6443: bind: address already in use', true],
    ['LOG:  could not bind IPv4 address "127.0.0.1": Address already in use', true],
    ['error initializing listener: EADDRINUSE', true],
    ['open /data/member: permission denied', false],
    ['', false],
  ];
  for (const [line, expected] of cases) assert.equal(diedOfPortClash(line), expected, line);
});
