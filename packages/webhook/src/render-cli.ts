#!/usr/bin/env node
/**
 * `vault-courier render`: prints a manifest with its pods and pod templates mutated
 * exactly as the webhook would, offline (no cluster, no Vault). On stderr, each warning
 * `kubectl apply` would print for a workload ("Warning: Kind/name: ..."), then each
 * refusal a pod would get ("refused: Kind/name: ..."); any refusal exits 1.
 *
 *   vault-courier render -f deployment.yaml [-f more.yaml | -f -] [--default-role app]
 *     [--default-vault-namespace NS]
 *     [--vault-addr URL] [--init-image IMG] [--sidecar-image IMG] [--service-url URL]
 *     [--evict-owner-kinds Kind,group/Kind]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dumpYaml, loadAllYaml } from '@kubernetes/client-node';
import { checkInjectionConfig, DEFAULT_AUTH_PATH, DEFAULT_INIT_RESOURCES, DEFAULT_SIDECAR_RESOURCES, parseOwnerKinds, type InjectionConfig } from '@vault-courier/core';
import { renderManifest } from './render-manifest.ts';

const USAGE = 'usage: vault-courier render -f <manifest.yaml | -> [-f ...] [--default-role ROLE] [--default-vault-namespace NS] [--vault-addr URL] [--auth-path PATH] [--init-image IMAGE] [--sidecar-image IMAGE] [--service-url URL] [--evict-owner-kinds KINDS]';

/** The flag each configuration field comes from, to name it in an error. */
const FLAGS: Readonly<Record<string, string>> = { vaultAddr: '--vault-addr', authPath: '--auth-path', defaultRole: '--default-role', defaultVaultNamespace: '--default-vault-namespace', initImage: '--init-image', sidecarImage: '--sidecar-image', serviceUrl: '--service-url' };

function run(argv: readonly string[]): number {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      filename: { type: 'string', short: 'f', multiple: true },
      'default-role': { type: 'string' },
      'default-vault-namespace': { type: 'string' },
      'vault-addr': { type: 'string', default: 'https://vault.vault.svc:8200' },
      'auth-path': { type: 'string', default: DEFAULT_AUTH_PATH },
      'init-image': { type: 'string', default: 'ghcr.io/vault-courier/init:0.1.0' },
      'sidecar-image': { type: 'string', default: 'ghcr.io/vault-courier/sidecar:0.1.0' },
      'service-url': { type: 'string', default: 'https://vault-courier.vault-courier.svc' },
      'evict-owner-kinds': { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals[0] !== 'render' || !values.filename?.length) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const kinds = parseOwnerKinds(values['evict-owner-kinds']);
  if ('problem' in kinds) throw new Error(`--evict-owner-kinds: ${kinds.problem}`);
  const config: InjectionConfig = {
    vaultAddr: values['vault-addr'],
    vaultCaPem: undefined,
    authPath: values['auth-path'],
    defaultRole: values['default-role'],
    defaultVaultNamespace: values['default-vault-namespace'],
    initImage: values['init-image'],
    sidecarImage: values['sidecar-image'],
    serviceUrl: values['service-url'],
    serviceCaPem: undefined,
    initResources: DEFAULT_INIT_RESOURCES,
    sidecarResources: DEFAULT_SIDECAR_RESOURCES,
    evictOwnerKinds: kinds.kinds,
  };
  const problems = checkInjectionConfig(config);
  if (problems.length > 0) throw new Error(problems.map((p) => `${FLAGS[p.field] ?? p.variable}: ${p.problem}`).join('; '));
  const documents = values.filename.flatMap((file) => loadAllYaml(readFileSync(file === '-' ? 0 : file, 'utf8')).filter((d: unknown) => d !== null && d !== undefined) as Record<string, unknown>[]);
  const rendered = renderManifest(documents, config);
  process.stdout.write(rendered.documents.map((d) => dumpYaml(d)).join('---\n'));
  for (const warning of rendered.warnings) console.error(`Warning: ${warning}`);
  for (const problem of rendered.problems) console.error(`refused: ${problem}`);
  return rendered.problems.length > 0 ? 1 : 0;
}

try {
  process.exitCode = run(process.argv.slice(2));
} catch (err) {
  console.error(`vault-courier render: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
}
