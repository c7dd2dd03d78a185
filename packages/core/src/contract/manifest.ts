/**
 * The lease manifest: written by the init container into the state volume, read by the
 * sidecar to compute the rotation deadline. Versioned so an old sidecar never misreads a
 * newer init container's file.
 *
 * Every issue time in it errs early (see leaseIssuedAt), so every expiry the sidecar
 * computes from it (issue time + duration) is at or before Vault's own, never after.
 */
import { CourierError } from '../support/errors.ts';
import { isRecord } from '../support/env.ts';

export const MANIFEST_VERSION = 1;

export interface SecretLease {
  /** The secret's name (the file it was written to). */
  readonly name: string;
  readonly path: string;
  /** '' for secrets without a lease (KV). */
  readonly leaseId: string;
  /** 0 for secrets that do not expire by themselves (KV). */
  readonly leaseDurationSeconds: number;
  readonly renewable: boolean;
  /** Epoch milliseconds, no later than Vault granted the lease: see leaseIssuedAt. */
  readonly issuedAtMs: number;
}

export interface TokenLease {
  readonly accessor: string;
  readonly ttlSeconds: number;
  readonly renewable: boolean;
  /** Epoch milliseconds, no later than Vault issued the token: see leaseIssuedAt. */
  readonly issuedAtMs: number;
}

/**
 * The issue time to record for a lease (or token) Vault granted in answer to a request
 * sent at `sentAtMs` and answered at `answeredAtMs`, both read from this node's wall clock.
 * Vault grants it somewhere in between, and the answer may take seconds (a slow database
 * creating the user, retried connections): recording the answer's time would put every
 * expiry computed from it up to that long after Vault's, and the eviction too late.
 * The earlier bound makes the deadline err early. min(), not sentAtMs alone: a wall clock
 * stepped back during the request (NTP) makes the answer's time the earlier one.
 */
export function leaseIssuedAt(sentAtMs: number, answeredAtMs: number): number {
  return Math.min(sentAtMs, answeredAtMs);
}

export interface LeaseManifest {
  readonly version: typeof MANIFEST_VERSION;
  readonly token: TokenLease;
  readonly secrets: readonly SecretLease[];
}

type Fields = Record<string, unknown>;

function field<T>(obj: Fields, key: string, where: string, check: (v: unknown) => v is T, what: string): T {
  const value = obj[key];
  if (!check(value)) {
    throw new CourierError('spec', `lease manifest: ${where}.${key} must be ${what}; the state volume holds a file this version cannot read (re-create the pod)`);
  }
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function parseToken(value: unknown): TokenLease {
  if (!isRecord(value)) throw new CourierError('spec', 'lease manifest: token must be an object');
  return {
    accessor: field(value, 'accessor', 'token', isString, 'a string'),
    ttlSeconds: field(value, 'ttlSeconds', 'token', isNonNegative, 'a number >= 0'),
    renewable: field(value, 'renewable', 'token', isBool, 'a boolean'),
    issuedAtMs: field(value, 'issuedAtMs', 'token', isNonNegative, 'epoch milliseconds'),
  };
}

function parseSecret(value: unknown, index: number): SecretLease {
  const where = `secrets[${index}]`;
  if (!isRecord(value)) throw new CourierError('spec', `lease manifest: ${where} must be an object`);
  return {
    name: field(value, 'name', where, isString, 'a string'),
    path: field(value, 'path', where, isString, 'a string'),
    leaseId: field(value, 'leaseId', where, isString, 'a string'),
    leaseDurationSeconds: field(value, 'leaseDurationSeconds', where, isNonNegative, 'a number >= 0'),
    renewable: field(value, 'renewable', where, isBool, 'a boolean'),
    issuedAtMs: field(value, 'issuedAtMs', where, isNonNegative, 'epoch milliseconds'),
  };
}

/** Parses and validates a manifest read from disk; throws CourierError('spec') naming the field. */
export function parseManifest(text: string): LeaseManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // No cause: JSON.parse quotes the text it failed on, and whatever overwrote the file may be a secret.
    throw new CourierError('spec', `lease manifest is not valid JSON (${text.length} characters); the init container did not finish writing it, or something else overwrote it (re-create the pod)`);
  }
  if (!isRecord(raw)) throw new CourierError('spec', 'lease manifest must be a JSON object');
  if (raw.version !== MANIFEST_VERSION) {
    throw new CourierError('spec', `lease manifest version ${String(raw.version)} is not supported (expected ${MANIFEST_VERSION}); init and sidecar images must come from the same release`);
  }
  const secrets = raw.secrets;
  if (!Array.isArray(secrets)) throw new CourierError('spec', 'lease manifest: secrets must be an array');
  return { version: MANIFEST_VERSION, token: parseToken(raw.token), secrets: secrets.map(parseSecret) };
}

export function serializeManifest(manifest: LeaseManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
