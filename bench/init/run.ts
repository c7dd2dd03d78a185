/**
 * Init container wall time, process start to exit, delivering 3 secrets (2 KV v2, 1
 * database credential) against the dev cluster's real Vault with kubernetes auth:
 * vault-courier's init next to `vault agent` configured as vault-k8s configures its init
 * container (exit_after_auth, auto_auth kubernetes with the same JWT file, templates
 * rendering the same 3 secrets as JSON). Runs alternate between the sides so machine noise
 * hits all alike. Our side twice: from the startup snapshot the image runs, and from the bundle.
 * Usage: bash scripts/node.sh bench/init/run.ts [runs]   (default 20)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createNamespace, createServiceAccount, requestServiceAccountToken, startDevCluster } from '@vault-courier/devcluster';
import { defaultBinaries } from '@vault-courier/devcluster/binaries';
import type { SecretSpec } from '@vault-courier/core';

const RUNS = Number(process.argv[2] ?? 20);
const ROOT = path.resolve(import.meta.dirname, '../..');
const SNAPSHOT = path.join(ROOT, 'packages/init/dist/init.blob');
const BUNDLE = path.join(ROOT, 'packages/init/dist/init.mjs');
/**
 * Our side: what the image runs (the startup snapshot), and the plain bundle it is made
 * from, so the snapshot's share is measured in the same run. The source when nothing is built.
 */
const VARIANTS: readonly { tool: string; args: readonly string[] }[] = existsSync(SNAPSHOT)
  ? [
      { tool: 'vault-courier init (snapshot, as the image runs it)', args: ['--snapshot-blob', SNAPSHOT] },
      { tool: 'vault-courier init (bundle, no snapshot)', args: [BUNDLE] },
    ]
  : [{ tool: 'vault-courier init (source)', args: [path.join(ROOT, 'packages/init/src/main.ts')] }];
const SECRETS: readonly SecretSpec[] = [
  { name: 'app', path: 'secret/data/app', format: { kind: 'json' } },
  { name: 'api', path: 'secret/data/api', format: { kind: 'json' } },
  { name: 'db', path: 'database/creds/web', format: { kind: 'json' } },
];

function timeProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, stdout });
      else reject(new Error(`${path.basename(command)} exited ${code}: ${stderr.slice(-500)}`));
    });
  });
}

/** From our init's last log line: the time spent logging in, fetching and writing. */
function deliveryMs(stdout: string): number {
  const line = stdout.split('\n').find((l) => l.includes('"all secrets delivered"'));
  if (line === undefined) throw new Error('vault-courier init did not log "all secrets delivered"');
  return (JSON.parse(line) as { elapsedMs: number }).elapsedMs;
}

function checkDelivered(dir: string, tool: string): void {
  const files = readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
  if (files.join() !== 'api,app,db') throw new Error(`${tool} delivered ${files.join() || 'nothing'}`);
  for (const f of files) JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
}

function agentConfig(addr: string, jwtPath: string, out: string): string {
  const template = (secret: SecretSpec) => {
    const data = secret.path.startsWith('secret/data/') ? '.Data.data' : '.Data';
    return `template {\n  destination = "${path.join(out, secret.name)}"\n  contents = "{{ with secret \\"${secret.path}\\" }}{{ ${data} | toJSON }}{{ end }}"\n}\n`;
  };
  return [
    'exit_after_auth = true',
    'pid_file = ""',
    `vault {\n  address = "${addr}"\n}`,
    `auto_auth {\n  method "kubernetes" {\n    mount_path = "auth/kubernetes"\n    config = {\n      role = "web"\n      token_path = "${jwtPath}"\n    }\n  }\n  sink "file" {\n    config = {\n      path = "${path.join(out, '.vault-token')}"\n    }\n  }\n}`,
    'template_config {\n  exit_on_retry_failure = true\n}',
    ...SECRETS.map(template),
  ].join('\n');
}

