/**
 * The demo application's configuration, all from the environment its pod spec sets (the
 * app knows nothing about Vault: only a file path and where the database is), and the
 * parsing of the credentials file vault-courier delivered. Pure.
 */
import path from 'node:path';
import { CourierError } from '@vault-courier/core';

export const DEMO_ENV = {
  /** The directory the secrets volume is mounted at (vault-courier.io/mount-path). */
  secretsDir: 'DEMO_SECRETS_DIR',
  /** The secret's file name: `vault-courier.io/secret-<name>` with format json. */
  secretName: 'DEMO_SECRET_NAME',
  dbHost: 'DEMO_DB_HOST',
  dbPort: 'DEMO_DB_PORT',
  dbName: 'DEMO_DB_NAME',
  queryIntervalMs: 'DEMO_QUERY_INTERVAL_MS',
} as const;

export interface DemoConfig {
  readonly credentialsFile: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly queryIntervalMs: number;
}

export interface DatabaseCredentials {
  readonly username: string;
  readonly password: string;
}

function positiveInteger(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) problems.push(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/** Every problem at once, each naming the variable. */
export function parseDemoConfig(env: Readonly<Record<string, string | undefined>>): DemoConfig {
  const problems: string[] = [];
  const secretsDir = env[DEMO_ENV.secretsDir] || '/vault/secrets';
  if (!path.isAbsolute(secretsDir)) problems.push(`${DEMO_ENV.secretsDir} must be an absolute path, got "${secretsDir}"`);
  const secretName = env[DEMO_ENV.secretName] || 'db';
  if (secretName.includes('/')) problems.push(`${DEMO_ENV.secretName} must be a file name without "/", got "${secretName}"`);
  const host = env[DEMO_ENV.dbHost] ?? '';
  if (host === '') problems.push(`${DEMO_ENV.dbHost} is required: the PostgreSQL host`);
  const port = positiveInteger(env, DEMO_ENV.dbPort, 5432, problems);
  const queryIntervalMs = positiveInteger(env, DEMO_ENV.queryIntervalMs, 5_000, problems);
  if (problems.length > 0) throw new CourierError('config', `demo-app configuration: ${problems.join('; ')}`);
  return { credentialsFile: path.join(secretsDir, secretName), host, port, database: env[DEMO_ENV.dbName] || 'postgres', queryIntervalMs };
}

/** Reads `{ username, password }`; errors name the file and the field, never a value. */
export function parseCredentials(text: string, file: string): DatabaseCredentials {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CourierError('config', `${file} is not JSON: deliver the secret with vault-courier.io/format-<name>: json`);
  }
  const record = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const missing = ['username', 'password'].filter((k) => typeof record[k] !== 'string' || record[k] === '');
  if (missing.length > 0) throw new CourierError('config', `${file} has no ${missing.join(' or ')} field: point the secret at a database credentials path (database/creds/<role>)`);
  return { username: record.username as string, password: record.password as string };
}
