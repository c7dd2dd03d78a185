/**
 * `vault-courier.io/template-<name>`: a logic-less mustache template over a secret's fields,
 * for a file that is a connection URL or a properties file rather than JSON. mustache parses
 * (tags, `{{=<% %>=}}` delimiters, comments, syntax errors); the template may only insert
 * fields, and this module writes them in, so that:
 * - nothing is HTML-escaped: `{{password}}` and `{{{password}}}` both insert the value as it
 *   is in Vault (mustache's HTML escaping is wrong for URLs and properties files);
 * - `{{db.password}}` is the field named `db.password` (Vault keys often hold dots), not a
 *   lookup into nested objects; a value that is not a string is written as JSON, as
 *   `key:<field>` writes it;
 * - a field the secret lacks stops delivery, naming the field: never an empty string in the
 *   file. Sections and partials are refused because they would render a missing field empty.
 * Pure; problems quote tags and positions of the template, never a secret value.
 */
import Mustache from 'mustache';

export type TemplatePart = { readonly text: string } | { readonly field: string };

export type ParsedTemplate = { readonly parts: readonly TemplatePart[] } | { readonly problem: string };

// A writer of our own without a cache: the webhook parses the templates of every pod it
// admits, and mustache's shared writer would keep each of them for the process's life.
const writer = Object.assign(new Mustache.Writer(), { templateCache: undefined });

const UNSUPPORTED: Readonly<Record<string, string>> = { '#': 'a section', '^': 'an inverted section', '>': 'a partial', '/': 'a section end' };

type Token = readonly [type: string, value: string, start: number, ...rest: unknown[]];

function tokenPart(token: Token): TemplatePart | string | undefined {
  const [type, value, start] = token;
  if (type === 'text') return { text: value };
  if (type === '!' || type === '=') return undefined;
  const kind = UNSUPPORTED[type];
  if (kind !== undefined) {
    return `has ${kind} ({{${type}${value}}} at character ${start}): a template only inserts fields, so that a field the secret lacks stops delivery instead of rendering empty; write {{field}} for each field`;
  }
  if (value === '.' || value === '') return `has {{${value}}} at character ${start}: name a field of the secret, e.g. {{password}} (for the whole secret use format json)`;
  // `{{user}:{{password}}` parses as one field named "user}:{{password": a tag left open.
  if (/[{}]/.test(value)) return `has {{${value}}} at character ${start}: a field name with "{" or "}" means a tag is not closed; write {{field}} with two braces on each side`;
  return { field: value };
}

/** Parses a template; the problem (without the annotation, which the caller adds) says how to fix it. */
export function parseTemplate(template: string): ParsedTemplate {
  if (template.trim() === '') return { problem: 'is empty: write the file\'s text with {{field}} where each field of the secret goes, e.g. "postgresql://{{username}}:{{password}}@db:5432/app"' };
  let tokens: Token[];
  try {
    tokens = writer.parse(template) as Token[];
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const fix = /section/.test(reason) ? 'sections are not supported: write {{field}} for each field' : 'close every "{{" with "}}", or change the delimiters with {{=<% %>=}} if the text itself holds "{{"';
    return { problem: `is not a valid template (${reason}; positions count characters from 0): ${fix}` };
  }
  const parts: TemplatePart[] = [];
  const problems: string[] = [];
  for (const token of tokens) {
    const part = tokenPart(token);
    if (typeof part === 'string') problems.push(part);
    else if (part !== undefined) parts.push(part);
  }
  if (problems.length > 0) return { problem: problems.join('; ') };
  if (!parts.some((p) => 'field' in p)) return { problem: 'inserts no field of the secret: write {{field}} where each value goes, e.g. {{password}}' };
  return { parts };
}

/** The fields a template inserts, each once, in order of first use. */
export function templateFields(parts: readonly TemplatePart[]): string[] {
  return [...new Set(parts.flatMap((p) => ('field' in p ? [p.field] : [])))];
}
