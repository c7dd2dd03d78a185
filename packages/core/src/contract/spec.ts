/** What the init container delivers: one entry per `vault-courier.io/secret-<name>`. */

export type SecretFormat =
  | { readonly kind: 'json' }
  | { readonly kind: 'env' }
  | { readonly kind: 'key'; readonly field: string }
  /** `vault-courier.io/template-<name>`: the template's text, checked by parseTemplate (template.ts). */
  | { readonly kind: 'template'; readonly template: string };

export interface SecretSpec {
  /** File name under the mount path; a DNS label. */
  readonly name: string;
  /** Vault path as written in the annotation, e.g. `secret/data/app` or `database/creds/app`. */
  readonly path: string;
  readonly format: SecretFormat;
}

/** `json`, `env` or `key:<field>`, as written in `vault-courier.io/format-<name>`; a template as `template:<its text>`. */
export function formatToString(format: SecretFormat): string {
  if (format.kind === 'key') return `key:${format.field}`;
  return format.kind === 'template' ? `template:${format.template}` : format.kind;
}
