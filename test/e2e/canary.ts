/**
 * The canary: a secret value planted in Vault, delivered through the whole loop, that must
 * appear nowhere a credential could leak to. The sweep reads every place an operator or an
 * attacker with read access to the cluster's telemetry could look: each container's log
 * (as the API streamed it, and the kubelet's CRI files still on the node), each component's
 * log (API server, etcd, controllers, scheduler, kubelet, containerd, kube-proxy, CoreDNS,
 * Vault, PostgreSQL), every Event, every pod object (annotations, status conditions),
 * every Secret and ConfigMap, a metrics scrape of each webhook pod and of the API server,
 * and everything this test process printed. A hit names the place and the byte offset,
 * never the text around it: the report must not leak what it found.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { CoreV1Api } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX } from '@vault-courier/core';
import { WEBHOOK_NAMESPACE, type DevCluster, type VaultAdmin } from '@vault-courier/devcluster';
import type { ContainerOutput } from './helpers.ts';

const run = promisify(execFile);

/** One place the sweep read: how much of it, and where the canary was found (byte offsets). */
export interface SweptSource {
  readonly source: string;
  readonly bytes: number;
  readonly hits: readonly number[];
}

/** Byte offsets of `needle` in `text`; pure, so the scanner itself has a table test. */
export function occurrences(text: string, needle: string): number[] {
  const found: number[] = [];
  if (needle.length === 0) return found;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) found.push(Buffer.byteLength(text.slice(0, at)));
  return found;
}

/** Every regular file under `dir` (the CRI log tree), or none when it is gone. */
function filesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const full = path.join(dir, name);
    try {
      return statSync(full).isDirectory() ? filesUnder(full) : [full];
    } catch {
      return [];
    }
  });
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

/** Where the canary lives in Vault's KV v2 (`secret/data/<path>`), and the policy that reads it. */
export const CANARY_KV_PATH = 'canary/config';
export const CANARY_POLICY = 'canary';

/** Sources every real-node sweep must have read something from: an empty one would prove nothing. */
const MUST_READ = ['container output', 'CRI log vault-courier_', 'component log kube-apiserver', 'component log vault', 'component log kubelet', 'Events', 'pods', 'metrics scrape of vault-courier', 'metrics scrape of kube-apiserver', 'this test process'];

export class Canary {
  /** Random per run: a value no fixture, image or earlier run could hold by chance. */
  readonly value = `vc-canary-${randomBytes(12).toString('hex')}`;
  private readonly printed: string[] = [];

  /** Starts recording everything this process writes to stdout and stderr (the test output). */
  constructor() {
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        this.printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('latin1'));
        return write(chunk, ...rest);
      }) as typeof stream.write;
    }
  }

  /**
   * A pod's annotations for the canary: as a JSON file, and rendered into a URL by a
   * template. Its Vault role needs CANARY_POLICY.
   */
  readonly annotations: Readonly<Record<string, string>> = {
    [`${ANNOTATION_PREFIX}secret-canary`]: `secret/data/${CANARY_KV_PATH}`,
    [`${ANNOTATION_PREFIX}secret-canary-url`]: `secret/data/${CANARY_KV_PATH}`,
    [`${ANNOTATION_PREFIX}template-canary-url`]: 'https://{{username}}:{{password}}@canary.invalid/?key={{api-key}}',
  };

  /** Writes the canary into KV v2 at CANARY_KV_PATH and the policy CANARY_POLICY that reads it. */
  async plant(vault: VaultAdmin): Promise<void> {
    await vault.writeKv(CANARY_KV_PATH, { username: 'canary-user', password: this.value, 'api-key': `${this.value}-key` });
    await vault.writePolicy(CANARY_POLICY, `path "secret/data/${CANARY_KV_PATH}" { capabilities = ["read"] }`);
  }

  /** sweep(), its figures printed, then: every MUST_READ source read, and the canary found nowhere. */
  async assertNowhere(cluster: DevCluster, output: ContainerOutput): Promise<void> {
    const swept = await this.sweep(cluster, output);
    console.log(swept.map((s) => `${String(s.bytes).padStart(10)} B  ${s.source}`).join('\n'));
    const bytesOf = (prefix: string) => swept.filter((s) => s.source.startsWith(prefix)).reduce((n, s) => n + s.bytes, 0);
    for (const prefix of MUST_READ) assert.ok(bytesOf(prefix) > 0, `the sweep read something from: ${prefix}`);
    const leaks = swept.filter((s) => s.hits.length > 0).map((s) => `${s.source} at byte(s) ${s.hits.join(', ')}`);
    assert.deepEqual(leaks, [], 'the canary appears nowhere');
  }

  /** Reads every source (the module comment lists them) and returns what each held. */
  async sweep(cluster: DevCluster, output: ContainerOutput): Promise<SweptSource[]> {
    const node = cluster.node;
    const texts: [string, string][] = [
      ['container output streamed through the API', output.all()],
      ...filesUnder(node?.podLogsDir ?? '').map((f): [string, string] => [`CRI log ${path.relative(node?.podLogsDir ?? '', f)}`, readOrEmpty(f)]),
      ...Object.entries(cluster.logs).map(([component, file]): [string, string] => [`component log ${component}`, readOrEmpty(file)]),
    ];
    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    const [events, pods, secrets, configMaps] = await Promise.all([
      core.listEventForAllNamespaces(),
      core.listPodForAllNamespaces(),
      core.listSecretForAllNamespaces(),
      core.listConfigMapForAllNamespaces(),
    ]);
    texts.push(['Events', JSON.stringify(events.items)], ['pods (annotations, status)', JSON.stringify(pods.items)], ['Secrets', JSON.stringify(secrets.items)], ['ConfigMaps', JSON.stringify(configMaps.items)]);
    const raw = async (url: string) => (await run(cluster.kubectl, ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', path.join(cluster.dir, 'kubectl-cache'), 'get', '--raw', url], { maxBuffer: 64 << 20 })).stdout;
    const webhookPods = pods.items.filter((p) => p.metadata?.namespace === WEBHOOK_NAMESPACE && p.status?.phase === 'Running');
    for (const pod of webhookPods) {
      const port = pod.spec?.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === 'metrics')?.containerPort;
      texts.push([`metrics scrape of ${pod.metadata?.name}`, await raw(`/api/v1/namespaces/${WEBHOOK_NAMESPACE}/pods/${pod.metadata?.name}:${port}/proxy/metrics`)]);
    }
    texts.push(['metrics scrape of kube-apiserver', await raw('/metrics')]);
    texts.push(['this test process’s output', this.printed.join('')]);
    return texts.map(([source, text]) => ({ source, bytes: Buffer.byteLength(text), hits: occurrences(text, this.value) }));
  }
}
