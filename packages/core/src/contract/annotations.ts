/**
 * The pod annotations users write (prefix `vault-courier.io/`), and their parser. Parsing
 * returns every problem at once, each naming the annotation and the fix: a user with three
 * typos fixes them in one round trip, not three.
 */
import { ANNOTATION_PREFIX, DEFAULT_MOUNT_PATH, INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME, STATUS_INJECTED } from './names.ts';
import { checkMountPath, checkRole, checkVaultNamespace, checkVaultPath } from './validators.ts';
import type { SecretFormat, SecretSpec } from './spec.ts';
import { parseTemplate } from './template.ts';
import { closest } from '../support/did-you-mean.ts';

/** Every annotation key of the public contract. */
export const ANNOTATIONS = {
  /** `secret-<name>: <vault path>`: deliver this secret as file `<mount-path>/<name>`. */
  secretPrefix: `${ANNOTATION_PREFIX}secret-`,
  /** `format-<name>: json | env | key:<field>`: how secret `<name>` is written (default json). */
  formatPrefix: `${ANNOTATION_PREFIX}format-`,
  /** `template-<name>: <mustache text>`: secret `<name>` is written as this template over its fields (template.ts). */
  templatePrefix: `${ANNOTATION_PREFIX}template-`,
  /** Vault role to log in with (default: the webhook's VAULT_COURIER_DEFAULT_ROLE). */
  role: `${ANNOTATION_PREFIX}role`,
  /** Vault Enterprise / OpenBao namespace, sent as X-Vault-Namespace (default: the webhook's VAULT_COURIER_DEFAULT_VAULT_NAMESPACE). */
  namespace: `${ANNOTATION_PREFIX}namespace`,
  /** Absolute directory the secret files appear in (default /vault/secrets). */
  mountPath: `${ANNOTATION_PREFIX}mount-path`,
  /** Comma list of the pod's containers (init or regular) that get the mount (default all). */
  containers: `${ANNOTATION_PREFIX}containers`,
  /** `"false"`: per-pod opt-out inside an opted-in namespace. */
  inject: `${ANNOTATION_PREFIX}inject`,
  /** `"false"`: deliver, but never evict the pod to rotate. */
  rotate: `${ANNOTATION_PREFIX}rotate`,
  /** Written by the webhook (`injected`): the pod is never injected twice. */
  status: `${ANNOTATION_PREFIX}status`,
} as const;

const FIXED_KEYS: readonly string[] = [ANNOTATIONS.role, ANNOTATIONS.namespace, ANNOTATIONS.mountPath, ANNOTATIONS.containers, ANNOTATIONS.inject, ANNOTATIONS.rotate, ANNOTATIONS.status];

/** What a pod asked for, once its annotations are valid. */
export interface InjectionSpec {
  readonly secrets: readonly SecretSpec[];
  /** The pod's `vault-courier.io/role`, else the webhook's default role. */
  readonly role: string;
  /** The pod's `vault-courier.io/namespace`, else the webhook's default; absent: Vault's root namespace (no header). */
  readonly namespace?: string | undefined;
  readonly mountPath: string;
  /** The containers that get the secrets mount; undefined means all of them. */
  readonly containers: readonly string[] | undefined;
  readonly rotate: boolean;
}

export interface AnnotationError {
  /** The full annotation key at fault. */
  readonly annotation: string;
  /** What is wrong and how to fix it; never contains an annotation's secret value. */
  readonly message: string;
}

export type ParseResult = { readonly ok: true; readonly spec: InjectionSpec } | { readonly ok: false; readonly errors: readonly AnnotationError[] };

