/**
 * Kubeconfigs of the dev clusters: the admin's (the file users and kubectl read, and the
 * KubeConfig this process uses, built from that same text) and, with a node, the
 * components' and the kubelet's. One writer, so the file and the client never differ.
 */
import { writeFile } from 'node:fs/promises';
import { dumpYaml, KubeConfig } from '@kubernetes/client-node';
import type { CertificateFiles } from './pki.ts';

export interface KubeconfigIdentity {
  readonly server: string;
  readonly caPem: string;
  readonly cert: CertificateFiles;
  readonly user: string;
}

export function kubeconfigYaml(identity: KubeconfigIdentity): string {
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  return dumpYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'devcluster', cluster: { server: identity.server, 'certificate-authority-data': b64(identity.caPem) } }],
    users: [{ name: identity.user, user: { 'client-certificate-data': b64(identity.cert.certPem), 'client-key-data': b64(identity.cert.keyPem) } }],
    contexts: [{ name: 'devcluster', context: { cluster: 'devcluster', user: identity.user } }],
    'current-context': 'devcluster',
  });
}

/** Writes the kubeconfig (mode 0600: it holds a private key) and returns its client. */
export async function writeKubeconfig(path: string, identity: KubeconfigIdentity): Promise<KubeConfig> {
  const text = kubeconfigYaml(identity);
  await writeFile(path, text, { mode: 0o600 });
  const kc = new KubeConfig();
  kc.loadFromString(text);
  return kc;
}
