/**
 * Bodies for POST /mutate, drawn from a seeded generator: the golden AdmissionReviews of
 * test/fixtures/admission, varied as the brief of issue 14 lists (annotation sets a user
 * could write, structural mutations, wrong types, truncation, odd unicode, duplicate keys,
 * deep nesting, bodies beyond the limit, bytes that are not JSON). Each case says what it
 * is, so a failure names the kind as well as the seed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Random } from './random.ts';

type Generated = Omit<AdmissionCase, 'path'>;

export interface AdmissionCase {
  /** POST /mutate (pods), or /warn (the warn-only registration for workloads). */
  readonly path: '/mutate' | '/warn';
  readonly kind: string;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/admission');
const JSON_TYPE = { 'content-type': 'application/json' };
/** Just over and just under the webhook's DEFAULT_BODY_LIMIT (2 MiB, body-parser's "2mb"). */
const OVER_LIMIT = 2 * 1024 * 1024 + 1024;
const UNDER_LIMIT = 2 * 1024 * 1024 - 64 * 1024;

export function loadReviews(): Json[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.review.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(FIXTURES, f), 'utf8')) as Json);
}

/** Lone surrogates, direction overrides, NUL, zero-width and joiners, BOM, line separators, a case-folding trap. */
const ODD = ['\ud800', '\udfff', '\udc00x', '\u202e', '\u200f', '\u2066', '\u0000', '\u200b', '\u200d', '\ufeff', '\u2028', '\u0301', '\u{1f600}', '\uffff', 'İ', 'ß', '\\', '"', '/', '~1', '%2F'];

function oddText(rng: Random): string {
  return Array.from({ length: 1 + rng.int(4) }, () => (rng.chance(0.6) ? rng.pick(ODD) : rng.text(1 + rng.int(6)))).join('');
}

function randomValue(rng: Random, depth = 0): Json {
  const kinds = depth > 2 ? 6 : 8;
  switch (rng.int(kinds)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308]);
    case 3:
      return rng.text(rng.int(12));
    case 4:
      return oddText(rng);
    case 5:
      return '';
    case 6:
      return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.text(1 + rng.int(8)), randomValue(rng, depth + 1)]));
  }
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function isContainer(value: Json | undefined): value is Json[] | { [key: string]: Json } {
  return typeof value === 'object' && value !== null;
}

/** Every path in the document, the root excluded. */
function paths(doc: Json, prefix: Path = [], out: Path[] = []): Path[] {
  if (!isContainer(doc)) return out;
  for (const [key, value] of Object.entries(doc)) {
    const p = [...prefix, Array.isArray(doc) ? Number(key) : key];
    out.push(p);
    paths(value, p, out);
  }
  return out;
}

function parentOf(doc: Json, p: Path): { parent: Json[] | { [key: string]: Json }; key: string | number } | undefined {
  let node: Json | undefined = doc;
  for (const step of p.slice(0, -1)) {
    if (!isContainer(node)) return undefined;
    node = (node as Record<string, Json>)[step];
  }
  const key = p.at(-1);
  return isContainer(node) && key !== undefined ? { parent: node, key } : undefined;
}

function setAt(doc: Json, p: Path, value: Json): void {
  const at = parentOf(doc, p);
  if (at) (at.parent as Record<string, Json>)[at.key] = value;
}

function deleteAt(doc: Json, p: Path): void {
  const at = parentOf(doc, p);
  if (!at) return;
  if (Array.isArray(at.parent)) at.parent.splice(Number(at.key), 1);
  else delete at.parent[at.key];
}

function getAt(doc: Json, p: Path): Json | undefined {
  let node: Json | undefined = doc;
  for (const step of p) node = isContainer(node) ? (node as Record<string, Json>)[step] : undefined;
  return node;
}

const POD: Path = ['request', 'object'];
const ANNOTATIONS_PATH: Path = [...POD, 'metadata', 'annotations'];

function annotationsOf(review: Json): Record<string, Json> {
  const existing = getAt(review, ANNOTATIONS_PATH);
  if (isContainer(existing) && !Array.isArray(existing)) return existing;
  const fresh: Record<string, Json> = {};
  if (!isContainer(getAt(review, [...POD, 'metadata']))) setAt(review, [...POD, 'metadata'], {});
  setAt(review, ANNOTATIONS_PATH, fresh);
  return fresh;
}

function encode(kind: string, doc: Json, headers: Record<string, string> = JSON_TYPE): Generated {
  return { kind, body: Buffer.from(JSON.stringify(doc)), headers };
}

