/**
 * The shape of the pod in a review, checked before any decision reads it. The API server
 * only sends pods it decoded into its own types, but anyone who can reach the webhook's
 * port can post a review; without this check a `containers: "x"` or a pod nested 10,000
 * deep made the decision code throw (found by test/fuzz/admission.test.ts) and the pod was
 * refused as an internal error. Only the fields the webhook reads are checked, and their
 * JSON types only: the API server validates the rest after admission.
 */
import { isRecord } from '../support/env.ts';

/** Pods nest about ten levels deep; structuredClone overflows the stack near 5,000. */
export const MAX_POD_DEPTH = 100;

type Check = (value: unknown, field: string) => string | undefined;

const expect = (what: string, ok: (v: unknown) => boolean): Check => (value, field) => (value === undefined || ok(value) ? undefined : `${field} must be ${what}, got ${describe(value)}`);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const string = expect('a string', (v) => typeof v === 'string');
const number = expect('a number', (v) => typeof v === 'number');
const boolean = expect('a boolean', (v) => typeof v === 'boolean');
const stringMap: Check = (value, field) => {
  if (value === undefined) return undefined;
  if (!isRecord(value)) return `${field} must be an object of strings, got ${describe(value)}`;
  const bad = Object.entries(value).find(([, v]) => typeof v !== 'string');
  return bad === undefined ? undefined : `${field}[${JSON.stringify(bad[0])}] must be a string, got ${describe(bad[1])}`;
};

/** An object whose listed fields pass their checks; each problem names the field. */
function object(fields: Readonly<Record<string, Check>>, required: readonly string[] = []): Check {
  return (value, field) => {
    if (value === undefined) return undefined;
    if (!isRecord(value)) return `${field} must be an object, got ${describe(value)}`;
    for (const name of required) if (value[name] === undefined) return `${field}.${name} is required`;
    for (const [name, check] of Object.entries(fields)) {
      const problem = check(value[name], `${field}.${name}`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

function list(item: Check): Check {
  return (value, field) => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) return `${field} must be an array, got ${describe(value)}`;
    for (const [index, entry] of value.entries()) {
      const problem = item(entry, `${field}[${index}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

const CONTAINER = object(
  {
    name: string,
    env: list(object({ name: string, value: string }, ['name'])),
    volumeMounts: list(object({ name: string, mountPath: string }, ['name', 'mountPath'])),
  },
  ['name'],
);

const POD = object({
  metadata: object({
    name: string,
    generateName: string,
    namespace: string,
    uid: string,
    annotations: stringMap,
    labels: stringMap,
    ownerReferences: list(object({ apiVersion: string, kind: string, name: string, controller: boolean })),
  }),
  spec: object({
    containers: list(CONTAINER),
    initContainers: list(CONTAINER),
    volumes: list(object({ name: string }, ['name'])),
    securityContext: object({ runAsUser: number, runAsGroup: number, fsGroup: number }),
    terminationGracePeriodSeconds: number,
  }),
});

/** Depth of the deepest array or object, counted without recursion; stops at `limit + 1`. */
export function nestingDepth(value: unknown, limit = MAX_POD_DEPTH): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop() as [unknown, number];
    if (typeof node !== 'object' || node === null) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Undefined for a pod (or a workload's pod template) the webhook can read; else the first
 * problem, naming the field under `field`.
 */
export function podShapeProblem(pod: unknown, field = 'request.object'): string | undefined {
  if (nestingDepth(pod) > MAX_POD_DEPTH) return `${field} is nested deeper than ${MAX_POD_DEPTH} levels; no Pod is`;
  return POD(pod, field);
}
