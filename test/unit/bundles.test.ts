/**
 * Each Dockerfile copies one file, packages/<name>/dist/<name>.mjs, onto a bare Node image.
 * Prove that file runs alone: copy it into an empty directory (no node_modules above it)
 * and start it with an empty environment. It must load every module it bundles and stop
 * on its configuration, naming a variable — not on a missing module.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
// Each image's bundle, and the variables its refusal of an empty environment names.
const VARIABLES = { webhook: /VAULT_COURIER_[A-Z_]+/, init: /VAULT_COURIER_[A-Z_]+/, sidecar: /VAULT_COURIER_[A-Z_]+/, 'demo-app': /DEMO_[A-Z_]+/ } as const;
const BINARIES = Object.keys(VARIABLES) as (keyof typeof VARIABLES)[];
const SNAPSHOTS = ['init'] as const;

before(() => {
  execFileSync(process.execPath, [path.join(root, 'scripts/bundle.ts'), ...BINARIES], { cwd: root, stdio: 'inherit' });
});

for (const name of BINARIES) {
  test(`${name}.mjs runs from an empty directory with no node_modules`, () => {
    const bundle = path.join(root, 'packages', name, 'dist', `${name}.mjs`);
    const dir = mkdtempSync(path.join(tmpdir(), `vc-bundle-${name}-`));
    try {
      const copy = path.join(dir, `${name}.mjs`);
      copyFileSync(bundle, copy);
      const run = spawnSync(process.execPath, [copy], { cwd: dir, env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8', timeout: 20_000 });
      const output = `${run.stdout}\n${run.stderr}`;
      assert.doesNotMatch(output, /ERR_MODULE_NOT_FOUND|Cannot find (module|package)|Dynamic require/, `the bundle reached outside itself:\n${output}`);
      assert.notEqual(run.status, 0, 'an empty environment must stop the process');
      assert.match(output, VARIABLES[name], `the error should name the missing variable:\n${output}`);
      console.log(`${name}.mjs: ${Math.round(statSync(bundle).size / 1024)} KiB`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const name of SNAPSHOTS) {
  test(`${name}.blob, the startup snapshot its image runs, starts alone and reads the environment it is started with`, () => {
    const blob = path.join(root, 'packages', name, 'dist', `${name}.blob`);
    assert.deepEqual(readdirSync(path.dirname(blob)).filter((f) => f.endsWith('.cjs')), [], 'the snapshot script is left in dist/');
    const dir = mkdtempSync(path.join(tmpdir(), `vc-snapshot-${name}-`));
    try {
      const copy = path.join(dir, `${name}.blob`);
      copyFileSync(blob, copy);
      const start = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['--snapshot-blob', copy], { cwd: dir, env: { PATH: '/usr/bin:/bin', ...env }, encoding: 'utf8', timeout: 20_000 });
      const empty = start({});
      assert.equal(empty.status, 2, `an empty environment must stop it as invalid configuration:\n${empty.stdout}${empty.stderr}`);
      assert.match(empty.stdout, /VAULT_COURIER_VAULT_ADDR: is required/);
      // The environment of the build (none of these were set) must not have been frozen into the snapshot.
      const named = start({ VAULT_COURIER_VAULT_ADDR: 'http://127.0.0.1:1' });
      assert.equal(named.status, 2);
      assert.doesNotMatch(named.stdout, /VAULT_COURIER_VAULT_ADDR: is required/, 'the snapshot ignored the environment it was started with');
      assert.match(named.stdout, /VAULT_COURIER_ROLE: is required/);
      console.log(`${name}.blob: ${Math.round(statSync(blob).size / 1024)} KiB`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
