/**
 * What the demo's shared steps (prepare.ts, run.ts) need of a cluster, whatever made it:
 * a kubeconfig, Helm, and how to reach Vault and PostgreSQL, from this process and from
 * pods. The embedded cluster (npm run demo, npm run cluster) publishes them on loopback;
 * kind (npm run demo:kind) reaches them by port-forwards through the API server and gives
 * pods their Service DNS names. Nothing past this point knows which one it runs on.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { CourierError } from '@vault-courier/core';
import type { DevCluster } from '../cluster.ts';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface DemoTarget {
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
  /** Scratch space of this run (Helm's homes, the webhook's TLS files). */
  readonly dir: string;
  /** The helm binary. */
  readonly helm: string;
  /** The API server as Vault reaches it (where it sends TokenReviews). */
  readonly apiServerUrlForVault: string;
  readonly vault: {
    /** From this process. */
    readonly addr: string;
    /** From pods: the chart's vault.addr. */
    readonly inClusterAddr: string;
    /** The CA of Vault's certificate; undefined: plain HTTP. */
    readonly caPem: string | undefined;
    readonly rootToken: string;
  };
  readonly postgres: Endpoint & {
    readonly superuser: string;
    readonly password: string;
    readonly forVault: Endpoint;
    readonly inCluster: Endpoint;
  };
}

/** The embedded cluster as a target: every address published on loopback or the node's. */
export function embeddedTarget(cluster: DevCluster): DemoTarget {
  const { node, vault, postgres } = cluster;
  if (node === undefined || vault === undefined || postgres === undefined) throw new CourierError('config', 'the demo needs a cluster started with node, vault and postgres');
  return {
    kubeconfigPath: cluster.kubeconfigPath,
    kubeConfig: cluster.kubeConfig,
    dir: cluster.dir,
    helm: node.helm,
    // Vault runs in the node's namespace: it reviews tokens at the API server's inside address.
    apiServerUrlForVault: node.inClusterApiServerUrl,
    vault: { addr: vault.addr, inClusterAddr: vault.inClusterAddr, caPem: vault.caPem, rootToken: vault.rootToken },
    postgres,
  };
}

/** The CA the kubeconfig trusts for its API server, as PEM. */
export function apiServerCaPem(kc: KubeConfig): string {
  const cluster = kc.getCurrentCluster();
  if (cluster?.caData !== undefined && cluster.caData !== '') return Buffer.from(cluster.caData, 'base64').toString('utf8');
  throw new CourierError('config', `the kubeconfig's cluster ${cluster?.name ?? '(none)'} has no certificate-authority-data: Vault needs the API server's CA inline`);
}