const SECRET_NAMES = ['db', 'api', 'x', 'a-b', 'DB', '-bad', 'a'.repeat(64), 'tls.crt'];
const FORMATS = ['json', 'env', 'key:password', 'key:', 'yaml', 'template', ''];
const VAULT_PATHS = ['database/creds/app', 'secret/data/app', 'kv/data/a?version=2', '/leading', 'a/../b', '', 'x'.repeat(300)];
const MOUNTS = ['/vault/secrets', '/etc/app', 'relative', '/', '/proc/self', '/vault/secrets/../x'];

/** Annotation sets a user could write, right or wrong: injected or refused with a message. */
function annotationVariant(rng: Random, base: Json): Generated {
  const review = clone(base);
  const annotations = annotationsOf(review);
  for (let i = rng.int(4); i >= 0; i--) {
    const name = rng.pick(SECRET_NAMES);
    annotations[`vault-courier.io/secret-${name}`] = rng.pick(VAULT_PATHS);
    if (rng.chance(0.5)) annotations[`vault-courier.io/format-${name}`] = rng.pick(FORMATS);
  }
  if (rng.chance(0.3)) annotations['vault-courier.io/role'] = rng.pick(['app', '', 'Bad Role', rng.text(40)]);
  if (rng.chance(0.3)) annotations['vault-courier.io/mount-path'] = rng.pick(MOUNTS);
  if (rng.chance(0.2)) annotations['vault-courier.io/containers'] = rng.pick(['checkout', 'nope', 'a,b', '', ',']);
  if (rng.chance(0.2)) annotations['vault-courier.io/inject'] = rng.pick(['false', 'true', 'no', '']);
  if (rng.chance(0.2)) annotations['vault-courier.io/rotate'] = rng.pick(['false', 'true', 'maybe']);
  if (rng.chance(0.1)) annotations['vault-courier.io/secrt-db'] = 'database/creds/app';
  if (rng.chance(0.1)) setAt(review, ['request', 'dryRun'], true);
  return encode('annotations', review);
}

/** 1-4 random edits anywhere: delete, replace with any type, add a key, duplicate or wrap a value. */
function structural(rng: Random, base: Json): Generated {
  const review = clone(base);
  for (let i = rng.int(4); i >= 0; i--) {
    const all = paths(review);
    if (all.length === 0) break;
    const p = rng.pick(all);
    const op = rng.int(5);
    if (op === 0) deleteAt(review, p);
    else if (op === 1) setAt(review, p, randomValue(rng));
    else if (op === 2) setAt(review, [...p.slice(0, -1), rng.text(1 + rng.int(10))], randomValue(rng));
    else if (op === 3) setAt(review, p, [getAt(review, p) ?? null, getAt(review, p) ?? null]);
    else setAt(review, p, { value: getAt(review, p) ?? null });
  }
  return encode('structural', review);
}

/** The fields the webhook reads, each given a value of another type. */
const TYPED_FIELDS: Path[] = [
  ['request'],
  ['request', 'uid'],
  ['request', 'kind'],
  ['request', 'kind', 'kind'],
  ['request', 'operation'],
  ['request', 'namespace'],
  ['request', 'subResource'],
  ['request', 'dryRun'],
  POD,
  [...POD, 'metadata'],
  [...POD, 'metadata', 'name'],
  [...POD, 'metadata', 'generateName'],
  ANNOTATIONS_PATH,
  [...ANNOTATIONS_PATH, 'vault-courier.io/secret-db'],
  [...ANNOTATIONS_PATH, 'vault-courier.io/role'],
  [...ANNOTATIONS_PATH, 'vault-courier.io/status'],
  [...POD, 'metadata', 'labels'],
  [...POD, 'metadata', 'ownerReferences'],
  [...POD, 'metadata', 'ownerReferences', 0],
  [...POD, 'metadata', 'ownerReferences', 0, 'kind'],
  [...POD, 'spec'],
  [...POD, 'spec', 'containers'],
  [...POD, 'spec', 'containers', 0],
  [...POD, 'spec', 'containers', 0, 'name'],
  [...POD, 'spec', 'containers', 0, 'env'],
  [...POD, 'spec', 'containers', 0, 'volumeMounts'],
  [...POD, 'spec', 'containers', 0, 'securityContext'],
  [...POD, 'spec', 'containers', 0, 'resources'],
  [...POD, 'spec', 'initContainers'],
  [...POD, 'spec', 'volumes'],
  [...POD, 'spec', 'securityContext'],
  [...POD, 'spec', 'serviceAccountName'],
  [...POD, 'spec', 'terminationGracePeriodSeconds'],
  [...POD, 'spec', 'automountServiceAccountToken'],
];
const WRONG: Json[] = [42, -1.5, true, false, null, 'text', '', [], [1, 'a', null], {}, { name: 7 }];

