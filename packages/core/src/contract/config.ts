/**
 * The webhook's configuration, parsed from its environment (the chart sets each variable
 * from exactly one value). Every problem is reported at once, naming the variable, and the
 * process stops at start rather than admitting pods with a half-valid configuration.
 */
import { CourierError } from '../support/errors.ts';
import { Problems, required, value, type Env } from '../support/env.ts';
import { LOG_LEVEL_ENV, type LogLevel } from '../support/logger.ts';
import { EVICT_OWNER_KINDS_ENV, parseOwnerKinds, type OwnerKind } from './owner-kinds.ts';
import {
  checkAuthPath,
  checkCaPem,
  checkImage,
  checkLogLevel,
  checkRole,
  checkServiceUrl,
  checkVaultAddr,
  checkVaultNamespace,
  DEFAULT_AUTH_PATH,
  parseResources,
  SERVICE_URL_EXAMPLE,
  VAULT_ADDR_EXAMPLE,
  withoutTrailingSlash,
  type Resources,
} from './validators.ts';

export interface ListenAddress {
  /** Undefined: every interface. */
  readonly host: string | undefined;
  readonly port: number;
}


export interface WebhookConfig {
  readonly listen: ListenAddress;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly metricsListen: ListenAddress;
  readonly vaultAddr: string;
  readonly vaultCaCertFile: string | undefined;
  readonly authPath: string;
  readonly defaultRole: string | undefined;
  /** Vault namespace for pods without `vault-courier.io/namespace`; undefined: none (Vault's root namespace). */
  readonly defaultVaultNamespace: string | undefined;
  readonly initImage: string;
  readonly sidecarImage: string;
  readonly serviceUrl: string;
  /** CA that signs the webhook's own certificate, handed to sidecars for POST /evict. */
  readonly serviceCaCertFile: string | undefined;
  readonly initResources: Resources;
  readonly sidecarResources: Resources;
  readonly logLevel: LogLevel;
  /** Controller kinds evicted besides ReplicaSet, StatefulSet, DaemonSet, ReplicationController. */
  readonly evictOwnerKinds: readonly OwnerKind[];
}

/** The variables, by the name the chart and the README use. */
export const CONFIG_ENV = {
  listen: 'VAULT_COURIER_LISTEN',
  tlsCert: 'VAULT_COURIER_TLS_CERT',
  tlsKey: 'VAULT_COURIER_TLS_KEY',
  metricsListen: 'VAULT_COURIER_METRICS_LISTEN',
  vaultAddr: 'VAULT_COURIER_VAULT_ADDR',
  vaultCaCert: 'VAULT_COURIER_VAULT_CACERT',
  authPath: 'VAULT_COURIER_AUTH_PATH',
  defaultRole: 'VAULT_COURIER_DEFAULT_ROLE',
  defaultVaultNamespace: 'VAULT_COURIER_DEFAULT_VAULT_NAMESPACE',
  initImage: 'VAULT_COURIER_INIT_IMAGE',
  sidecarImage: 'VAULT_COURIER_SIDECAR_IMAGE',
  serviceUrl: 'VAULT_COURIER_SERVICE_URL',
  serviceCaCert: 'VAULT_COURIER_SERVICE_CACERT',
  initResources: 'VAULT_COURIER_INIT_RESOURCES',
  sidecarResources: 'VAULT_COURIER_SIDECAR_RESOURCES',
  logLevel: LOG_LEVEL_ENV,
  evictOwnerKinds: EVICT_OWNER_KINDS_ENV,
} as const;

/**
 * Defaults from bench/init and bench/sidecar (docs/performance.md; the headroom is stated in
 * charts/vault-courier/values.yaml): the init container peaks at 57 MiB RSS; the idle
 * sidecar holds 55 MiB RSS (13 MiB of it anonymous) and 0.3 ms of CPU a second.
 */
