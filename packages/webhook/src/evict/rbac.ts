/**
 * What the webhook's ServiceAccount must be allowed, for POST /evict, /expiry-warning and /deadline
 * (admission itself calls nothing). The chart's ClusterRole grants exactly these
 * (chart.test.ts holds it to them) and the integration tests run the endpoint under them.
 */
import type { V1PolicyRule } from '@kubernetes/client-node';

export const EVICT_RBAC_RULES: readonly V1PolicyRule[] = [
  // get: the token's pod is read before acting (gone? another uid? injected?).
  { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
  { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
  // patch pods/status only: the vault-courier.io/Rotation condition (POST /deadline, the
  // answers of /evict). `patch pods` would be far wider: it could change a pod's images.
  { apiGroups: [''], resources: ['pods/status'], verbs: ['patch'] },
  // get + patch: a PDB that keeps blocking bumps one EvictionBlocked Event's count.
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'get', 'patch'] },
  { nonResourceURLs: ['/.well-known/openid-configuration', '/openid/v1/jwks'], verbs: ['get'] },
  // No PodDisruptionBudget rights: the Eviction API's 429 names the budget that blocks.
];
