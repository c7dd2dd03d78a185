/**
 * The one logger every binary uses: pino JSON lines with constant redaction paths, so a
 * token or a secret passed as a field by mistake is censored. Redaction covers fields
 * only: never interpolate a secret into a message string.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

const SENSITIVE_KEYS = ['jwt', 'token', 'client_token', 'clientToken', 'authorization', 'password', 'secret', 'data', 'value', 'values'] as const;

/** Redacted at the top level, one level down (`req.headers.authorization`) and two. */
export const REDACT_PATHS: readonly string[] = SENSITIVE_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

/**
 * For a line on a hot path whose fields are all strings, numbers or booleans (the
 * webhook's one line per review): the same keys, exact and top-level only. fast-redact's
 * cost is the wildcards, which walk every field of every line; a nested field logged
 * through this logger would not be redacted, so log objects through the parent.
 */
export function flatFieldsLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [...SENSITIVE_KEYS], censor: '[redacted]' } });
}

/** Every binary's log level comes from this variable, validated by its config parser. */
export const LOG_LEVEL_ENV = 'VAULT_COURIER_LOG_LEVEL';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(level: string): level is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(level);
}

export interface LoggerOptions {
  readonly name: string;
  /** Default info; pino throws on an unknown level, so only a validated one goes here. */
  readonly level?: LogLevel;
  /** Where lines go; tests pass a sink and parse what it received. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      base: { name: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
