/**
 * Which PodDisruptionBudgets cover a pod: the Eviction API answers 429 without always
 * naming the budget, and an operator reading the EvictionBlocked Event needs the name.
 * Label-selector semantics as in k8s.io/apimachinery: matchLabels AND every
 * matchExpression; an empty selector matches every pod, a missing one matches none.
 */
import type { V1LabelSelector, V1LabelSelectorRequirement, V1PodDisruptionBudget } from '@kubernetes/client-node';

function expressionMatches(expr: V1LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, expr.key);
  const listed = has && (expr.values ?? []).includes(labels[expr.key] ?? '');
  switch (expr.operator) {
    case 'In':
      return listed;
    case 'NotIn':
      return !listed;
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      return false;
  }
}

export function selectorMatches(selector: V1LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return false;
  const labelsMatch = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  return labelsMatch && (selector.matchExpressions ?? []).every((expr) => expressionMatches(expr, labels));
}

/** Names of the budgets in the pod's namespace whose selector matches its labels, sorted. */
export function matchingPdbNames(pdbs: readonly V1PodDisruptionBudget[], labels: Readonly<Record<string, string>>): string[] {
  return pdbs
    .filter((pdb) => selectorMatches(pdb.spec?.selector, labels))
    .map((pdb) => pdb.metadata?.name ?? '')
    .filter((name) => name !== '')
    .sort();
}
