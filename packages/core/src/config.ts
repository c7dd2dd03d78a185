/**
 * The webhook's configuration, parsed from its environment (the chart sets each variable
 * from exactly one value). Every problem is reported at once, naming the variable, and the
 * process stops at start rather than admitting pods with a half-valid configuration.
 */
import { CourierError } from './errors.ts';
import { Problems, required, value, type Env } from './env.ts';
import { isLogLevel, LOG_LEVEL_ENV, LOG_LEVELS, type LogLevel } from './logger.ts';
import { DEFAULT_AUTH_PATH } from './init-config.ts';

export interface ListenAddress {
  /** Undefined: every interface. */
  readonly host: string | undefined;
  readonly port: number;
}

/** Container resources as Kubernetes writes them (`{ cpu: '10m', memory: '64Mi' }`). */
export interface Resources {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
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
  readonly initImage: string;
  readonly sidecarImage: string;
  readonly serviceUrl: string;
  /** CA that signs the webhook's own certificate, handed to sidecars for POST /evict. */
  readonly serviceCaCertFile: string | undefined;
  readonly initResources: Resources;
  readonly sidecarResources: Resources;
  readonly logLevel: LogLevel;
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
  initImage: 'VAULT_COURIER_INIT_IMAGE',
  sidecarImage: 'VAULT_COURIER_SIDECAR_IMAGE',
  serviceUrl: 'VAULT_COURIER_SERVICE_URL',
  serviceCaCert: 'VAULT_COURIER_SERVICE_CACERT',
  initResources: 'VAULT_COURIER_INIT_RESOURCES',
  sidecarResources: 'VAULT_COURIER_SIDECAR_RESOURCES',
  logLevel: LOG_LEVEL_ENV,
} as const;

/**
 * Defaults measured on Node 26 (see charts/vault-courier/values.yaml): a Node process that
 * has loaded pino and node-vault peaks at about 74 MiB RSS and spends about 0.12 s of CPU
 * starting; the idle sidecar then uses no measurable CPU.
 */
export const DEFAULT_INIT_RESOURCES: Resources = Object.freeze({ requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '160Mi' } });
export const DEFAULT_SIDECAR_RESOURCES: Resources = Object.freeze({ requests: { cpu: '5m', memory: '80Mi' }, limits: { memory: '128Mi' } });

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;

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

function url(env: Env, name: string, problems: Problems, protocols: readonly string[], example: string): string {
  const text = required(env, name, problems, `e.g. ${example}`);
  if (text === '') return '';
  let parsed: URL | undefined;
  try {
    parsed = new URL(text);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !protocols.includes(parsed.protocol)) {
    problems.add(name, `"${text}" is not a ${protocols.join(' or ')} URL (e.g. ${example})`);
    return '';
  }
  // Paths are appended to it (`${url}/evict`): one canonical form without a trailing slash.
  return text.replace(/\/+$/, '');
}

function resources(env: Env, name: string, fallback: Resources, problems: Problems): Resources {
  const text = value(env, name);
  if (text === undefined) return fallback;
  const bad = (): Resources => {
    problems.add(name, `must be JSON like {"requests":{"cpu":"10m","memory":"64Mi"},"limits":{"memory":"128Mi"}}; got ${JSON.stringify(text)}`);
    return fallback;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bad();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad();
  const entries = Object.entries(parsed);
  const valid = entries.every(
    ([section, quantities]) =>
      (section === 'requests' || section === 'limits') &&
      typeof quantities === 'object' &&
      quantities !== null &&
      Object.entries(quantities).every(([resource, q]) => (resource === 'cpu' || resource === 'memory' || resource === 'ephemeral-storage') && typeof q === 'string' && QUANTITY.test(q)),
  );
  return valid ? Object.freeze(parsed as Resources) : bad();
}

/** Parses the webhook's environment; throws CourierError('config') listing every problem. */
export function parseConfig(env: Env): WebhookConfig {
  const problems = new Problems();
  const authPath = value(env, CONFIG_ENV.authPath) ?? DEFAULT_AUTH_PATH;
  if (authPath.startsWith('/') || authPath.endsWith('/')) problems.add(CONFIG_ENV.authPath, `"${authPath}" must not start or end with "/" (e.g. "auth/kubernetes")`);
  const logLevel = value(env, CONFIG_ENV.logLevel) ?? 'info';
  if (!isLogLevel(logLevel)) problems.add(CONFIG_ENV.logLevel, `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  const config: WebhookConfig = {
    listen: listen(env, CONFIG_ENV.listen, ':8443', problems),
    tlsCertFile: required(env, CONFIG_ENV.tlsCert, problems, 'path of the PEM certificate the webhook serves'),
    tlsKeyFile: required(env, CONFIG_ENV.tlsKey, problems, 'path of the PEM private key of that certificate'),
    metricsListen: listen(env, CONFIG_ENV.metricsListen, ':9090', problems),
    vaultAddr: url(env, CONFIG_ENV.vaultAddr, problems, ['https:', 'http:'], 'https://vault.vault.svc:8200'),
    vaultCaCertFile: value(env, CONFIG_ENV.vaultCaCert),
    authPath,
    defaultRole: value(env, CONFIG_ENV.defaultRole),
    initImage: required(env, CONFIG_ENV.initImage, problems, 'image of the injected init container'),
    sidecarImage: required(env, CONFIG_ENV.sidecarImage, problems, 'image of the injected sidecar'),
    serviceUrl: url(env, CONFIG_ENV.serviceUrl, problems, ['https:'], 'https://vault-courier.vault-courier.svc:443'),
    serviceCaCertFile: value(env, CONFIG_ENV.serviceCaCert),
    initResources: resources(env, CONFIG_ENV.initResources, DEFAULT_INIT_RESOURCES, problems),
    sidecarResources: resources(env, CONFIG_ENV.sidecarResources, DEFAULT_SIDECAR_RESOURCES, problems),
    logLevel: isLogLevel(logLevel) ? logLevel : 'info',
  };
  if (problems.list.length > 0) {
    throw new CourierError('config', `invalid configuration:\n  ${problems.list.join('\n  ')}`);
  }
  return Object.freeze(config);
}
