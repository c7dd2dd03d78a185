/**
 * What the webhook's ServiceAccount must be allowed, for POST /evict, /expiry-warning and /deadline
 * (admission itself calls nothing). The chart's ClusterRole grants exactly these
 * (chart.test.ts holds it to them) and the integration tests run the endpoint under them.
 */
import type { V1PolicyRule } from '@kubernetes/client-node';

export const EVICT_RBAC_RULES: readonly V1PolicyRule[] = [
  // get: the token's pod is read before acting (gone? another uid? injected?).
  // list: the pods a PodDisruptionBudget covers, for the rotation queue (earliest expiry first).
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
  // patch pods/status only: the vault-courier.io/Rotation condition (POST /deadline, the
  // answers of /evict). `patch pods` would be far wider: it could change a pod's images.
  { apiGroups: [''], resources: ['pods/status'], verbs: ['patch'] },
  // get + patch: a PDB that keeps blocking bumps one EvictionBlocked Event's count.
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'get', 'patch'] },
  { nonResourceURLs: ['/.well-known/openid-configuration', '/openid/v1/jwks'], verbs: ['get'] },
  // list, nothing more: the rotation queue reads which budgets select the pod and how many
  // pods each counts (its lead, its order); the Eviction API's 429 still names the one that blocks.
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['list'] },
];
