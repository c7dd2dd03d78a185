/**
 * What keeps the bundles' memory down (docs/performance.md, "Webhook"). Two things cost a
 * running process memory without doing anything for it:
 * - @kubernetes/client-node's package.json does not say its modules are free of side
 *   effects, so esbuild keeps every module it reaches: `KubeConfig` alone reaches the whole
 *   generated API (2,700 files, ~1 MB minified, ~15 MiB of heap once evaluated). Marked
 *   side-effect free, the bundle keeps only the modules whose exports are used. Its one
 *   module with a side effect, polyfill.js (the `File` global on Node 18), stays.
 * - V8 keeps a bundle's source for lazy compilation, as one byte per character only if every
 *   character is Latin-1 and the file is ASCII-clean; one `ä` in a licence comment made the
 *   webhook's 3.4 MB source a 6.7 MB two-byte string. esbuild escapes non-ASCII in code,
 *   not in the legal comments it keeps, so asciiOnly() escapes those.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';

const CLIENT_NODE = '/@kubernetes/client-node/';
const WITH_SIDE_EFFECTS = /\/@kubernetes\/client-node\/dist\/polyfill\.js$/;

export const sideEffectFreeClientNode: Plugin = {
  name: 'side-effect-free-client-node',
  setup(build) {
    // Its modules import each other by relative path with the extension: no resolver needed
    // (esbuild's, called per file, made the webhook's bundle take 10 s instead of 1).
    build.onResolve({ filter: /^\./ }, (args) => {
      if (!args.importer.includes(CLIENT_NODE)) return undefined;
      const file = path.join(args.resolveDir, args.path);
      return WITH_SIDE_EFFECTS.test(file) ? { path: file } : { path: file, sideEffects: false };
    });
    build.onResolve({ filter: /^@kubernetes\/client-node(\/|$)/ }, async (args) => {
      if (args.pluginData === CLIENT_NODE) return undefined;
      const resolved = await build.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: CLIENT_NODE });
      return resolved.errors.length > 0 ? resolved : { ...resolved, sideEffects: false };
    });
  },
};

/** Rewrites every non-ASCII character of the file as a \u escape (they are in comments only). */
export function asciiOnly(file: string): void {
  const text = readFileSync(file, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/gu, (c) => [...c].map((u) => `\\u{${u.codePointAt(0)!.toString(16)}}`).join(''));
  if (ascii !== text) writeFileSync(file, ascii);
}

/**
 * The webhook's bundle keeps its identifiers (whitespace and syntax are still minified), so
 * names survive without keepNames: keepNames wraps every function and class in a __name()
 * call that runs each time a closure is created (7% of a review's CPU in a profile), and the
 * fully minified bundle held 44 MiB anonymous idle against 32 MiB for this one.
 */
export function identifierOptions(name: string): Pick<BuildOptions, 'minify' | 'minifyWhitespace' | 'minifySyntax' | 'keepNames'> {
  return name === 'webhook' ? { minify: false, minifyWhitespace: true, minifySyntax: true, keepNames: false } : {};
}
