/**
 * The `vault-courier status` process's refusals, through the npm bin's entry (cli.ts) run
 * as a process: every bad input names the flag and the fix, an unreachable cluster names
 * its address. The command against a real cluster: test/e2e/rotation.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runStatus } from './status-cli.ts';

const CLI = path.join(import.meta.dirname, '..', 'cli.ts');

function cli(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr }));
  });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const refusals: { name: string; args: string[]; message: RegExp }[] = [
  { name: 'an unknown output format names -o and the choices', args: ['status', '-o', 'yaml'], message: /^-o\/--output: "yaml" is not an output format; use table or json$/ },
  { name: '-n with -A', args: ['status', '-n', 'shop', '-A'], message: /^-n\/--namespace and -A\/--all-namespaces exclude each other: pick one$/ },
  { name: 'an unknown flag', args: ['status', '--namespaces', 'x'], message: /Unknown option '--namespaces'/ },
];

for (const row of refusals) {
  test(`vault-courier status refuses ${row.name}, before reading any kubeconfig`, async () => {
    await assert.rejects(runStatus(row.args, () => assert.fail('nothing is printed')), { message: row.message });
  });
}

test('vault-courier status -h: usage, exit 0', async () => {
  assert.equal(await runStatus(['status', '-h'], () => assert.fail('the usage goes to stderr')), 0);
});

test('vault-courier with no command: both usages, exit 2 (the bin entry as a process)', async () => {
  const res = await cli([]);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /usage: vault-courier render -f[\s\S]*vault-courier status \[-n NAMESPACE \| -A\]/);
});

test('vault-courier status: an unreachable cluster is named with its address and the fix', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vault-courier-status-'));
  try {
    const port = await closedPort();
    const file = path.join(dir, 'kubeconfig');
    await writeFile(
      file,
      ['apiVersion: v1', 'kind: Config', 'clusters: [{name: c, cluster: {server: "https://127.0.0.1:' + port + '"}}]', 'users: [{name: u, user: {token: x}}]', 'contexts: [{name: c, context: {cluster: c, user: u, namespace: shop}}]', 'current-context: c', ''].join('\n'),
    );
    const res = await cli(['status', '--kubeconfig', file]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, new RegExp(`^vault-courier status: cannot reach the API server at https://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): check --kubeconfig or KUBECONFIG`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
