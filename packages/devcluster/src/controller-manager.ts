/**
 * kube-controller-manager with the controllers vault-courier's behaviour depends on:
 * Deployments and ReplicaSets recreate evicted pods, the disruption controller keeps PDB
 * status (what the Eviction API checks), the garbage collector and namespace controller
 * clean up, and the service-account controllers give every namespace its `default`
 * ServiceAccount and `kube-root-ca.crt` ConfigMap.
 */
import { probe, type TlsMaterial } from './http-probe.ts';
import { startProcess, waitUntilReady, type ManagedProcess } from './process.ts';

export const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  // Job pods are never evicted (no one would re-run them): tests need a real Job to say so.
  'job-controller',
  'disruption-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
] as const;

export async function startControllerManager(options: {
  binary: string;
  logPath: string;
  kubeconfigPath: string;
  caCertPath: string;
  serviceAccountPrivateKeyPath: string;
  apiServerUrl: string;
  adminTls: TlsMaterial;
  timeoutMs: number;
  /** With a node: inside its namespace, every controller on (Services need the EndpointSlice controller, the Node its lifecycle controller). */
  node?: { readonly netns: string; readonly dir: string };
}): Promise<ManagedProcess> {
  const controllers = options.node === undefined ? CONTROLLERS.join(',') : '*';
  const proc = startProcess({
    name: 'kube-controller-manager',
    command: options.binary,
    logPath: options.logPath,
    netns: options.node?.netns,
    args: [
      `--kubeconfig=${options.kubeconfigPath}`,
      `--authentication-kubeconfig=${options.kubeconfigPath}`,
      `--authorization-kubeconfig=${options.kubeconfigPath}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      // No metrics or health endpoint: readiness is observed through the API below.
      '--secure-port=0',
      `--controllers=${controllers}`,
      // Else it creates /usr/libexec/kubernetes on the machine.
      ...(options.node === undefined ? [] : [`--flex-volume-plugin-dir=${options.node.dir}/flexvolume`]),
      `--service-account-private-key-file=${options.serviceAccountPrivateKeyPath}`,
      `--root-ca-file=${options.caCertPath}`,
      '--use-service-account-credentials=false',
      // Fresh namespaces get their ServiceAccount quickly.
      '--concurrent-serviceaccount-token-syncs=2',
      '--profiling=false',
      '--v=1',
    ],
  });
  // Ready when the service-account controller has served the `default` namespace.
  const defaultServiceAccount = `${options.apiServerUrl}/api/v1/namespaces/default/serviceaccounts/default`;
  try {
    await waitUntilReady(proc, async () => (await probe(defaultServiceAccount, options.adminTls)).status === 200, options.timeoutMs);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}
