/**
 * The admission path makes no call to the API server or to Vault, so admission latency is
 * the webhook's alone and a Vault outage never blocks pod creation. Guarded here on the
 * modules POST /mutate runs: none of them may import a client or do I/O at run time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const CORE = path.resolve(import.meta.dirname, '../../core/src');
const ADMISSION_MODULES = [
  path.join(import.meta.dirname, 'app.ts'),
  path.join(import.meta.dirname, 'review.ts'),
  ...['annotations', 'decide', 'containers', 'mutate', 'patch', 'did-you-mean', 'names', 'spec'].map((m) => path.join(CORE, `${m}.ts`)),
];
const FORBIDDEN = ['@kubernetes/client-node', 'node-vault', 'axios', 'node:fs', 'node:net', 'node:http', 'node:https', 'node:child_process', 'undici'];

/** Module specifiers imported for their values (`import type` is erased at run time). */
function runtimeImports(source: string): string[] {
  return [...source.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)';/gms)].map((m) => m[1]!);
}

test('the modules POST /mutate runs import no client and no I/O', () => {
  for (const file of ADMISSION_MODULES) {
    const imports = runtimeImports(readFileSync(file, 'utf8'));
    assert.deepEqual(imports.filter((i) => FORBIDDEN.includes(i)), [], `${path.basename(file)} imports I/O at run time`);
    assert.ok(!/\bfetch\(/.test(readFileSync(file, 'utf8')), `${path.basename(file)} calls fetch`);
  }
});

test('the import scan sees value imports and ignores type-only ones', () => {
  assert.deepEqual(runtimeImports("import type { V1Pod } from '@kubernetes/client-node';\nimport { CoreV1Api } from '@kubernetes/client-node';\nimport {\n  a,\n} from 'node:fs';"), ['@kubernetes/client-node', 'node:fs']);
});
