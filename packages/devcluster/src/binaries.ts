/**
 * Where the real binaries live: built by scripts/build-real-parts.sh into
 * ~/.cache/vault-courier/<component>-<version>/ at the versions in
 * scripts/real-parts/versions.env; PostgreSQL from Debian's packages.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CourierError } from '@vault-courier/core';

export interface Binaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly vault: string;
  /** Directory holding initdb and postgres. */
  readonly postgresBin: string;
  readonly kubelet: string;
  readonly kubeScheduler: string;
  readonly kubeProxy: string;
  readonly kubectl: string;
  /** Directory holding containerd, ctr and containerd-shim-runc-v2 (first on containerd's PATH). */
  readonly containerdBin: string;
  readonly crictl: string;
  readonly coredns: string;
  readonly helm: string;
}

const VERSIONS_FILE = new URL('../../../scripts/real-parts/versions.env', import.meta.url);
export const SETUP_COMMAND = 'bash scripts/setup.sh';

/** `KEY=value` lines, `#` comments ignored. */
export function parseVersions(text: string): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(\S*)\s*$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) versions[match[1]] = match[2];
  }
  return versions;
}

export function resolveBinaries(versions: Record<string, string>, cacheDir: string): Binaries {
  const version = (key: string): string => {
    const value = versions[key];
    if (value === undefined) throw new CourierError('config', `scripts/real-parts/versions.env has no ${key}; restore it from git`);
    return value;
  };
  const kube = join(cacheDir, `kubernetes-${version('KUBE_VERSION')}`);
  return {
    etcd: join(cacheDir, `etcd-${version('ETCD_VERSION')}`, 'etcd'),
    kubeApiserver: join(kube, 'kube-apiserver'),
    kubeControllerManager: join(kube, 'kube-controller-manager'),
    vault: join(cacheDir, `vault-${version('VAULT_VERSION')}`, 'vault'),
    postgresBin: '/usr/lib/postgresql/15/bin',
    kubelet: join(kube, 'kubelet'),
    kubeScheduler: join(kube, 'kube-scheduler'),
    kubeProxy: join(kube, 'kube-proxy'),
    kubectl: join(kube, 'kubectl'),
    containerdBin: join(cacheDir, `containerd-${version('CONTAINERD_VERSION')}`),
    crictl: join(cacheDir, `crictl-${version('CRICTL_VERSION')}`, 'crictl'),
    coredns: join(cacheDir, `coredns-${version('COREDNS_VERSION')}`, 'coredns'),
    helm: join(cacheDir, `helm-${version('HELM_VERSION')}`, 'helm'),
  };
}

export function defaultBinaries(env: NodeJS.ProcessEnv = process.env): Binaries {
  const cacheDir = env.VAULT_COURIER_CACHE ?? join(homedir(), '.cache', 'vault-courier');
  return resolveBinaries(parseVersions(readFileSync(VERSIONS_FILE, 'utf8')), cacheDir);
}

/** Fails with the binary's name and path and the set-up command that installs it. */
export function requireExecutable(name: string, path: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch (cause) {
    throw new CourierError('config', `${name} is missing: no executable at ${path}; install it with: ${SETUP_COMMAND}`, { cause });
  }
}
