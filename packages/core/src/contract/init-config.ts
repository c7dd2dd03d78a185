/**
 * The init container's configuration, parsed from the environment the webhook injected
 * (INJECTED_ENV). Pure: main.ts passes process.env in. Every problem is reported at once,
 * each naming its variable, so a broken webhook configuration is fixed in one round trip.
 */
import { INJECTED_ENV } from './names.ts';
import { isRecord, Problems, required, type Env } from '../support/env.ts';
import { isDnsLabel } from './annotations.ts';
import type { SecretFormat, SecretSpec } from './spec.ts';
import { checkAbsolutePath, checkAuthPath, checkCaPem, checkMountPath, checkRole, checkVaultAddr, checkVaultNamespace, checkVaultPath, DEFAULT_AUTH_PATH, withoutTrailingSlash } from './validators.ts';
import { parseTemplate } from './template.ts';

export const DEFAULT_INIT_DEADLINE_SECONDS = 120;

export interface InitConfig {
  /** Vault's base URL without a trailing slash. */
  readonly vaultAddr: string;
  /** PEM text of the CA bundle that signs Vault's certificate; undefined: the system roots. */
  readonly vaultCaPem: string | undefined;
  /** The auth method's mount, without slashes at either end, e.g. `auth/kubernetes`. */
  readonly authPath: string;
  readonly role: string;
  /** Sent as X-Vault-Namespace on every Vault call; absent: none. */
  readonly vaultNamespace?: string | undefined;
  readonly secrets: readonly SecretSpec[];
  readonly secretsDir: string;
  readonly stateDir: string;
  readonly vaultJwtPath: string;
  /** How long Vault may stay unreachable, sealed or failing before init gives up. */
  readonly deadlineSeconds: number;
  /** For log context only. */
  readonly pod: { readonly name: string; readonly namespace: string; readonly uid: string };
}

export type InitEnv = Env;
export type InitConfigResult = { readonly config: InitConfig } | { readonly errors: readonly string[] };


const SET_BY_WEBHOOK = 'the webhook sets it; re-create the pod through the webhook';

/** A required variable, checked by the validator the webhook applied at start. */
function checked(env: InitEnv, variable: string, problems: Problems, check: (text: string) => string | undefined): string {
  const value = required(env, variable, problems, SET_BY_WEBHOOK);
  const problem = value === '' ? undefined : check(value);
  if (problem !== undefined) problems.add(variable, problem);
  return value;
}

function parseCaPem(env: InitEnv, problems: Problems): string | undefined {
  const value = env[INJECTED_ENV.vaultCaPem];
  if (value === undefined || value.trim() === '') return undefined;
  const problem = checkCaPem(value);
  if (problem !== undefined) problems.add(INJECTED_ENV.vaultCaPem, problem);
  return value;
}

function parseAuthPath(env: InitEnv, problems: Problems): string {
  const value = env[INJECTED_ENV.authPath]?.trim() || DEFAULT_AUTH_PATH;
  const problem = checkAuthPath(value);
  if (problem !== undefined) problems.add(INJECTED_ENV.authPath, problem);
  return value;
}

function parseNamespace(env: InitEnv, problems: Problems): string | undefined {
  const value = env[INJECTED_ENV.vaultNamespace]?.trim();
  if (value === undefined || value === '') return undefined;
  const problem = checkVaultNamespace(value);
  if (problem !== undefined) problems.add(INJECTED_ENV.vaultNamespace, problem);
  return value;
}

function parseTemplateFormat(value: Record<string, unknown>, where: string, problems: Problems): SecretFormat | undefined {
  if (typeof value.template !== 'string') {
    problems.add(INJECTED_ENV.secrets, `${where}.format.template must be the template's text for kind "template"`);
    return undefined;
  }
  const parsed = parseTemplate(value.template);
  if ('problem' in parsed) {
    problems.add(INJECTED_ENV.secrets, `${where}.format.template ${parsed.problem}`);
    return undefined;
  }
  return { kind: 'template', template: value.template };
}

function parseDeadline(env: InitEnv, problems: Problems): number {
  const variable = INJECTED_ENV.initDeadlineSeconds;
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_INIT_DEADLINE_SECONDS;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 86_400) {
    problems.add(variable, `must be a whole number of seconds between 1 and 86400, got ${JSON.stringify(raw)}`);
    return DEFAULT_INIT_DEADLINE_SECONDS;
  }
  return value;
}

