/**
 * The architecture's layers are lint rules (eslint.config.js): this proves each rule fires
 * on the code it guards, by linting a forbidden import as if it stood in that file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root, ruleFilter: ({ ruleId }) => ruleId === '@typescript-eslint/no-restricted-imports' || ruleId === 'no-restricted-globals' });

async function violations(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return (result?.messages ?? []).map((m) => m.message);
}

const rows: { file: string; code: string; refused: RegExp | undefined }[] = [
  { file: 'packages/core/src/admission/mutate.ts', code: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", refused: /admission modules do no I\/O/ },
  { file: 'packages/core/src/admission/mutate.ts', code: "import { CoreV1Api } from '@kubernetes/client-node';\nexport const x = CoreV1Api;\n", refused: /admission modules call no client/ },
  { file: 'packages/core/src/admission/mutate.ts', code: "import type { V1Pod } from '@kubernetes/client-node';\nexport type X = V1Pod;\n", refused: undefined },
  { file: 'packages/webhook/src/review.ts', code: "export const x = () => fetch('http://vault');\n", refused: /admission modules do no I\/O/ },
  { file: 'packages/sidecar/src/sidecar.ts', code: "import { deadline } from '@vault-courier/core';\nexport const x = deadline;\n", refused: /never the index/ },
  { file: 'packages/webhook/src/server.ts', code: "import { startDevCluster } from '@vault-courier/devcluster';\nexport const x = startDevCluster;\n", refused: /never depends on the test clusters/ },
  { file: 'packages/init/src/main.ts', code: "import { x } from '../../../test/e2e/helpers.ts';\nexport const y = x;\n", refused: /never depends on test helpers/ },
  { file: 'packages/core/src/rotation/deadline.ts', code: "import { x } from '@vault-courier/webhook/server';\nexport const y = x;\n", refused: /core depends on no other package/ },
  { file: 'packages/webhook/src/evict/cluster.ts', code: "import { CoreV1Api } from '@kubernetes/client-node';\nexport const x = CoreV1Api;\n", refused: /through evict\/kube-request\.ts/ },
  { file: 'packages/webhook/src/main.ts', code: "import { KubeConfig } from '@kubernetes/client-node';\nexport const x = KubeConfig;\n", refused: undefined },
  { file: 'packages/init/src/vault-client.ts', code: "import { x } from '@vault-courier/sidecar/endpoint';\nexport const y = x;\n", refused: /never by importing each other/ },
  { file: 'packages/sidecar/src/endpoint.ts', code: "import { x } from '@vault-courier/init/deliver';\nexport const y = x;\n", refused: /never by importing each other/ },
  { file: 'packages/init/src/vault-client.ts', code: "import { requestJson } from '@vault-courier/http/request-json';\nexport const y = requestJson;\n", refused: undefined },
  { file: 'packages/http/src/request-json.ts', code: "import { x } from '@vault-courier/core/rotation/deadline';\nexport const y = x;\n", refused: /depends on no other package/ },
  { file: 'packages/webhook/src/server.test.ts', code: "import { startDevCluster } from '@vault-courier/devcluster';\nexport const x = startDevCluster;\n", refused: undefined },
];

for (const row of rows) {
  test(`${row.file}: ${row.refused === undefined ? 'allowed' : `refused (${row.refused.source})`}: ${row.code.split('\n')[0]}`, async () => {
    const messages = await violations(row.file, row.code);
    if (row.refused === undefined) assert.deepEqual(messages, []);
    else assert.ok(messages.some((m) => row.refused?.test(m)), `expected a refusal, got: ${JSON.stringify(messages)}`);
  });
}
