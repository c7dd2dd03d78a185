/**
 * Renders a secret's data into the bytes of its file, in the format the pod asked for with
 * `vault-courier.io/format-<name>` or `vault-courier.io/template-<name>`. Pure: no I/O. Errors name the annotation, the key or
 * field at fault and the fix; they name keys and fields, never a value.
 */
import { CourierError } from '../support/errors.ts';
import { ANNOTATIONS } from './annotations.ts';
import type { SecretSpec } from './spec.ts';
import { parseTemplate, templateFields } from './template.ts';

/** The secret's key/value data as Vault returned it (for KV v2: the inner `data.data`). */
export type SecretData = Readonly<Record<string, unknown>>;

/** A POSIX shell variable name: what `set -a; . file` can assign. */
const SHELL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function formatAnnotation(name: string): string {
  return `${ANNOTATIONS.formatPrefix}${name}`;
}

/** Strings as they are; anything else (numbers, booleans, nested objects) as JSON text. */
function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Single quotes preserve every byte but the quote itself, which closes the string, is
 * written escaped (`\'`) and reopens it: `it's` -> `'it'\''s'`. Newlines inside single
 * quotes are literal in POSIX sh, bash, dash and busybox ash.
 */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function renderEnv(spec: SecretSpec, data: SecretData): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (!SHELL_IDENTIFIER.test(key)) {
      throw new CourierError(
        'render',
        `${formatAnnotation(spec.name)}: env: key ${JSON.stringify(key)} of ${spec.path} is not a shell variable name (letters, digits and _, not starting with a digit); rename the key in Vault or use format json`,
      );
    }
    const text = valueText(value);
    if (text.includes('\0')) {
      throw new CourierError('render', `${formatAnnotation(spec.name)}: env: the value of key ${key} of ${spec.path} contains a NUL byte, which a shell variable cannot hold; use format json or key:${key}`);
    }
    lines.push(`${key}=${shellQuote(text)}\n`);
  }
  return lines.join('');
}

function fieldsPresent(data: SecretData): string {
  const present = Object.keys(data);
  return present.length > 0 ? present.map((k) => JSON.stringify(k)).join(', ') : 'none';
}

function renderField(spec: SecretSpec, data: SecretData, field: string): string {
  if (!Object.hasOwn(data, field)) {
    throw new CourierError('render', `${formatAnnotation(spec.name)}: field ${JSON.stringify(field)} is not in the secret at ${spec.path}; fields present: ${fieldsPresent(data)}`);
  }
  return valueText(data[field]);
}

/** Every field the template inserts must be in the secret: a missing one stops delivery, named, rather than leaving a hole in a URL. */
function renderTemplate(spec: SecretSpec, data: SecretData, template: string): string {
  const annotation = `${ANNOTATIONS.templatePrefix}${spec.name}`;
  const parsed = parseTemplate(template);
  if ('problem' in parsed) throw new CourierError('render', `${annotation} ${parsed.problem}`);
  const missing = templateFields(parsed.parts).filter((f) => !Object.hasOwn(data, f));
  if (missing.length > 0) {
    const names = missing.map((f) => JSON.stringify(f)).join(', ');
    throw new CourierError('render', `${annotation}: the template uses ${missing.length === 1 ? 'field' : 'fields'} ${names}, not in the secret at ${spec.path}; fields present: ${fieldsPresent(data)}; fix the template or the secret`);
  }
  return parsed.parts.map((p) => ('text' in p ? p.text : valueText(data[p.field]))).join('');
}

/** The file's content for one secret. Throws CourierError('render') naming the annotation. */
export function renderSecret(spec: SecretSpec, data: SecretData): string {
  switch (spec.format.kind) {
    case 'json':
      return `${JSON.stringify(data, null, 2)}\n`;
    case 'env':
      return renderEnv(spec, data);
    case 'key':
      return renderField(spec, data, spec.format.field);
    case 'template':
      return renderTemplate(spec, data, spec.format.template);
  }
}