function wrongType(rng: Random, base: Json): Generated {
  const review = clone(base);
  // Most bases opt in: make sure the typed field sits in a pod that asks for a secret.
  if (rng.chance(0.7)) annotationsOf(review)['vault-courier.io/secret-db'] = 'database/creds/app';
  for (let i = rng.int(2); i >= 0; i--) setAt(review, rng.pick(TYPED_FIELDS), clone(rng.pick(WRONG)));
  return encode('wrong-type', review);
}

function truncated(rng: Random, base: Json): Generated {
  const text = JSON.stringify(base);
  return { kind: 'truncated', body: Buffer.from(text.slice(0, rng.int(text.length))), headers: JSON_TYPE };
}

/** Odd characters in annotation keys and values, as JSON escapes and as raw UTF-8 (or broken UTF-8). */
function unicode(rng: Random, base: Json): Generated {
  const review = clone(base);
  const annotations = annotationsOf(review);
  for (let i = rng.int(3); i >= 0; i--) {
    const key = rng.pick([`vault-courier.io/secret-${oddText(rng)}`, `vault-courier.io/${oddText(rng)}`, `${oddText(rng)}/secret-db`, oddText(rng)]);
    annotations[key] = rng.pick([`database/creds/${oddText(rng)}`, oddText(rng), 'database/creds/app']);
  }
  if (rng.chance(0.3)) annotations[`vault-courier.io/format-${rng.pick(SECRET_NAMES)}`] = `key:${oddText(rng)}`;
  if (rng.chance(0.2)) annotations['vault-courier.io/mount-path'] = `/vault/${oddText(rng)}`;
  if (rng.chance(0.2)) setAt(review, [...POD, 'spec', 'containers', 0, 'name'], oddText(rng));
  const text = JSON.stringify(review);
  // Raw: lone surrogates become U+FFFD on the way to UTF-8; 0xff never starts a UTF-8 sequence.
  const body = rng.chance(0.5) ? Buffer.from(text.replace(/\\u([0-9a-f]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))) : Buffer.from(text);
  if (rng.chance(0.15)) {
    const at = body.indexOf('database/creds/');
    if (at > 0) body[at] = 0xff;
  }
  return { kind: 'unicode', body, headers: JSON_TYPE };
}

/** A key repeated with another value: JSON.parse (body-parser's and ours) keeps the last one. */
function duplicateKeys(rng: Random, base: Json): Generated {
  const review = clone(base);
  if (rng.chance(0.5)) annotationsOf(review)['vault-courier.io/secret-db'] = 'database/creds/app';
  let text = JSON.stringify(review);
  for (let i = rng.int(3); i >= 0; i--) {
    const keys = [...text.matchAll(/"((?:[^"\\]|\\.)*)":/g)];
    const match = rng.pick(keys);
    const value = rng.chance(0.5) ? JSON.stringify(randomValue(rng)) : JSON.stringify(getAt(review, ['request', 'uid']) ?? null);
    text = `${text.slice(0, match.index)}"${match[1] ?? ''}":${value},${text.slice(match.index)}`;
  }
  return { kind: 'duplicate-keys', body: Buffer.from(text), headers: JSON_TYPE };
}

const DEEP_MARK = '"__deep__"';

/** Arrays or objects nested 100 to 20,000 deep (structuredClone overflowed near 5,000), somewhere in the pod. */
function deep(rng: Random, base: Json): Generated {
  const review = clone(base);
  annotationsOf(review)['vault-courier.io/secret-db'] = 'database/creds/app';
  const where = rng.pick([[...POD, 'spec', 'extra'], [...POD, 'metadata', 'labels'], [...POD, 'spec', 'containers', 0, 'env'], ['request', 'options'], [...POD, 'spec', 'containers', 0, 'x']]);
  setAt(review, where, '__deep__');
  const depth = rng.pick([100, 1_000, 10_000, 20_000]);
  const nested = rng.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  return { kind: `deep-${depth}`, body: Buffer.from(JSON.stringify(review).replace(DEEP_MARK, nested)), headers: JSON_TYPE };
}

