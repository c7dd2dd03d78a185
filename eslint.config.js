// Lint: type-aware, with a complexity bound and no floating promises (a dropped promise
// in a webhook or a sidecar is a silent failure in production).
import tseslint from 'typescript-eslint';

// The layers, enforced: the import rules below are the architecture's only enforcement,
// and test/unit/layers.test.ts proves each one fires.
const PRODUCTION = ['packages/*/src/**/*.ts'];
const TESTS = ['**/*.test.ts'];
/** What POST /mutate runs: pure, so admission latency is the webhook's alone and a Vault or API outage never blocks pod creation. */
const ADMISSION = [
  'packages/core/src/admission/**/*.ts',
  // The contract the admission path reads (the annotation grammar, names, validators).
  'packages/core/src/contract/{annotations,names,spec,validators,owner-kinds,render}.ts',
  'packages/core/src/support/did-you-mean.ts',
  'packages/webhook/src/{app,review}.ts',
];
const SIDECAR = ['packages/sidecar/src/**/*.ts'];
const INIT = ['packages/init/src/**/*.ts'];
const HTTP = ['packages/http/src/**/*.ts'];
/** The webhook server's process (not the `vault-courier` CLI: cli.ts, render-cli.ts, status/). */
const WEBHOOK = ['packages/webhook/src/*.ts', 'packages/webhook/src/evict/**/*.ts'];
const WEBHOOK_CLI = ['packages/webhook/src/{cli,render-cli}.ts'];
const CORE = ['packages/core/src/**/*.ts'];

const notTestInfrastructure = [
  { group: ['@vault-courier/devcluster', '@vault-courier/devcluster/*'], message: 'production code never depends on the test clusters (packages/devcluster)' },
  { group: ['**/test-helpers*', '**/test/**', '../../test/*'], message: 'production code never depends on test helpers' },
];
const noIo = [
  { group: ['node:fs', 'node:fs/*', 'node:net', 'node:http', 'node:https', 'node:http2', 'node:child_process', 'node:dgram', 'node:dns'], message: 'admission modules do no I/O', allowTypeImports: true },
  { group: ['@kubernetes/client-node', 'node-vault', 'axios', 'undici'], message: 'admission modules call no client (type imports are fine)', allowTypeImports: true },
];
const coreAtTheBottom = [{ group: ['@vault-courier/webhook*', '@vault-courier/init*', '@vault-courier/sidecar*', '@vault-courier/demo-app*', '@vault-courier/http*'], message: 'core depends on no other package of the project' }];
// The two injected containers are separate images: what they share lives in core (pure) or
// @vault-courier/http (their one HTTP client), never in each other.
const containersApart = (other) => [{ group: [`@vault-courier/${other}*`, '@vault-courier/webhook*'], message: 'init and sidecar share code through core or @vault-courier/http, never by importing each other or the webhook' }];
const httpAtTheBottom = [{ group: ['@vault-courier/*'], message: '@vault-courier/http depends on no other package of the project' }];
const restrict = (patterns, paths = []) => ['error', { patterns, paths }];
// The generated API clients (CoreV1Api, ...) load every generated model: ~15 MiB of the
// webhook's heap for a few calls, which go through evict/kube-request.ts instead.
const webhookClientNode = {
  name: '@kubernetes/client-node',
  allowImportNames: ['KubeConfig', 'ApiException'],
  allowTypeImports: true,
  message: "the webhook calls the API server through evict/kube-request.ts, not client-node's generated API classes (docs/performance.md, Webhook)",
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'charts/**', '.tmp/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      complexity: ['error', 12],
      'max-depth': ['error', 4],
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test tracks the promises its own registration functions return.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  // Later entries win for a file they match, so each one states its whole list.
  { files: PRODUCTION, ignores: TESTS, rules: { '@typescript-eslint/no-restricted-imports': restrict(notTestInfrastructure) } },
  { files: WEBHOOK, ignores: [...TESTS, ...WEBHOOK_CLI], rules: { '@typescript-eslint/no-restricted-imports': restrict(notTestInfrastructure, [webhookClientNode]) } },
  { files: CORE, ignores: TESTS, rules: { '@typescript-eslint/no-restricted-imports': restrict([...notTestInfrastructure, ...coreAtTheBottom]) } },
  {
    files: ADMISSION,
    ignores: TESTS,
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict([...notTestInfrastructure, ...coreAtTheBottom, ...noIo]),
      'no-restricted-globals': ['error', { name: 'fetch', message: 'admission modules do no I/O' }],
    },
  },
  {
    files: SIDECAR,
    ignores: TESTS,
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict([...notTestInfrastructure, ...containersApart('init')], [
        // The index pulls in admission's dependencies: every pod would pay for them in memory.
        { name: '@vault-courier/core', message: "the sidecar imports the core modules it uses ('@vault-courier/core/<module>'), never the index" },
      ]),
    },
  },
  { files: INIT, ignores: TESTS, rules: { '@typescript-eslint/no-restricted-imports': restrict([...notTestInfrastructure, ...containersApart('sidecar')]) } },
  { files: HTTP, ignores: TESTS, rules: { '@typescript-eslint/no-restricted-imports': restrict([...notTestInfrastructure, ...httpAtTheBottom]) } },
  {
    // Scripts, benchmarks and tests print to the terminal on purpose.
    files: ['scripts/**', 'bench/**', 'test/**', '**/*.test.ts'],
    rules: { 'no-console': 'off' },
  },
);
