/**
 * The value of VAULT_COURIER_EVICT_OWNER_KINDS: controller kinds, `Kind` or `group/Kind`,
 * that the eviction allowlist (rotation-policy.ts) takes beside its own. A contract value
 * like any other: parsed and validated here, once, for the webhook and the render CLI.
 */
/** The webhook variable that adds kinds to the allowlist. */
export const EVICT_OWNER_KINDS_ENV = 'VAULT_COURIER_EVICT_OWNER_KINDS';

/** A controller kind; `group` undefined matches the kind in any API group. */
export interface OwnerKind {
  readonly group: string | undefined;
  readonly kind: string;
}

const KIND = /^[A-Za-z][A-Za-z0-9]*$/;
const GROUP = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const EXAMPLE = 'e.g. "Rollout" or "argoproj.io/Rollout,CloneSet"';

function parseEntry(entry: string): OwnerKind | string {
  const parts = entry.split('/');
  if (parts.length > 2) return `"${entry}" has more than one "/": write group/Kind without the version (e.g. "argoproj.io/Rollout", not "argoproj.io/v1alpha1/Rollout")`;
  const [group, kind] = parts.length === 2 ? [parts[0] ?? '', parts[1] ?? ''] : [undefined, parts[0] ?? ''];
  if (group !== undefined && !GROUP.test(group)) return `"${entry}": "${group}" is not an API group (lowercase DNS name such as argoproj.io)`;
  if (!KIND.test(kind)) return `"${entry}": "${kind}" is not a kind (letters and digits, as in the ownerReference, ${EXAMPLE})`;
  if (/^[a-z]/.test(kind)) return `"${entry}": kinds are written as in ownerReferences, starting with a capital letter (e.g. "${kind.charAt(0).toUpperCase()}${kind.slice(1)}")`;
  return { group, kind };
}

/** The comma list `Kind` or `group/Kind` of VAULT_COURIER_EVICT_OWNER_KINDS; empty text is the empty list. */
export function parseOwnerKinds(text: string): { readonly kinds: readonly OwnerKind[] } | { readonly problem: string } {
  if (text.trim() === '') return { kinds: [] };
  const entries = text.split(',').map((e) => e.trim());
  if (entries.some((e) => e === '')) return { problem: `"${text}" has an empty entry; write a comma list of Kind or group/Kind, ${EXAMPLE}` };
  const kinds: OwnerKind[] = [];
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if (typeof parsed === 'string') return { problem: parsed };
    kinds.push(parsed);
  }
  return { kinds: Object.freeze(kinds) };
}

export function formatOwnerKind(kind: OwnerKind): string {
  return kind.group === undefined || kind.group === '' ? kind.kind : `${kind.group}/${kind.kind}`;
}

