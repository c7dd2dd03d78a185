/**
 * What the configuration parsers share: an environment to read, every problem collected
 * (each naming its variable) so one round trip fixes them all, and a JSON object check.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export class Problems {
  readonly list: string[] = [];

  add(variable: string, message: string): void {
    this.list.push(`${variable}: ${message}`);
  }
}

/** The variable's trimmed value; undefined when unset or blank. */
export function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** The trimmed value, or '' with a problem saying it is required and `hint`. */
export function required(env: Env, name: string, problems: Problems, hint: string): string {
  const v = value(env, name);
  if (v === undefined) problems.add(name, `is required (${hint})`);
  return v ?? '';
}

export function isRecord(candidate: unknown): candidate is Record<string, unknown> {
  return typeof candidate === 'object' && candidate !== null && !Array.isArray(candidate);
}
