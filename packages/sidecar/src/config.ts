/**
 * The sidecar's configuration: the environment the webhook injects (INJECTED_ENV), parsed
 * once, every problem reported at once and named by its variable. Pure: main.ts passes
 * process.env in.
 */
import { CourierError } from '@vault-courier/core/errors';
import { isLogLevel, LOG_LEVEL_ENV, LOG_LEVELS, type LogLevel } from '@vault-courier/core/logger';
import { DEFAULT_GRACE_PERIOD_SECONDS, INJECTED_ENV } from '@vault-courier/core/names';

export interface SidecarConfig {
  readonly stateDir: string;
  readonly evictJwtPath: string;
  readonly serviceUrl: URL;
  readonly serviceCaPem: string | undefined;
  readonly vaultAddr: string;
  readonly vaultCaPem: string | undefined;
  readonly podName: string;
  readonly podNamespace: string;
  readonly podUid: string;
  /** Whether the pod may be evicted at all (see rotationMode). */
  readonly rotate: boolean;
  readonly ownerKind: string;
  readonly gracePeriodSeconds: number;
  readonly logLevel: LogLevel;
}

/** Evict when a controller will recreate the pod; otherwise only warn as expiry nears. */
export type RotationMode = { readonly mode: 'evict' } | { readonly mode: 'warn'; readonly why: string };

export function rotationMode(config: Pick<SidecarConfig, 'rotate' | 'ownerKind'>): RotationMode {
  if (!config.rotate) return { mode: 'warn', why: 'vault-courier.io/rotate is "false"' };
  if (config.ownerKind === '') return { mode: 'warn', why: 'no controller owns the pod, so nothing would recreate it' };
  if (config.ownerKind === 'Job') return { mode: 'warn', why: 'a Job owns the pod, and evicting it would fail or restart the work' };
  return { mode: 'evict' };
}

type Env = Readonly<Record<string, string | undefined>>;

function parseLogLevel(env: Env, problems: string[]): LogLevel {
  const level = env[LOG_LEVEL_ENV]?.trim() || 'info';
  if (isLogLevel(level)) return level;
  problems.push(`${LOG_LEVEL_ENV} must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return 'info';
}

export function parseSidecarConfig(env: Env): SidecarConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name]?.trim() ?? '';
    if (value === '') problems.push(`${name} is required (the webhook sets it when it injects the sidecar)`);
    return value;
  };
  const optional = (name: string): string | undefined => {
    const value = env[name]?.trim() ?? '';
    return value === '' ? undefined : (env[name] ?? '');
  };
  const absolute = (name: string): string => {
    const value = required(name);
    if (value !== '' && !value.startsWith('/')) problems.push(`${name} must be an absolute path, got "${value}"`);
    return value;
  };
  const url = (name: string): URL => {
    const value = required(name);
    try {
      const parsed = new URL(value || 'https://invalid.invalid');
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') problems.push(`${name} must be an http(s) URL, got "${value}"`);
      return parsed;
    } catch {
      problems.push(`${name} must be a URL such as https://vault-courier.vault-courier.svc:443, got "${value}"`);
      return new URL('https://invalid.invalid');
    }
  };

  const rotateText = env[INJECTED_ENV.rotate]?.trim() ?? 'true';
  if (rotateText !== 'true' && rotateText !== 'false') problems.push(`${INJECTED_ENV.rotate} must be "true" or "false", got "${rotateText}"`);
  const graceText = env[INJECTED_ENV.gracePeriodSeconds]?.trim() ?? String(DEFAULT_GRACE_PERIOD_SECONDS);
  const grace = Number(graceText);
  if (!/^\d+$/.test(graceText) || !Number.isSafeInteger(grace)) problems.push(`${INJECTED_ENV.gracePeriodSeconds} must be a whole number of seconds, got "${graceText}"`);

  const config: SidecarConfig = {
    stateDir: absolute(INJECTED_ENV.stateDir),
    evictJwtPath: absolute(INJECTED_ENV.evictJwtPath),
    serviceUrl: url(INJECTED_ENV.serviceUrl),
    serviceCaPem: optional(INJECTED_ENV.serviceCaPem),
    vaultAddr: url(INJECTED_ENV.vaultAddr).toString().replace(/\/$/, ''),
    vaultCaPem: optional(INJECTED_ENV.vaultCaPem),
    podName: required(INJECTED_ENV.podName),
    podNamespace: required(INJECTED_ENV.podNamespace),
    podUid: required(INJECTED_ENV.podUid),
    rotate: rotateText !== 'false',
    ownerKind: env[INJECTED_ENV.ownerKind]?.trim() ?? '',
    gracePeriodSeconds: grace,
    logLevel: parseLogLevel(env, problems),
  };
  if (problems.length > 0) throw new CourierError('config', `the sidecar's environment is invalid:\n- ${problems.join('\n- ')}`);
  return config;
}