export const DEFAULT_INIT_RESOURCES: Resources = Object.freeze({ requests: { cpu: '50m', memory: '80Mi' }, limits: { memory: '128Mi' } });
export const DEFAULT_SIDECAR_RESOURCES: Resources = Object.freeze({ requests: { cpu: '1m', memory: '64Mi' }, limits: { memory: '128Mi' } });

/** `[host]:port`, `host:port` or `[::1]:port`; port 0 asks the system for a free port. */
export function parseListen(text: string): ListenAddress | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] ?? match[2];
  return { host: host === '' ? undefined : host, port };
}

function listen(env: Env, name: string, fallback: string, problems: Problems): ListenAddress {
  const text = value(env, name) ?? fallback;
  const parsed = parseListen(text);
  if (parsed === undefined) problems.add(name, `"${text}" is not [host]:port (e.g. "${fallback}" or "127.0.0.1:8443")`);
  return parsed ?? { host: undefined, port: 0 };
}

/** A required value, checked by the validator the injected containers use too. */
function checked(env: Env, name: string, problems: Problems, hint: string, check: (text: string) => string | undefined): string {
  const text = required(env, name, problems, hint);
  if (text === '') return '';
  const problem = check(text);
  if (problem !== undefined) problems.add(name, problem);
  return problem === undefined ? text : '';
}

function optionalChecked(env: Env, name: string, problems: Problems, check: (text: string) => string | undefined): string | undefined {
  const text = value(env, name);
  const problem = text === undefined ? undefined : check(text);
  if (problem !== undefined) problems.add(name, problem);
  return problem === undefined ? text : undefined;
}

function resources(env: Env, name: string, fallback: Resources, problems: Problems): Resources {
  const text = value(env, name);
  if (text === undefined) return fallback;
  const parsed = parseResources(text);
  if ('problem' in parsed) problems.add(name, parsed.problem);
  return 'resources' in parsed ? parsed.resources : fallback;
}

function ownerKinds(env: Env, problems: Problems): readonly OwnerKind[] {
  const parsed = parseOwnerKinds(value(env, CONFIG_ENV.evictOwnerKinds) ?? '');
  if ('problem' in parsed) problems.add(CONFIG_ENV.evictOwnerKinds, parsed.problem);
  return 'kinds' in parsed ? parsed.kinds : [];
}

/** Parses the webhook's environment; throws CourierError('config') listing every problem. */
export function parseConfig(env: Env): WebhookConfig {
  const problems = new Problems();
  const authPath = optionalChecked(env, CONFIG_ENV.authPath, problems, checkAuthPath) ?? DEFAULT_AUTH_PATH;
  const logLevel = (optionalChecked(env, CONFIG_ENV.logLevel, problems, checkLogLevel) ?? 'info') as LogLevel;
  const config: WebhookConfig = {
    listen: listen(env, CONFIG_ENV.listen, ':8443', problems),
    tlsCertFile: required(env, CONFIG_ENV.tlsCert, problems, 'path of the PEM certificate the webhook serves'),
    tlsKeyFile: required(env, CONFIG_ENV.tlsKey, problems, 'path of the PEM private key of that certificate'),
    metricsListen: listen(env, CONFIG_ENV.metricsListen, ':9090', problems),
    vaultAddr: withoutTrailingSlash(checked(env, CONFIG_ENV.vaultAddr, problems, `e.g. ${VAULT_ADDR_EXAMPLE}`, checkVaultAddr)),
    vaultCaCertFile: value(env, CONFIG_ENV.vaultCaCert),
    authPath,
    defaultRole: optionalChecked(env, CONFIG_ENV.defaultRole, problems, checkRole),
    defaultVaultNamespace: optionalChecked(env, CONFIG_ENV.defaultVaultNamespace, problems, checkVaultNamespace),
    initImage: checked(env, CONFIG_ENV.initImage, problems, 'image of the injected init container', checkImage),
    sidecarImage: checked(env, CONFIG_ENV.sidecarImage, problems, 'image of the injected sidecar', checkImage),
    // Paths are appended to it (`${url}/evict`): one canonical form without a trailing slash.
    serviceUrl: withoutTrailingSlash(checked(env, CONFIG_ENV.serviceUrl, problems, `e.g. ${SERVICE_URL_EXAMPLE}`, checkServiceUrl)),
    serviceCaCertFile: value(env, CONFIG_ENV.serviceCaCert),
    initResources: resources(env, CONFIG_ENV.initResources, DEFAULT_INIT_RESOURCES, problems),
    sidecarResources: resources(env, CONFIG_ENV.sidecarResources, DEFAULT_SIDECAR_RESOURCES, problems),
    logLevel,
    evictOwnerKinds: ownerKinds(env, problems),
  };
  if (problems.list.length > 0) {
    throw new CourierError('config', `invalid configuration:\n  ${problems.list.join('\n  ')}`);
  }
  return Object.freeze(config);
}

