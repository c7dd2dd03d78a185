/**
 * vault-courier installed into a cluster with a node exactly as a platform team installs
 * it: `helm upgrade --install` of charts/vault-courier with the locally built images. The
 * webhook then runs as the pods of its Deployment behind its Service, with the chart's
 * RBAC as its only access; the API server reaches it through the Service and sidecars
 * reach POST /evict through the Service's DNS name.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { CoreV1Api, loadYaml, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { CourierError } from '@vault-courier/core';

const run = promisify(execFile);
export const CHART_DIR = new URL('../../../../charts/vault-courier', import.meta.url).pathname;
export const RELEASE_NAME = 'vault-courier';
export const WEBHOOK_NAMESPACE = 'vault-courier';
/** The names the images are built under (scripts/build-images.sh); pods name them so. */
export const PROJECT_IMAGES = {
  webhook: 'vault-courier/webhook:dev',
  init: 'vault-courier/init:dev',
  sidecar: 'vault-courier/sidecar:dev',
  demoApp: 'vault-courier/demo-app:dev',
} as const;
/** Holds the CA of Vault's certificate in the webhook's namespace. */
export const VAULT_CA_SECRET = 'vault-ca';
/** The Pod Security Standard every namespace of the demo enforces. */
export const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' } as const;

function repositoryAndTag(image: string): [string, string] {
  const colon = image.lastIndexOf(':');
  return [image.slice(0, colon), image.slice(colon + 1)];
}

/** `--set` pairs for the locally built images and the cluster's Vault. */
export function chartValues(options: { vaultAddr: string; replicas: number; extra?: Readonly<Record<string, string | number>> }): Record<string, string | number> {
  const [webhookRepo, webhookTag] = repositoryAndTag(PROJECT_IMAGES.webhook);
  const [initRepo, initTag] = repositoryAndTag(PROJECT_IMAGES.init);
  const [sidecarRepo, sidecarTag] = repositoryAndTag(PROJECT_IMAGES.sidecar);
  return {
    replicaCount: options.replicas,
    'image.repository': webhookRepo,
    'image.tag': webhookTag,
    // Imported, never pulled: a missing image must fail loudly, not reach out.
    'image.pullPolicy': 'Never',
    'initImage.repository': initRepo,
    'initImage.tag': initTag,
    'sidecarImage.repository': sidecarRepo,
    'sidecarImage.tag': sidecarTag,
    'vault.addr': options.vaultAddr,
    ...options.extra,
  };
}

export interface HelmContext {
  readonly helm: string;
  readonly kubeconfigPath: string;
  /** Helm's cache, config and data homes live here, not in ~. */
  readonly dir: string;
}

export async function helm(context: HelmContext, args: readonly string[]): Promise<string> {
  const home = path.join(context.dir, 'helm');
  await mkdir(home, { recursive: true });
  try {
    const { stdout } = await run(context.helm, [...args], {
      env: {
        PATH: '/usr/bin:/bin',
        // The client's discovery cache goes under $HOME/.kube: keep it in the cluster's directory.
        HOME: home,
        KUBECONFIG: context.kubeconfigPath,
        HELM_CACHE_HOME: path.join(home, 'cache'),
        HELM_CONFIG_HOME: path.join(home, 'config'),
        HELM_DATA_HOME: path.join(home, 'data'),
      },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? '';
    throw new CourierError('kubernetes', `helm ${args.slice(0, 2).join(' ')} failed: ${stderr.trim()}`, { cause });
  }
}

/** Installs (or upgrades) the chart and waits for the webhook's Deployment to be available. */
export async function installVaultCourier(
  kc: KubeConfig,
  context: HelmContext,
  options: {
    vaultAddr: string;
    replicas?: number;
    values?: Readonly<Record<string, string | number>>;
    /** Values files (`helm -f`), e.g. the values-secret.yaml `npm run certs` writes. */
    valuesFiles?: readonly string[];
    /** Secret manifests created in the release namespace first, e.g. the secret.yaml `npm run certs` writes. */
    secretManifests?: readonly string[];
    /** The CA of Vault's certificate: a Secret the chart's vault.caCertSecret names, handed to the injected containers. */
    vaultCaPem?: string;
    timeoutSeconds?: number;
  },
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: WEBHOOK_NAMESPACE, labels: { ...RESTRICTED } } } }).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
  const vaultCa: Record<string, string> = {};
  if (options.vaultCaPem !== undefined) {
    await core.createNamespacedSecret({ namespace: WEBHOOK_NAMESPACE, body: { metadata: { name: VAULT_CA_SECRET }, stringData: { 'ca.crt': options.vaultCaPem } } });
    Object.assign(vaultCa, { 'vault.caCertSecret.name': VAULT_CA_SECRET, 'vault.caCertSecret.key': 'ca.crt' });
  }
  for (const file of options.secretManifests ?? []) {
    await core.createNamespacedSecret({ namespace: WEBHOOK_NAMESPACE, body: loadYaml<V1Secret>(await readFile(file, 'utf8')) });
  }
  const values = chartValues({ vaultAddr: options.vaultAddr, replicas: options.replicas ?? 2, extra: { ...vaultCa, ...options.values } });
  await helm(context, [
    'upgrade',
    '--install',
    RELEASE_NAME,
    CHART_DIR,
    '--namespace',
    WEBHOOK_NAMESPACE,
    '--wait',
    '--timeout',
    `${options.timeoutSeconds ?? 180}s`,
    ...(options.valuesFiles ?? []).flatMap((file) => ['--values', file]),
    // Numbers as numbers (the schema types them), every other value verbatim as a string.
    ...Object.entries(values).flatMap(([k, v]) => (typeof v === 'number' ? ['--set', `${k}=${v}`] : ['--set-string', `${k}=${v}`])),
  ]);
}