/** Near the limit (many annotations, or one long value) and beyond it. */
function huge(rng: Random, base: Json): Generated {
  const review = clone(base);
  const annotations = annotationsOf(review);
  annotations['vault-courier.io/secret-db'] = 'database/creds/app';
  const variant = rng.int(3);
  if (variant === 0) for (let i = 0; i < 5_000; i++) annotations[`vault-courier.io/secret-s${i}`] = 'database/creds/app';
  else annotations['x.example/padding'] = 'p'.repeat(variant === 1 ? UNDER_LIMIT : OVER_LIMIT);
  return encode(['huge-annotations', 'huge-value', 'huge-over-limit'][variant] ?? 'huge', review);
}

/** Not an AdmissionReview at all, or not JSON, or not declared as JSON. */
function garbage(rng: Random, base: Json): Generated {
  const valid = Buffer.from(JSON.stringify(base));
  const choices: Generated[] = [
    { kind: 'empty', body: Buffer.alloc(0), headers: JSON_TYPE },
    { kind: 'not-an-object', body: Buffer.from(rng.pick(['null', '[]', '[{}]', '"review"', '123', 'true', '{}'])), headers: JSON_TYPE },
    { kind: 'random-bytes', body: Buffer.from(Array.from({ length: rng.int(2048) }, () => rng.int(256))), headers: JSON_TYPE },
    { kind: 'text-plain', body: valid, headers: { 'content-type': 'text/plain' } },
    { kind: 'no-content-type', body: valid, headers: {} },
    { kind: 'utf-16-charset', body: valid, headers: { 'content-type': 'application/json; charset=utf-16' } },
    { kind: 'bogus-charset', body: valid, headers: { 'content-type': 'application/json; charset=x-none' } },
    { kind: 'gzip-not-gzip', body: valid, headers: { ...JSON_TYPE, 'content-encoding': 'gzip' } },
    { kind: 'unknown-encoding', body: valid, headers: { ...JSON_TYPE, 'content-encoding': 'br2' } },
    { kind: 'v1beta1', body: Buffer.from(JSON.stringify({ ...(base as Record<string, Json>), apiVersion: 'admission.k8s.io/v1beta1' })), headers: JSON_TYPE },
  ];
  return rng.pick(choices);
}

const GENERATORS: readonly [number, (rng: Random, base: Json) => Generated][] = [
  [22, annotationVariant],
  [20, structural],
  [15, wrongType],
  [10, truncated],
  [14, unicode],
  [8, duplicateKeys],
  [3, deep],
  [1, huge],
  [6, garbage],
];
const TOTAL_WEIGHT = GENERATORS.reduce((sum, [w]) => sum + w, 0);

const WORKLOADS: readonly [string, string, Path][] = [
  ['Deployment', 'apps', ['spec', 'template']],
  ['StatefulSet', 'apps', ['spec', 'template']],
  ['Job', 'batch', ['spec', 'template']],
  ['CronJob', 'batch', ['spec', 'jobTemplate', 'spec', 'template']],
];

/** The review of a workload whose pod template is the fixture's pod, as POST /warn receives it. */
function asWorkloadReview(rng: Random, base: Json): Json {
  const review = clone(base);
  const pod = getAt(review, POD);
  const [kind, group, templatePath] = rng.pick(WORKLOADS);
  const template: Json = isContainer(pod) && !Array.isArray(pod) ? { metadata: pod.metadata ?? {}, spec: pod.spec ?? {} } : {};
  const workload: Record<string, Json> = { apiVersion: `${group}/v1`, kind, metadata: { name: 'web', namespace: 'shop' }, spec: {} };
  for (let i = 2; i < templatePath.length; i++) setAt(workload, templatePath.slice(0, i), getAt(workload, templatePath.slice(0, i)) ?? {});
  setAt(workload, templatePath, template);
  setAt(review, POD, workload);
  setAt(review, ['request', 'kind'], { group, version: 'v1', kind });
  return review;
}

/** One case in ten goes to /warn, with the fixture's pod as a workload's template. */
export function nextCase(rng: Random, bases: readonly Json[]): AdmissionCase {
  const warn = rng.chance(0.1);
  const base = warn ? asWorkloadReview(rng, rng.pick(bases)) : rng.pick(bases);
  let roll = rng.int(TOTAL_WEIGHT);
  for (const [weight, generate] of GENERATORS) {
    if (roll < weight) {
      const c = generate(rng, base);
      return warn ? { ...c, path: '/warn', kind: `warn ${c.kind}` } : { ...c, path: '/mutate' };
    }
    roll -= weight;
  }
  throw new Error('unreachable: the weights cover every roll');
}
