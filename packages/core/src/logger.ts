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

export interface LoggerOptions {
  readonly name: string;
  readonly level?: string;
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
