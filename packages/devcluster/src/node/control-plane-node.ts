/**
 * The node's other daemons, each inside the cluster's namespace: kube-scheduler (binds
 * pods), kube-proxy (ClusterIP Services in iptables, the namespace's own tables) and
 * CoreDNS (cluster DNS for `<service>.<namespace>.svc`, answering nothing else, so no
 * query ever leaves the namespace).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startProcess, type ManagedProcess } from '../process.ts';
import { NODE_IP, POD_CIDR, type NetworkNamespace } from './netns.ts';

interface DaemonOptions {
  readonly binary: string;
  readonly netns: NetworkNamespace;
  readonly logPath: string;
  readonly kubeconfigPath: string;
}

function startInNamespace(name: string, options: DaemonOptions, args: readonly string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
  return startProcess({ name, command: options.binary, args, netns: options.netns.path, logPath: options.logPath, env });
}

export function startScheduler(options: DaemonOptions): ManagedProcess {
  return startInNamespace('kube-scheduler', options, [
    `--kubeconfig=${options.kubeconfigPath}`,
    `--authentication-kubeconfig=${options.kubeconfigPath}`,
    `--authorization-kubeconfig=${options.kubeconfigPath}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=10259',
    '--profiling=false',
    '--v=1',
  ]);
}

export function startKubeProxy(options: DaemonOptions & { nodeName: string }): ManagedProcess {
  return startInNamespace(
    'kube-proxy',
    options,
    [
      `--kubeconfig=${options.kubeconfigPath}`,
      `--hostname-override=${options.nodeName}`,
      '--proxy-mode=iptables',
      `--cluster-cidr=${POD_CIDR}`,
      // A pod reaching a Service whose endpoint is on the same bridge: without SNAT the
      // answer would go back over the bridge, past conntrack, and be dropped.
      '--masquerade-all=true',
      // The conntrack sysctls are read-only inside a network namespace: leave them alone.
      '--conntrack-max-per-core=0',
      '--conntrack-tcp-timeout-established=0',
      '--conntrack-tcp-timeout-close-wait=0',
      '--metrics-bind-address=127.0.0.1:10249',
      '--healthz-bind-address=127.0.0.1:10256',
      '--v=1',
    ],
    { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  );
}

/** CoreDNS's configuration: the kubernetes plugin for cluster.local only, no forwarding. */
export function corefile(kubeconfigPath: string): string {
  return `cluster.local:53 in-addr.arpa:53 {
  errors
  kubernetes cluster.local in-addr.arpa {
    kubeconfig ${kubeconfigPath}
    pods insecure
  }
  cache 5
  health 127.0.0.1:8080
  ready 127.0.0.1:8181
}
`;
}

export async function startCoreDns(options: DaemonOptions & { dir: string }): Promise<ManagedProcess> {
  const file = path.join(options.dir, 'Corefile');
  await writeFile(file, corefile(options.kubeconfigPath));
  return startInNamespace('coredns', options, ['-conf', file, '-dns.port', '53']);
}

export const CLUSTER_DNS_IP = NODE_IP;
