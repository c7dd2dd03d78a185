/**
 * The sidecar's configuration: the environment the webhook injects (INJECTED_ENV), parsed
 * once, every problem reported at once and named by its variable. Pure: main.ts passes
 * process.env in.
 */
import { CourierError } from '@vault-courier/core/support/errors';
import { LOG_LEVEL_ENV, type LogLevel } from '@vault-courier/core/support/logger';
import { DEFAULT_GRACE_PERIOD_SECONDS, INJECTED_ENV } from '@vault-courier/core/contract/names';
import { decideRotation, type RotationDecision } from '@vault-courier/core/rotation/rotation-policy';
import { checkAbsolutePath, checkCaPem, checkLogLevel, checkServiceUrl, checkVaultAddr, checkVaultNamespace, withoutTrailingSlash } from '@vault-courier/core/contract/validators';

export interface SidecarConfig {
  readonly stateDir: string;
  readonly evictJwtPath: string;
  readonly serviceUrl: URL;
  readonly serviceCaPem: string | undefined;
  readonly vaultAddr: string;
  readonly vaultCaPem: string | undefined;
  /** Sent as X-Vault-Namespace on every Vault call; undefined: none. */
  readonly vaultNamespace: string | undefined;
  readonly podName: string;
  readonly podNamespace: string;
  readonly podUid: string;
  /** The webhook's decision (core's decideRotation at admission): whether the sidecar may ask for eviction. */
  readonly rotate: boolean;
  /** Why, as the webhook decided it; undefined in pods injected before the webhook wrote it. */
  readonly rotateReason: string | undefined;
  readonly ownerKind: string;
  readonly gracePeriodSeconds: number;
  readonly logLevel: LogLevel;
}

/** Evict when a controller will recreate the pod; otherwise only warn as expiry nears. */
export type RotationMode = RotationDecision;

/**
 * The webhook decides at admission (core's decideRotation, with its allowlist and
 * VAULT_COURIER_EVICT_OWNER_KINDS) and writes the decision and its reason. A pod injected
 * before the reason was written carries only the rotate annotation and the owner's kind:
 * the same rule applies to that kind, with no extra kinds (the setting did not exist then).
 */
export function rotationMode(config: Pick<SidecarConfig, 'rotate' | 'ownerKind' | 'rotateReason'>): RotationMode {
  if (config.rotateReason !== undefined) return config.rotate ? { mode: 'evict', why: config.rotateReason } : { mode: 'warn', why: config.rotateReason };
  return decideRotation({ rotate: config.rotate, owner: config.ownerKind === '' ? undefined : { apiVersion: undefined, kind: config.ownerKind }, evictOwnerKinds: [] });
}

type Env = Readonly<Record<string, string | undefined>>;

function parseLogLevel(env: Env, problems: string[]): LogLevel {
  const level = env[LOG_LEVEL_ENV]?.trim() || 'info';
  const problem = checkLogLevel(level);
  if (problem === undefined) return level as LogLevel;
  problems.push(`${LOG_LEVEL_ENV}: ${problem}`);
  return 'info';
}

/** Reads variables, collecting every problem, each named by its variable. */
class Reader {
  readonly problems: string[] = [];
  private readonly env: Env;

  constructor(env: Env) {
    this.env = env;
  }

  required(name: string): string {
    const value = this.env[name]?.trim() ?? '';
    if (value === '') this.problems.push(`${name}: is required (the webhook sets it when it injects the sidecar)`);
    return value;
  }

  /** A required value, checked by the validator the webhook applied at start. */
  checked(name: string, check: (text: string) => string | undefined): string {
    const value = this.required(name);
    const problem = value === '' ? undefined : check(value);
    if (problem !== undefined) this.problems.push(`${name}: ${problem}`);
    return problem === undefined ? value : '';
  }

  pem(name: string): string | undefined {
    const value = this.env[name] ?? '';
    if (value.trim() === '') return undefined;
    const problem = checkCaPem(value);
    if (problem !== undefined) this.problems.push(`${name}: ${problem}`);
    return value;
  }

  optional(name: string, check: (text: string) => string | undefined): string | undefined {
    const value = this.env[name]?.trim() ?? '';
    if (value === '') return undefined;
    const problem = check(value);
    if (problem !== undefined) this.problems.push(`${name}: ${problem}`);
    return value;
  }

  rotate(): boolean {
    const text = this.env[INJECTED_ENV.rotate]?.trim() ?? 'true';
    if (text !== 'true' && text !== 'false') this.problems.push(`${INJECTED_ENV.rotate}: must be "true" or "false", got "${text}"`);
    return text !== 'false';
  }

  grace(): number {
    const text = this.env[INJECTED_ENV.gracePeriodSeconds]?.trim() ?? String(DEFAULT_GRACE_PERIOD_SECONDS);
    const grace = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(grace)) this.problems.push(`${INJECTED_ENV.gracePeriodSeconds}: must be a whole number of seconds, got "${text}"`);
    return grace;
  }
}

export function parseSidecarConfig(env: Env): SidecarConfig {
  const read = new Reader(env);
  const serviceUrl = read.checked(INJECTED_ENV.serviceUrl, checkServiceUrl);
  const reason = env[INJECTED_ENV.rotateReason]?.trim();
  const config: SidecarConfig = {
    stateDir: read.checked(INJECTED_ENV.stateDir, checkAbsolutePath),
    evictJwtPath: read.checked(INJECTED_ENV.evictJwtPath, checkAbsolutePath),
    serviceUrl: new URL(serviceUrl === '' ? 'https://invalid.invalid' : serviceUrl),
    serviceCaPem: read.pem(INJECTED_ENV.serviceCaPem),
    vaultAddr: withoutTrailingSlash(read.checked(INJECTED_ENV.vaultAddr, checkVaultAddr)),
    vaultCaPem: read.pem(INJECTED_ENV.vaultCaPem),
    vaultNamespace: read.optional(INJECTED_ENV.vaultNamespace, checkVaultNamespace),
    podName: read.required(INJECTED_ENV.podName),
    podNamespace: read.required(INJECTED_ENV.podNamespace),
    podUid: read.required(INJECTED_ENV.podUid),
    rotate: read.rotate(),
    rotateReason: reason === undefined || reason === '' ? undefined : reason,
    ownerKind: env[INJECTED_ENV.ownerKind]?.trim() ?? '',
    gracePeriodSeconds: read.grace(),
    logLevel: parseLogLevel(env, read.problems),
  };
  if (read.problems.length > 0) throw new CourierError('config', `the sidecar's environment is invalid:\n- ${read.problems.join('\n- ')}`);
  return config;
}
