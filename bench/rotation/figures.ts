/**
 * What bench/rotation reads out of its raw observations: the command line, Prometheus text
 * (the API server's and the webhook's /metrics), Vault's audit log, and the app's own log
 * lines next to its credentials' expiry. Pure, so the bench's arithmetic has a table test.
 */

export interface RotationArgs {
  readonly replicas: number;
  readonly dbTtlSeconds: number;
  /** Give up on the full rotation after this long (from the Deployment's creation). */
  readonly timeoutSeconds: number;
}

export const ROTATION_USAGE = 'usage: bash scripts/node.sh bench/rotation/run.ts [--replicas=<1..100, default 20>] [--ttl=<seconds >= 20, default 60>] [--timeout=<seconds, default 4 × ttl + 240>]';

/** `--replicas=`, `--ttl=`, `--timeout=`; a string naming the bad argument otherwise. */
export function parseRotationArgs(args: readonly string[]): RotationArgs | string {
  const values = new Map<string, number>();
  for (const arg of args) {
    const match = /^--(replicas|ttl|timeout)=(\d+)$/.exec(arg);
    if (match?.[1] === undefined || match[2] === undefined) return `unknown or malformed argument ${JSON.stringify(arg)}`;
    values.set(match[1], Number(match[2]));
  }
  const replicas = values.get('replicas') ?? 20;
  const dbTtlSeconds = values.get('ttl') ?? 60;
  if (replicas < 1 || replicas > 100) return `--replicas=${replicas}: between 1 and 100`;
  if (dbTtlSeconds < 20) return `--ttl=${dbTtlSeconds}: at least 20 (the pod's grace period and the safety margin take 10 s)`;
  const timeoutSeconds = values.get('timeout') ?? 4 * dbTtlSeconds + 240;
  if (timeoutSeconds < dbTtlSeconds) return `--timeout=${timeoutSeconds}: at least the TTL (${dbTtlSeconds})`;
  return { replicas, dbTtlSeconds, timeoutSeconds };
}

/** One sample line of the Prometheus text format: name, labels, value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of metric `name` in an exposition (comments and other metrics skipped). */
export function samplesOf(text: string, name: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = SAMPLE_LINE.exec(line);
    if (match?.[1] !== name || match[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) if (key !== undefined && value !== undefined) labels[key] = value;
    samples.push({ name, labels, value: Number(match[3]) });
  }
  return samples;
}

/** after − before per key (a key absent before counts from 0), dropping zeros. */
export function counterDelta(before: readonly Sample[], after: readonly Sample[], key: (s: Sample) => string): Map<string, number> {
  const sum = (samples: readonly Sample[]) => {
    const totals = new Map<string, number>();
    for (const s of samples) totals.set(key(s), (totals.get(key(s)) ?? 0) + s.value);
    return totals;
  };
  const was = sum(before);
  const delta = new Map<string, number>();
  for (const [k, v] of sum(after)) if (v - (was.get(k) ?? 0) !== 0) delta.set(k, v - (was.get(k) ?? 0));
  return delta;
}

/**
 * Vault's file audit device writes a `request` and a `response` entry per request; the
 * requests in [fromMs, toMs], by path (the auth method's login, the database creds, the
 * token's renew/lookup/revoke).
 */
export function auditRequestsByPath(lines: readonly string[], fromMs: number, toMs: number): Map<string, number> {
  const byPath = new Map<string, number>();
  for (const line of lines) {
    let entry: { type?: unknown; time?: unknown; request?: { path?: unknown } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (entry.type !== 'request' || typeof entry.request?.path !== 'string') continue;
    const at = Date.parse(String(entry.time));
    if (!(at >= fromMs && at <= toMs)) continue;
    byPath.set(entry.request.path, (byPath.get(entry.request.path) ?? 0) + 1);
  }
  return byPath;
}

/** A database user's use, as the app logged it, or as PostgreSQL showed a session of it. */
export interface CredentialUse {
  readonly user: string;
  readonly atMs: number;
}

/** Uses after the user's credentials expired (users with no known expiry are not judged). */
export function usesAfterExpiry(uses: readonly CredentialUse[], expiresAtMs: ReadonlyMap<string, number>): CredentialUse[] {
  return uses.filter((u) => {
    const expiry = expiresAtMs.get(u.user);
    return expiry !== undefined && u.atMs > expiry;
  });
}

/** The most replicas short of `replicas` in a series of available counts. */
export function mostUnavailable(availableCounts: readonly number[], replicas: number): number {
  return availableCounts.reduce((most, available) => Math.max(most, replicas - available), 0);
}

/** `{a,b}` busy and total jiffies from /proc/stat's first line. */
export function cpuJiffies(procStat: string): { busy: number; total: number } {
  const fields = (procStat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}