function stats(samples: readonly number[]): { median: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? (sorted[Math.floor(mid)] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
  return { median, p95: at(0.95) };
}

const cluster = await startDevCluster({ vault: true, postgres: true });
// The pod's volumes are emptyDir medium Memory: tmpfs here too, for both tools.
const work = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'bench-init-'));
try {
  const vault = cluster.vault;
  if (vault === undefined) throw new Error('the dev cluster started without Vault');
  await createNamespace(cluster.kubeConfig, 'shop');
  await createServiceAccount(cluster.kubeConfig, 'shop', 'web');
  const jwtPath = path.join(work, 'vault-jwt');
  writeFileSync(jwtPath, await requestServiceAccountToken(cluster.kubeConfig, { namespace: 'shop', serviceAccount: 'web', audiences: ['vault'], expirationSeconds: 3600 }), { mode: 0o400 });
  await vault.writePolicy('web', ['secret/data/*', 'database/creds/web'].map((p) => `path "${p}" { capabilities = ["read"] }`).join('\n'));
  await vault.createVaultRole({ name: 'web', namespace: 'shop', serviceAccount: 'web', policies: ['web'], ttl: 900 });
  await vault.writeKv('app', { user: 'app', password: 'p4ss word' });
  await vault.writeKv('api', { key: 'k-123' });
  await vault.createDatabaseRole({ name: 'web', ttlSeconds: 600, maxTtlSeconds: 900 });

  const vaultBinary = defaultBinaries().vault;
  const ours = VARIANTS.map(() => ({ wall: [] as number[], delivery: [] as number[] }));
  const agent: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [v, variant] of VARIANTS.entries()) {
      const secretsDir = path.join(work, `run-${i}-${v}`, 'secrets');
      const stateDir = path.join(work, `run-${i}-${v}`, 'state');
      for (const d of [secretsDir, stateDir]) mkdirSync(d, { recursive: true });
      const ourRun = await timeProcess(process.execPath, variant.args, {
        PATH: process.env.PATH,
        VAULT_COURIER_VAULT_ADDR: vault.addr,
        VAULT_COURIER_AUTH_PATH: 'auth/kubernetes',
        VAULT_COURIER_ROLE: 'web',
        VAULT_COURIER_SECRETS: JSON.stringify(SECRETS),
        VAULT_COURIER_SECRETS_DIR: secretsDir,
        VAULT_COURIER_STATE_DIR: stateDir,
        VAULT_COURIER_VAULT_JWT_PATH: jwtPath,
      });
      ours[v]?.wall.push(ourRun.ms);
      ours[v]?.delivery.push(deliveryMs(ourRun.stdout));
      checkDelivered(secretsDir, variant.tool);
    }
    const run = path.join(work, `run-${i}`);
    const agentDir = path.join(run, 'agent');
    mkdirSync(agentDir, { recursive: true });
    const config = path.join(run, 'agent.hcl');
    writeFileSync(config, agentConfig(vault.addr, jwtPath, agentDir));
    agent.push((await timeProcess(vaultBinary, ['agent', `-config=${config}`, '-log-level=warn'], { PATH: '/usr/bin:/bin', HOME: run })).ms);
    checkDelivered(agentDir, 'vault agent');
  }

  const a = stats(agent);
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  console.log(`\ninit container wall time, process start to exit, 3 secrets (2 KV v2, 1 database), ${RUNS} runs each, interleaved`);
  console.log(`vault-courier init: node ${process.version}; vault agent: ${vaultBinary}\n`);
  console.table([
    ...VARIANTS.flatMap((variant, v) => {
      const o = stats(ours[v]?.wall ?? []);
      const d = stats(ours[v]?.delivery ?? []);
      return [
        { tool: variant.tool, median: fmt(o.median), p95: fmt(o.p95), 'median / agent': (o.median / a.median).toFixed(2) },
        { tool: '  of which login + fetch + write', median: fmt(d.median), p95: fmt(d.p95), 'median / agent': '' },
      ];
    }),
    { tool: 'vault agent (exit_after_auth)', median: fmt(a.median), p95: fmt(a.p95), 'median / agent': '1.00' },
  ]);
} finally {
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
}
