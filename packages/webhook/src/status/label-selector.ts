/**
 * Kubernetes label selectors (matchLabels, matchExpressions), evaluated as the API server
 * does, for the two questions `vault-courier status` asks without listing pods per
 * selector: does this PodDisruptionBudget select the pod, does the webhook's
 * namespaceSelector select its namespace. Pure.
 */
import type { V1LabelSelector } from '@kubernetes/client-node';

type Labels = Readonly<Record<string, string>>;

function requirementHolds(labels: Labels, r: { key: string; operator: string; values?: string[] }): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.operator) {
    case 'In':
      return has && (r.values ?? []).includes(value ?? '');
    case 'NotIn':
      return !has || !(r.values ?? []).includes(value ?? '');
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      // An operator the API server would have refused: select nothing rather than guess.
      return false;
  }
}

/**
 * An empty selector ({}) selects everything; an absent one (undefined) nothing, which is
 * what policy/v1 PodDisruptionBudgets and webhook namespaceSelectors mean by them.
 */
export function selectorMatches(selector: V1LabelSelector | undefined, labels: Labels, absent: 'nothing' | 'everything' = 'nothing'): boolean {
  if (selector === undefined) return absent === 'everything';
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
  return byLabel && (selector.matchExpressions ?? []).every((r) => requirementHolds(labels, r));
}