export interface ParseContext {
  /** Names of the pod's init and regular containers, for `vault-courier.io/containers`. */
  readonly containerNames: readonly string[];
  /** The webhook's VAULT_COURIER_DEFAULT_ROLE, if set. */
  readonly defaultRole?: string | undefined;
  /** The webhook's VAULT_COURIER_DEFAULT_VAULT_NAMESPACE, if set. */
  readonly defaultNamespace?: string | undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const BOOLEAN_VALUES = ['true', 'false'] as const;

export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

/** True if the pod carries at least one `vault-courier.io/` annotation. */
export function hasCourierAnnotations(annotations: Readonly<Record<string, string>> | undefined): boolean {
  return Object.keys(annotations ?? {}).some((key) => key.startsWith(ANNOTATION_PREFIX));
}

/** Parses `json`, `env` or `key:<field>`; undefined if the value is none of them. */
export function parseFormat(value: string): SecretFormat | undefined {
  if (value === 'json' || value === 'env') return { kind: value };
  if (value.startsWith('key:') && value.length > 'key:'.length) return { kind: 'key', field: value.slice('key:'.length) };
  return undefined;
}

function checkSecretPath(key: string, path: string): string | undefined {
  const problem = checkVaultPath(path);
  return problem === undefined ? undefined : `${key} ${problem}`;
}

function checkMountPathAnnotation(path: string): string | undefined {
  const problem = checkMountPath(path);
  return problem === undefined ? undefined : `${ANNOTATIONS.mountPath} ${problem}`;
}

function checkBoolean(key: string, value: string): string | undefined {
  return (BOOLEAN_VALUES as readonly string[]).includes(value) ? undefined : `${key} must be "true" or "false"; got "${value}"`;
}

function parseContainers(value: string, context: ParseContext): { containers?: string[]; error?: string } {
  const key = ANNOTATIONS.containers;
  const names = value.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) return { error: `${key} must be a comma-separated list of container names without empty entries; got "${value}"` };
  const injected: readonly string[] = [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME];
  const unknown = names.filter((n) => !context.containerNames.includes(n) || injected.includes(n));
  if (unknown.length > 0) {
    const hints = unknown.map((n) => {
      const near = closest(n, context.containerNames);
      return near === undefined ? `"${n}"` : `"${n}" (did you mean "${near}"?)`;
    });
    return { error: `${key} names no container of this pod: ${hints.join(', ')}; the pod's containers are: ${context.containerNames.join(', ') || '(none)'}` };
  }
  return { containers: [...new Set(names)] };
}

/** The valid key nearest to an unknown one; `secret-`/`format-` keys keep the user's suffix. */
function suggestKey(key: string, secretNames: readonly string[]): string {
  const rest = key.slice(ANNOTATION_PREFIX.length);
  const dash = rest.indexOf('-');
  const suffix = dash === -1 ? undefined : rest.slice(dash + 1);
  const candidates = [
    ...FIXED_KEYS,
    ...secretNames.flatMap((n) => [`${ANNOTATIONS.secretPrefix}${n}`, `${ANNOTATIONS.formatPrefix}${n}`, `${ANNOTATIONS.templatePrefix}${n}`]),
    ...(suffix ? [`${ANNOTATIONS.secretPrefix}${suffix}`, `${ANNOTATIONS.formatPrefix}${suffix}`, `${ANNOTATIONS.templatePrefix}${suffix}`] : []),
  ];
  return closest(key, candidates) ?? ANNOTATIONS.role;
}

interface Collected {
  readonly secrets: Map<string, string>;
  readonly formats: Map<string, string>;
  readonly templates: Map<string, string>;
  readonly others: Map<string, string>;
  readonly unknown: string[];
}

function collect(annotations: Readonly<Record<string, string>>): Collected {
  const collected: Collected = { secrets: new Map(), formats: new Map(), templates: new Map(), others: new Map(), unknown: [] };
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    if (key.startsWith(ANNOTATIONS.secretPrefix)) collected.secrets.set(key.slice(ANNOTATIONS.secretPrefix.length), value);
    else if (key.startsWith(ANNOTATIONS.formatPrefix)) collected.formats.set(key.slice(ANNOTATIONS.formatPrefix.length), value);
    else if (key.startsWith(ANNOTATIONS.templatePrefix)) collected.templates.set(key.slice(ANNOTATIONS.templatePrefix.length), value);
    else if (FIXED_KEYS.includes(key)) collected.others.set(key, value);
    else collected.unknown.push(key);
  }
  return collected;
}

