/**
 * One error type for the whole project. Callers branch on `kind`, never on message text.
 * Messages name the field at fault and the fix, and never contain a secret value.
 */
export const ERROR_KINDS = ['annotation', 'config', 'spec', 'vault', 'eviction', 'kubernetes', 'render', 'io'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class CourierError extends Error {
  readonly kind: ErrorKind;
  /** Whether retrying the same operation later may succeed (Vault down, 5xx, 429). */
  readonly retryable: boolean;

  constructor(kind: ErrorKind, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CourierError';
    this.kind = kind;
    this.retryable = options.retryable ?? false;
  }
}

export function isCourierError(err: unknown, kind?: ErrorKind): err is CourierError {
  return err instanceof CourierError && (kind === undefined || err.kind === kind);
}