function parseFormat(value: unknown, where: string, problems: Problems): SecretFormat | undefined {
  const variable = INJECTED_ENV.secrets;
  if (!isRecord(value)) {
    problems.add(variable, `${where}.format must be an object like {"kind":"json"}`);
    return undefined;
  }
  if (value.kind === 'json' || value.kind === 'env') return { kind: value.kind };
  if (value.kind === 'key') {
    if (typeof value.field === 'string' && value.field !== '') return { kind: 'key', field: value.field };
    problems.add(variable, `${where}.format.field must be a non-empty string for kind "key"`);
    return undefined;
  }
  if (value.kind === 'template') return parseTemplateFormat(value, where, problems);
  problems.add(variable, `${where}.format.kind must be "json", "env", "key" or "template", got ${JSON.stringify(value.kind)}`);
  return undefined;
}

function parseSecret(value: unknown, index: number, problems: Problems): SecretSpec | undefined {
  const variable = INJECTED_ENV.secrets;
  const where = `[${index}]`;
  if (!isRecord(value)) {
    problems.add(variable, `${where} must be an object with name, path and format`);
    return undefined;
  }
  const { name, path: vaultPath } = value;
  const nameOk = typeof name === 'string' && isDnsLabel(name);
  if (!nameOk) problems.add(variable, `${where}.name must be a DNS label (a file name: lowercase letters, digits, -), got ${JSON.stringify(name)}`);
  const pathProblem = typeof vaultPath === 'string' ? checkVaultPath(vaultPath) : 'must be a string';
  const pathOk = pathProblem === undefined;
  if (!pathOk) problems.add(variable, `${where}.path ${pathProblem}`);
  const format = parseFormat(value.format, where, problems);
  if (!nameOk || !pathOk || format === undefined) return undefined;
  return { name: name as string, path: vaultPath as string, format };
}

function parseSecrets(env: InitEnv, problems: Problems): SecretSpec[] {
  const variable = INJECTED_ENV.secrets;
  const raw = required(env, variable, problems, SET_BY_WEBHOOK);
  if (raw === '') return [];
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    problems.add(variable, 'is not valid JSON (expected a JSON array of {name, path, format})');
    return [];
  }
  if (!Array.isArray(list) || list.length === 0) {
    problems.add(variable, 'must be a non-empty JSON array of {name, path, format}');
    return [];
  }
  const secrets = list.map((item, i) => parseSecret(item, i, problems)).filter((s): s is SecretSpec => s !== undefined);
  const seen = new Set<string>();
  for (const s of secrets) {
    if (seen.has(s.name)) problems.add(variable, `secret name ${JSON.stringify(s.name)} appears twice; each is a file name`);
    seen.add(s.name);
  }
  return secrets;
}

export function parseInitConfig(env: InitEnv): InitConfigResult {
  const problems = new Problems();
  const vaultNamespace = parseNamespace(env, problems);
  const config: InitConfig = {
    ...(vaultNamespace === undefined ? {} : { vaultNamespace }),
    vaultAddr: withoutTrailingSlash(checked(env, INJECTED_ENV.vaultAddr, problems, checkVaultAddr)),
    vaultCaPem: parseCaPem(env, problems),
    authPath: parseAuthPath(env, problems),
    role: checked(env, INJECTED_ENV.role, problems, checkRole),
    secrets: parseSecrets(env, problems),
    secretsDir: checked(env, INJECTED_ENV.secretsDir, problems, checkMountPath),
    stateDir: checked(env, INJECTED_ENV.stateDir, problems, checkAbsolutePath),
    vaultJwtPath: checked(env, INJECTED_ENV.vaultJwtPath, problems, checkAbsolutePath),
    deadlineSeconds: parseDeadline(env, problems),
    pod: {
      name: env[INJECTED_ENV.podName] ?? '',
      namespace: env[INJECTED_ENV.podNamespace] ?? '',
      uid: env[INJECTED_ENV.podUid] ?? '',
    },
  };
  if (problems.list.length > 0) return { errors: problems.list };
  if (config.secretsDir === config.stateDir) {
    return { errors: [`${INJECTED_ENV.stateDir}: must differ from ${INJECTED_ENV.secretsDir}; the Vault token must never be in the volume applications mount`] };
  }
  return { config: Object.freeze(config) };
}
