/**
 * The AdmissionReview both webhooks are sent: a Deployment's pod (an init container, two
 * containers, a volume, two secrets: test/fixtures/admission/own-init-containers.review.json)
 * as the API server hands it to a mutating webhook, i.e. after the ServiceAccount admission
 * plugin added the kube-api-access projected volume and its mount in every container. It
 * carries both projects' annotations for the same request (init container and sidecar, two
 * secrets, one role); each webhook ignores the other's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const API_ACCESS_VOLUME = 'kube-api-access-7xk2p';
const API_ACCESS_MOUNT = { name: API_ACCESS_VOLUME, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' };

interface Container {
  volumeMounts?: unknown[];
}
interface Review {
  request: { object: { metadata: { annotations: Record<string, string> }; spec: { initContainers?: Container[]; containers: Container[]; volumes?: unknown[] } } };
}

export function benchReview(): Buffer {
  const review = JSON.parse(readFileSync(path.join(root, 'test/fixtures/admission/own-init-containers.review.json'), 'utf8')) as Review;
  const pod = review.request.object;
  const annotations = pod.metadata.annotations;
  // Both sides inject an init container and a long-running sidecar.
  delete annotations['vault-courier.io/rotate'];
  Object.assign(annotations, {
    'vault-courier.io/role': 'checkout',
    'vault.hashicorp.com/agent-inject': 'true',
    'vault.hashicorp.com/role': 'checkout',
    'vault.hashicorp.com/agent-inject-secret-db': 'database/creds/checkout',
    'vault.hashicorp.com/agent-inject-secret-stripe': 'secret/data/shop/stripe',
  });
  for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    container.volumeMounts = [...(container.volumeMounts ?? []), API_ACCESS_MOUNT];
  }
  pod.spec.volumes = [
    ...(pod.spec.volumes ?? []),
    {
      name: API_ACCESS_VOLUME,
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    },
  ];
  return Buffer.from(JSON.stringify(review));
}
