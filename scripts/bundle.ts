/**
 * Builds each binary into one self-contained ESM bundle, packages/<name>/dist/<name>.mjs,
 * that runs with `node` and no node_modules (the Dockerfiles copy only that file). The init
 * container also gets a V8 startup snapshot, packages/init/dist/init.blob, which its image
 * runs (`node --snapshot-blob /app/init.blob`): its modules are evaluated at build time, not
 * at every pod's start (docs/performance.md, "Init"). A snapshot only runs on the Node
 * binary that built it, so the image builds it in its build stage, from the same base.
 * Usage: node scripts/bundle.ts [name...]
 */
import { build, type BuildOptions } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { asciiOnly, identifierOptions, sideEffectFreeClientNode } from './bundle-memory.ts';

const root = path.resolve(import.meta.dirname, '..');
export const BINARIES = ['webhook', 'init', 'sidecar', 'demo-app'] as const;

/** Bundles that are not a container's entry point: `vault-courier render` and `status`, the npm bin. */
const EXTRA_BUNDLES: Record<string, { entry: string; outfile: string }> = {
  'vault-courier': { entry: 'packages/webhook/src/cli.ts', outfile: 'packages/webhook/dist/vault-courier.mjs' },
};

function locate(name: string): { entry: string; outfile: string } {
  const extra = EXTRA_BUNDLES[name];
  if (extra) return { entry: path.join(root, extra.entry), outfile: path.join(root, extra.outfile) };
  return { entry: path.join(root, 'packages', name, 'src', 'main.ts'), outfile: path.join(root, 'packages', name, 'dist', `${name}.mjs`) };
}

// CommonJS dependencies (express, pino, axios) call require() on Node built-ins; an ESM
// bundle has no require, so give it one.
const banner = "import { createRequire as __vcCreateRequire } from 'node:module'; const require = __vcCreateRequire(import.meta.url);";

/** Binaries whose image starts from a snapshot: packages/<name>/dist/<name>.blob. */
export const SNAPSHOTS = ['init'] as const;

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  minify: true,
  // Error class names survive minification, so logs say `type: "CourierError"`.
  keepNames: true,
  sourcemap: false,
  legalComments: 'eof',
  logLevel: 'warning',
  plugins: [sideEffectFreeClientNode],
};

/** `node --build-snapshot` takes one CommonJS script; the main module registers its start with startupSnapshot. */
async function snapshot(name: string, entry: string): Promise<void> {
  const started = performance.now();
  const dist = path.join(root, 'packages', name, 'dist');
  const script = path.join(dist, `${name}.snapshot.cjs`);
  const blob = path.join(dist, `${name}.blob`);
  await build({ ...common, entryPoints: [entry], outfile: script, format: 'cjs' });
  asciiOnly(script);
  try {
    // Its warnings (worker_threads, module: "not yet fully verified") are about modules
    // pino loads but the init container never starts a worker with; test/unit/bundles.test.ts
    // and the e2e runs prove the snapshot delivers.
    execFileSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', script], { cwd: dist, stdio: ['ignore', 'inherit', 'pipe'] });
  } finally {
    rmSync(script, { force: true });
  }
  console.log(`bundle: ${path.relative(root, blob)} (startup snapshot) in ${Math.round(performance.now() - started)} ms`);
}

async function bundle(name: string): Promise<void> {
  const { entry, outfile } = locate(name);
  if (!existsSync(entry)) throw new Error(`bundle: ${entry} does not exist`);
  const started = performance.now();
  await build({ ...common, entryPoints: [entry], outfile, format: 'esm', banner: { js: banner }, ...identifierOptions(name) });
  asciiOnly(outfile);
  console.log(`bundle: ${path.relative(root, outfile)} in ${Math.round(performance.now() - started)} ms`);
  if ((SNAPSHOTS as readonly string[]).includes(name)) await snapshot(name, entry);
}

if (import.meta.main) {
  const requested = process.argv.slice(2);
  const names = requested.length > 0 ? requested : [...BINARIES, ...Object.keys(EXTRA_BUNDLES)].filter((n) => existsSync(locate(n).entry));
  for (const name of names) await bundle(name);
}
