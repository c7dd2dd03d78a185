/**
 * The JSONPatch sent back to the API server is fast-json-patch's diff of the original and
 * the mutated pod, never ops assembled by hand (docs/adr/0001-diff-based-patches.md): a
 * hand-built `add /spec/volumes` on a pod without volumes is how vault-k8s lost a volume.
 * `compare` returns at once for a subtree both sides share by identity, so with mutate.ts's
 * copies (only the path to each change is new) the diff walks the changed parts alone.
 */
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';

export type { Operation } from 'fast-json-patch';

export function toJsonPatch(original: object, mutated: object): Operation[] {
  return jsonpatch.compare(original, mutated);
}

/** Applies a patch to a copy of `document`, as the API server would; for tests and `render`. */
export function applyJsonPatch<T>(document: T, patch: readonly Operation[]): T {
  return jsonpatch.applyPatch(structuredClone(document), [...patch], true, false).newDocument;
}
