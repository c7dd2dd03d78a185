/**
 * The two webhooks of the bench, each started as its container starts it, pinned to one core:
 * vault-courier's bundle (`node webhook.mjs`, NODE_ENV=production as in the image) and
 * vault-k8s' `agent-inject`. Both get the same serving certificate and an in-cluster identity
 * from the dev cluster: KUBERNETES_SERVICE_HOST/PORT and a service-account token, CA and
 * namespace at /var/run/secrets/kubernetes.io/serviceaccount, which both client libraries
 * read from that fixed path. The files are put there in a mount namespace of the process's
 * own (a tmpfs over /run), so the host's /run is untouched and nothing outlives the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connect } from 'node:tls';
import { bindClusterRole, createServiceAccount, requestServiceAccountToken, type DevCluster } from '@vault-courier/devcluster';

const root = path.resolve(import.meta.dirname, '../..');
export const WEBHOOK_BUNDLE = path.join(root, 'packages/webhook/dist/webhook.mjs');
/** The name both serving certificates are issued for and every client sends as SNI, as the API server sends the Service's name. */
export const SERVER_NAME = 'localhost';
const IDENTITY_NAMESPACE = 'default';

export interface Identity {
  /** Holds token, ca.crt, namespace. */
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * A ServiceAccount with its token as a kube-api-access volume holds it. Bound to cluster-admin:
 * the reviews never call the API server, so permissions do not enter the figures.
 */
export async function inClusterIdentity(cluster: DevCluster, name: string, dir: string): Promise<Identity> {
  await createServiceAccount(cluster.kubeConfig, IDENTITY_NAMESPACE, name);
  await bindClusterRole(cluster.kubeConfig, { bindingName: `${name}-bench`, clusterRole: 'cluster-admin', namespace: IDENTITY_NAMESPACE, serviceAccount: name });
  const token = await requestServiceAccountToken(cluster.kubeConfig, { namespace: IDENTITY_NAMESPACE, serviceAccount: name, audiences: [cluster.serviceAccountIssuer], expirationSeconds: 3600 });
  const saDir = path.join(dir, `${name}-serviceaccount`);
  mkdirSync(saDir, { recursive: true });
  writeFileSync(path.join(saDir, 'token'), token, { mode: 0o600 });
  writeFileSync(path.join(saDir, 'ca.crt'), cluster.caPem);
  writeFileSync(path.join(saDir, 'namespace'), IDENTITY_NAMESPACE);
  const api = new URL(cluster.apiServerUrl);
  return { dir: saDir, env: { KUBERNETES_SERVICE_HOST: api.hostname, KUBERNETES_SERVICE_PORT: api.port } };
}

export interface Side {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface SideSpec {
  readonly name: string;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly identity: Identity;
  readonly port: number;
  readonly core: number;
  readonly dir: string;
  /** A line of the log that says the server is ready (beyond accepting TLS). */
  readonly readyLine?: RegExp;
}

const MOUNT_IDENTITY =
  'mount -t tmpfs -o size=1m,mode=0755 tmpfs /run && d=/run/secrets/kubernetes.io/serviceaccount && mkdir -p "$d" && cp "$0"/token "$0"/ca.crt "$0"/namespace "$d"/ && core=$1 && shift && exec taskset -c "$core" "$@"';

/** A TLS handshake with SNI: vault-k8s fails it ("no certificate available") until its certificate watcher has run. */
function handshake(port: number, caPem: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: SERVER_NAME, ca: caPem }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitReady(child: ChildProcess, spec: SideSpec, logFile: string, caPem: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    const logged = spec.readyLine === undefined || spec.readyLine.test(readFileSync(logFile, 'utf8'));
    if (logged && (await handshake(spec.port, caPem))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${spec.name} did not become ready (log: ${logFile}):\n${readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')}`);
}

export async function startSide(spec: SideSpec, caPem: string): Promise<Side> {
  const logFile = path.join(spec.dir, `${spec.name}.log`);
  const log = openSync(logFile, 'w');
  const [command, ...args] = spec.command;
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', MOUNT_IDENTITY, spec.identity.dir, String(spec.core), command!, ...args], {
    stdio: ['ignore', log, log],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...spec.identity.env, ...spec.env },
  });
  closeSync(log);
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitReady(child, spec, logFile, caPem);
  } catch (err) {
    kill();
    await exited;
    throw err;
  }
  return {
    name: spec.name,
    url: `https://${SERVER_NAME}:${spec.port}/mutate`,
    pid: child.pid!,
    logFile,
    // Killed, not drained: vault-courier's drain waits 5 s for endpoints to update, which a bench has no use for.
    stop: async () => {
      process.off('exit', kill);
      kill();
      await exited;
    },
  };
}

export function courierSpec(tls: { certPath: string; keyPath: string }, port: number, metricsPort: number, nodeFlags: readonly string[]): Omit<SideSpec, 'identity' | 'core' | 'dir'> {
  return {
    name: 'vault-courier',
    command: [process.execPath, ...nodeFlags, WEBHOOK_BUNDLE],
    port,
    env: {
      NODE_ENV: 'production',
      VAULT_COURIER_LISTEN: `127.0.0.1:${port}`,
      VAULT_COURIER_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
      VAULT_COURIER_TLS_CERT: tls.certPath,
      VAULT_COURIER_TLS_KEY: tls.keyPath,
      VAULT_COURIER_VAULT_ADDR: 'https://vault.vault.svc:8200',
      VAULT_COURIER_DEFAULT_ROLE: 'app',
      VAULT_COURIER_INIT_IMAGE: 'ghcr.io/vault-courier/init:0.1.0',
      VAULT_COURIER_SIDECAR_IMAGE: 'ghcr.io/vault-courier/sidecar:0.1.0',
      VAULT_COURIER_SERVICE_URL: 'https://vault-courier.vault-courier.svc',
    },
  };
}

export function vaultK8sSpec(binary: string, tls: { certPath: string; keyPath: string }, port: number): Omit<SideSpec, 'identity' | 'core' | 'dir'> {
  return {
    name: 'vault-k8s',
    // As the vault-helm chart runs it: `agent-inject`, its certificate from files.
    command: [binary, 'agent-inject', `-listen=127.0.0.1:${port}`, `-tls-cert-file=${tls.certPath}`, `-tls-key-file=${tls.keyPath}`, '-vault-address=https://vault.vault.svc:8200', '-log-level=info'],
    port,
    env: { NAMESPACE: IDENTITY_NAMESPACE },
    readyLine: /Updated certificate bundle received/,
  };
}