function parseSecrets(collected: Collected, errors: AnnotationError[]): SecretSpec[] {
  const secrets: SecretSpec[] = [];
  for (const [name, path] of collected.secrets) {
    const key = `${ANNOTATIONS.secretPrefix}${name}`;
    if (!isDnsLabel(name)) {
      const fixed = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
      const hint = isDnsLabel(fixed) ? `, e.g. ${ANNOTATIONS.secretPrefix}${fixed}` : '';
      errors.push({ annotation: key, message: `${key}: "${name}" is not a valid file name: use a DNS label (lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters)${hint}` });
      continue;
    }
    const pathError = checkSecretPath(key, path);
    if (pathError !== undefined) errors.push({ annotation: key, message: pathError });
    const format = secretFormat(name, collected);
    if ('error' in format) {
      errors.push(format.error);
      continue;
    }
    if (pathError === undefined) secrets.push({ name, path, format });
  }
  errors.push(...undeclared(collected, collected.formats, ANNOTATIONS.formatPrefix, 'the format'), ...undeclared(collected, collected.templates, ANNOTATIONS.templatePrefix, 'the template'));
  return secrets.sort((a, b) => a.name.localeCompare(b.name));
}

/** How secret `<name>` is written: `format-<name>` (default json) or `template-<name>`, never both. */
function secretFormat(name: string, collected: Collected): SecretFormat | { error: AnnotationError } {
  const fkey = `${ANNOTATIONS.formatPrefix}${name}`;
  const tkey = `${ANNOTATIONS.templatePrefix}${name}`;
  const formatValue = collected.formats.get(name);
  const template = collected.templates.get(name);
  if (template !== undefined) {
    if (formatValue !== undefined) return { error: { annotation: tkey, message: `${tkey} and ${fkey} both say how secret "${name}" is written: keep one (the template's text is the file)` } };
    const parsed = parseTemplate(template);
    return 'problem' in parsed ? { error: { annotation: tkey, message: `${tkey} ${parsed.problem}` } } : { kind: 'template', template };
  }
  const format = parseFormat(formatValue ?? 'json');
  if (format !== undefined) return format;
  return { error: { annotation: fkey, message: `${fkey} must be "json", "env" or "key:<field>" (e.g. "key:password"), or use ${tkey} for a template; got "${formatValue ?? ''}"` } };
}

/** `format-<name>` or `template-<name>` without its `secret-<name>`. */
function undeclared(collected: Collected, keys: Map<string, string>, prefix: string, what: string): AnnotationError[] {
  return [...keys.keys()]
    .filter((name) => !collected.secrets.has(name))
    .map((name) => {
      const key = `${prefix}${name}`;
      const near = closest(name, [...collected.secrets.keys()]);
      const hint = near === undefined ? '' : ` (did you mean ${prefix}${near}?)`;
      return { annotation: key, message: `${key} sets ${what} of a secret that is not declared: add ${ANNOTATIONS.secretPrefix}${name} or remove this annotation${hint}` };
    });
}

function parseRole(collected: Collected, context: ParseContext): string | undefined {
  const role = collected.others.get(ANNOTATIONS.role) ?? context.defaultRole ?? '';
  // A pod that declares no secret needs no role: it is left untouched.
  if (role === '' && collected.secrets.size > 0) return `${ANNOTATIONS.role} is required: name the Vault role to log in with (the webhook has no VAULT_COURIER_DEFAULT_ROLE)`;
  const problem = role === '' ? undefined : checkRole(role);
  if (problem !== undefined) return `${ANNOTATIONS.role} ${problem}`;
  return undefined;
}

