/**
 * scripts/demo-kind.sh (npm run demo:kind) up to the point where it would touch Docker:
 * its pre-flight names each missing tool with where to get it, and it never touches a kind
 * cluster it did not create. This machine has no Docker engine, so docker, kind, kubectl
 * and helm are stand-ins here (small scripts that record how they were called): fault
 * injectors for the pre-flight and ownership checks only. What runs after the cluster
 * exists is the shared path test/e2e/demo.test.ts runs on the embedded cluster.
 * Also: every shell script of the project passes shellcheck.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'demo-kind.sh');
const CLUSTER = 'vault-courier-demo';

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vault-courier-kind-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A bin directory holding only `dirname` (the script's first external command) and the given stand-ins. */
function binDir(dir: string, standIns: Record<string, string>): string {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(execFileSync('/bin/bash', ['-c', 'command -v dirname']).toString().trim(), path.join(bin, 'dirname'));
  for (const [name, body] of Object.entries(standIns)) {
    writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >> "${path.join(dir, 'calls.log')}"\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  }
  return bin;
}

function runScript(env: Record<string, string>, args: string[] = []) {
  const result = spawnSync('/bin/bash', [SCRIPT, ...args], { env: { HOME: env.HOME ?? tmpdir(), ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stderr: result.stderr, stdout: result.stdout };
}

const calls = (dir: string): string[] => (existsSync(path.join(dir, 'calls.log')) ? readFileSync(path.join(dir, 'calls.log'), 'utf8').trim().split('\n') : []);

test('pre-flight: with none of docker, kind, kubectl and helm on PATH, each is named with where to get it', (t) => {
  const dir = scratch(t);
  const { code, stderr } = runScript({ PATH: binDir(dir, {}) });
  assert.equal(code, 1, stderr);
  for (const [tool, where] of [
    ['docker', 'https://docs.docker.com/engine/install/'],
    ['kind', 'https://kind.sigs.k8s.io/docs/user/quick-start/#installation'],
    ['kubectl', 'https://kubernetes.io/docs/tasks/tools/#kubectl'],
    ['helm', 'https://helm.sh/docs/intro/install/'],
  ] as const) {
    assert.ok(stderr.split('\n').some((l) => l.includes(`missing: ${tool};`) && l.includes(where)), `${tool} named with ${where}:\n${stderr}`);
  }
  assert.match(stderr, /install the missing tools above, then rerun: npm run demo:kind/);
});

test('pre-flight: only the missing one is named, and nothing is run', (t) => {
  const dir = scratch(t);
  const { code, stderr } = runScript({ PATH: binDir(dir, { docker: 'exit 0', kind: 'exit 0', helm: 'exit 0' }) });
  assert.equal(code, 1, stderr);
  assert.deepEqual(stderr.split('\n').filter((l) => l.includes('missing:')), ['demo:kind: missing: kubectl; install kubectl: https://kubernetes.io/docs/tasks/tools/#kubectl']);
  assert.deepEqual(calls(dir), [], 'no tool was called before every one was found');
});

test('pre-flight: docker without an engine answering is told apart from docker missing', (t) => {
  const dir = scratch(t);
  const { code, stderr } = runScript({ PATH: binDir(dir, { docker: 'exit 1', kind: 'exit 0', kubectl: 'exit 0', helm: 'exit 0' }) });
  assert.equal(code, 1, stderr);
  assert.match(stderr, /docker is installed but its engine does not answer \(docker info failed\): start Docker/);
  assert.deepEqual(calls(dir), ['docker info']);
});

/** Stand-ins for a machine where a kind cluster named vault-courier-demo exists, its node container having `nodeId`. */
function existingCluster(nodeId: string): Record<string, string> {
  return {
    docker: `case $1 in info) exit 0 ;; inspect) echo ${nodeId} ;; *) exit 1 ;; esac`,
    // create fails: the run stops there, before anything needs a real cluster.
    kind: `case "$1 $2" in "get clusters") echo other; echo ${CLUSTER} ;; "delete cluster") exit 0 ;; *) exit 1 ;; esac`,
    kubectl: 'exit 0',
    helm: 'exit 0',
  };
}

for (const [why, marker] of [
  ['no marker at all (made by hand, or by another tool)', undefined],
  ['a marker naming another node container (deleted and made again by someone else)', 'node-id-of-ours'],
] as const) {
  test(`ownership: a kind cluster named ${CLUSTER} with ${why} is refused and left alone`, (t) => {
    const dir = scratch(t);
    const markers = path.join(dir, 'markers');
    if (marker !== undefined) {
      mkdirSync(markers);
      writeFileSync(path.join(markers, `${CLUSTER}.owner`), `${marker}\n`);
    }
    // The real tools after the stand-ins (grep, cat); the stand-ins shadow any real kubectl there.
    const { code, stderr } = runScript({ PATH: `${binDir(dir, existingCluster('node-id-of-someone-else'))}:/usr/bin:/bin`, VAULT_COURIER_KIND_MARKERS: markers });
    assert.equal(code, 1, stderr);
    assert.match(stderr, new RegExp(`a kind cluster named ${CLUSTER} exists and was not created by npm run demo:kind; it is left alone`));
    const made = calls(dir);
    assert.ok(!made.some((c) => /^kind (delete|create)|^docker (build|rm|stop|kill)/.test(c)), `nothing was deleted, created or built: ${made.join('; ')}`);
  });
}

test(`ownership: the cluster it made itself (--keep) is deleted and made again`, (t) => {
  const dir = scratch(t);
  const markers = path.join(dir, 'markers');
  mkdirSync(markers);
  writeFileSync(path.join(markers, `${CLUSTER}.owner`), 'node-id-of-ours\n');
  // The stand-in kind refuses to create, so the script stops before its set-up (which would
  // run npm ci in this checkout if its lock stamp were stale) and before any Node.
  const bin = binDir(dir, existingCluster('node-id-of-ours'));
  const { code, stderr } = runScript({ PATH: `${bin}:/usr/bin:/bin`, VAULT_COURIER_KIND_MARKERS: markers, HOME: process.env.HOME ?? '' });
  assert.equal(code, 1, 'the stand-in kind refuses to create, so the run stops there');
  assert.match(stderr, /recreating kind cluster vault-courier-demo, left by an earlier npm run demo:kind -- --keep/);
  const made = calls(dir);
  assert.ok(made.includes(`kind delete cluster --name ${CLUSTER}`), made.join('; '));
  assert.ok(made.includes(`kind create cluster --name ${CLUSTER} --wait 120s`), made.join('; '));
  assert.equal(existsSync(path.join(markers, `${CLUSTER}.owner`)), false, 'the marker goes with the cluster it named');
});

test('unknown arguments are refused before anything runs', (t) => {
  const dir = scratch(t);
  const { code, stderr } = runScript({ PATH: binDir(dir, {}) }, ['--kep']);
  assert.equal(code, 1);
  assert.match(stderr, /unknown argument '--kep'; usage: npm run demo:kind \[-- --keep\] \[--once\] \[--ttl=<seconds, >= 20>\]/);
});

test('shellcheck: every shell script of the project is clean (the kind script included)', () => {
  const scripts = ['scripts', 'scripts/images', 'scripts/real-parts']
    .flatMap((d) => (existsSync(path.join(ROOT, d)) ? readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith('.sh')).map((f) => path.join(d, f)) : []));
  assert.ok(scripts.includes('scripts/demo-kind.sh'), `the kind script is among them: ${scripts.join(' ')}`);
  const result = spawnSync('shellcheck', scripts, { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.error, undefined, 'shellcheck is installed (scripts/setup.sh installs it)');
  assert.equal(result.status, 0, result.stdout);
});