/** What the injected containers need from the webhook's configuration; plain data, no files. */
export interface InjectionConfig {
  readonly vaultAddr: string;
  /** PEM text of the CA that signs Vault's certificate, read by the webhook at start. */
  readonly vaultCaPem: string | undefined;
  readonly authPath: string;
  readonly defaultRole: string | undefined;
  /** VAULT_COURIER_DEFAULT_VAULT_NAMESPACE; optional like evictOwnerKinds, absent means none. */
  readonly defaultVaultNamespace?: string | undefined;
  readonly initImage: string;
  readonly sidecarImage: string;
  readonly serviceUrl: string;
  /** PEM text of the CA that signs the webhook's certificate (for POST /evict). */
  readonly serviceCaPem: string | undefined;
  readonly initResources: Resources;
  readonly sidecarResources: Resources;
  /**
   * Controller kinds evicted besides the built-in ones (VAULT_COURIER_EVICT_OWNER_KINDS).
   * Optional so that a caller building this from an older WebhookConfig still compiles:
   * absent means none.
   */
  readonly evictOwnerKinds?: readonly OwnerKind[];
}

/** One problem of an InjectionConfig: the field, the webhook variable it comes from, and what is wrong. */
export interface InjectionProblem {
  readonly field: keyof InjectionConfig;
  readonly variable: string;
  readonly problem: string;
}

const INJECTION_CHECKS: readonly [keyof InjectionConfig, string, (text: string) => string | undefined][] = [
  ['vaultAddr', CONFIG_ENV.vaultAddr, checkVaultAddr],
  ['vaultCaPem', CONFIG_ENV.vaultCaCert, checkCaPem],
  ['authPath', CONFIG_ENV.authPath, checkAuthPath],
  ['defaultRole', CONFIG_ENV.defaultRole, checkRole],
  ['defaultVaultNamespace', CONFIG_ENV.defaultVaultNamespace, checkVaultNamespace],
  ['initImage', CONFIG_ENV.initImage, checkImage],
  ['sidecarImage', CONFIG_ENV.sidecarImage, checkImage],
  ['serviceUrl', CONFIG_ENV.serviceUrl, checkServiceUrl],
  ['serviceCaPem', CONFIG_ENV.serviceCaCert, checkCaPem],
];

/**
 * What the admission path hands to the injected containers, held to the validators those
 * containers apply: the CA files' text (read after parseConfig) included. Empty when every
 * injected pod's init container and sidecar will accept their environment.
 */
export function checkInjectionConfig(config: InjectionConfig): InjectionProblem[] {
  const problems: InjectionProblem[] = [];
  for (const [field, variable, check] of INJECTION_CHECKS) {
    const text = config[field];
    if (typeof text !== 'string') continue;
    const problem = check(text);
    if (problem !== undefined) problems.push({ field, variable, problem: field.endsWith('Pem') ? `the file ${problem}` : problem });
  }
  return problems;
}
