/**
 * Builds each binary into one self-contained ESM bundle, packages/<name>/dist/<name>.mjs,
 * that runs with `node` and no node_modules (the Dockerfiles copy only that file).
 * Usage: node scripts/bundle.ts [name...]
 */
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { asciiOnly, sideEffectFreeClientNode } from './bundle-memory.ts';

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

async function bundle(name: string): Promise<void> {
  const { entry, outfile } = locate(name);
  if (!existsSync(entry)) throw new Error(`bundle: ${entry} does not exist`);
  const started = performance.now();
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    // Error class names survive minification, so logs say `type: "CourierError"`.
    keepNames: true,
    sourcemap: false,
    legalComments: 'eof',
    banner: { js: banner },
    logLevel: 'warning',
    plugins: [sideEffectFreeClientNode],
  });
  asciiOnly(outfile);
  console.log(`bundle: ${path.relative(root, outfile)} in ${Math.round(performance.now() - started)} ms`);
}

if (import.meta.main) {
  const requested = process.argv.slice(2);
  const names = requested.length > 0 ? requested : [...BINARIES, ...Object.keys(EXTRA_BUNDLES)].filter((n) => existsSync(locate(n).entry));
  for (const name of names) await bundle(name);
}
