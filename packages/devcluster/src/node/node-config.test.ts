import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cniConfig, containerdConfig, containerdPaths } from './containerd.ts';
import { corefile } from './control-plane-node.ts';
import { kubeletConfiguration, kubeletPaths } from './kubelet.ts';

test('containerd: every path under the cluster directory, the settings this machine kind needs', () => {
  const paths = containerdPaths('/d');
  const config = containerdConfig(paths, 'localhost/vault-courier/pause:3.10.2');
  for (const line of [
    "root = '/d/containerd/root'",
    "state = '/d/containerd/state'",
    "address = '/d/containerd/containerd.sock'",
    "sandbox = 'localhost/vault-courier/pause:3.10.2'",
    'restrict_oom_score_adj = true',
    'netns_mounts_under_state_dir = true',
    'SystemdCgroup = false',
    "Root = '/d/containerd/runc'",
    "conf_dir = '/d/containerd/net.d'",
    "'io.containerd.nri.v1.nri'",
  ]) {
    assert.ok(config.includes(line), line);
  }
  assert.ok(!/'\/(var|run|etc|opt)\//.test(config.replace(/bin_dirs = \['\/usr\/lib\/cni'\]/, '').replace(/BinaryName = '\/usr\/sbin\/runc'/, '')), 'no machine-wide path');
});

test('CNI: a bridge that is the pods’ gateway and default route, no masquerade, IPAM state in the cluster directory', () => {
  const bridge = (JSON.parse(cniConfig(containerdPaths('/d'))) as { plugins: Record<string, unknown>[] }).plugins[0] ?? {};
  assert.deepEqual(
    { type: bridge.type, isGateway: bridge.isGateway, isDefaultGateway: bridge.isDefaultGateway, ipMasq: bridge.ipMasq, dataDir: (bridge.ipam as { dataDir: string }).dataDir },
    { type: 'bridge', isGateway: true, isDefaultGateway: true, ipMasq: false, dataDir: '/d/containerd/cni-ipam' },
  );
});

test('kubelet: cgroup v1 allowed, cgroupfs, its own cgroup root, no anonymous or read-only access', () => {
  const config = kubeletConfiguration({ paths: kubeletPaths('/d'), clientCaFile: '/d/ca.crt', runtimeEndpoint: 'unix:///d/c.sock', cgroupRoot: 'vault-courier-x', clusterDns: '10.250.0.1' });
  assert.deepEqual(
    [config.failCgroupV1, config.cgroupDriver, config.cgroupRoot, config.readOnlyPort, config.maxOpenFiles, config.clusterDNS, config.podLogsDir],
    [false, 'cgroupfs', '/vault-courier-x', 0, 20000, ['10.250.0.1'], '/d/kubelet/pod-logs'],
  );
  assert.deepEqual(config.authentication, { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: '/d/ca.crt' } });
});

test('CoreDNS answers cluster.local and reverse lookups only: nothing is forwarded out', () => {
  const text = corefile('/d/k');
  assert.match(text, /^cluster\.local:53 in-addr\.arpa:53 \{/);
  assert.match(text, /kubeconfig \/d\/k/);
  assert.doesNotMatch(text, /forward|proxy/);
});