/** An empty annotation asks for the root namespace even when the webhook has a default. */
function checkNamespace(collected: Collected, context: ParseContext): string | undefined {
  const annotated = collected.others.get(ANNOTATIONS.namespace);
  const namespace = annotated ?? context.defaultNamespace;
  if (namespace === undefined || namespace === '') return undefined;
  const problem = checkVaultNamespace(namespace);
  if (problem === undefined) return undefined;
  return annotated === undefined ? `the webhook's default namespace ${problem}` : `${ANNOTATIONS.namespace} ${problem} (or "" for Vault's root namespace)`;
}

/** `inject` and `status` change nothing in the spec, but a wrong value is still a mistake to report. */
function checkFlags(collected: Collected): [string, string | undefined][] {
  const inject = collected.others.get(ANNOTATIONS.inject);
  const status = collected.others.get(ANNOTATIONS.status);
  return [
    [ANNOTATIONS.inject, inject === undefined ? undefined : checkBoolean(ANNOTATIONS.inject, inject)],
    [ANNOTATIONS.status, status === undefined || status === STATUS_INJECTED ? undefined : `${ANNOTATIONS.status} is written by the webhook ("${STATUS_INJECTED}"); remove it from the manifest`],
  ];
}

function parseOthers(collected: Collected, context: ParseContext, errors: AnnotationError[]): Omit<InjectionSpec, 'secrets'> {
  const role = collected.others.get(ANNOTATIONS.role) ?? context.defaultRole ?? '';
  const namespace = collected.others.get(ANNOTATIONS.namespace) ?? context.defaultNamespace;
  const mountPath = collected.others.get(ANNOTATIONS.mountPath) ?? DEFAULT_MOUNT_PATH;
  const containersValue = collected.others.get(ANNOTATIONS.containers);
  const parsedContainers = containersValue === undefined ? {} : parseContainers(containersValue, context);
  const rotate = collected.others.get(ANNOTATIONS.rotate) ?? 'true';
  const checks: [string, string | undefined][] = [
    [ANNOTATIONS.role, parseRole(collected, context)],
    [ANNOTATIONS.namespace, checkNamespace(collected, context)],
    [ANNOTATIONS.mountPath, checkMountPathAnnotation(mountPath)],
    [ANNOTATIONS.containers, parsedContainers.error],
    [ANNOTATIONS.rotate, checkBoolean(ANNOTATIONS.rotate, rotate)],
    ...checkFlags(collected),
  ];
  for (const [annotation, message] of checks) if (message !== undefined) errors.push({ annotation, message });
  return { role, ...(namespace === undefined || namespace === '' ? {} : { namespace }), mountPath, containers: parsedContainers.containers, rotate: rotate === 'true' };
}

/**
 * Parses and validates every `vault-courier.io/` annotation of a pod. Messages quote
 * names, formats and paths, never a secret's value (annotations hold none).
 */
export function parseAnnotations(annotations: Readonly<Record<string, string>> | undefined, context: ParseContext): ParseResult {
  const collected = collect(annotations ?? {});
  const errors: AnnotationError[] = [];
  for (const key of collected.unknown) {
    errors.push({ annotation: key, message: `${key} is not a vault-courier annotation; did you mean ${suggestKey(key, [...collected.secrets.keys()])}?` });
  }
  const secrets = parseSecrets(collected, errors);
  const others = parseOthers(collected, context, errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, spec: { secrets, ...others } };
}

/** One line for an AdmissionReview denial: every error, in a stable order. */
export function formatAnnotationErrors(errors: readonly AnnotationError[]): string {
  const sorted = [...errors].sort((a, b) => a.annotation.localeCompare(b.annotation));
  return `vault-courier: invalid annotations: ${sorted.map((e) => e.message).join('; ')}`;
}
