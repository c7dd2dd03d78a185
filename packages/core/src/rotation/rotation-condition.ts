/**
 * The pod status condition `vault-courier.io/Rotation`: how a pod's rotation deadline
 * becomes visible to the API (and so to `vault-courier status`, `kubectl describe pod`,
 * `kubectl get pod -o jsonpath`). The sidecar computes the deadline and reports it over
 * POST /deadline; the webhook, which alone holds `pods/status` patch, writes the condition,
 * and moves it to EvictionBlocked (naming the PodDisruptionBudget) or Evicting on the
 * answers of POST /evict. The kubelet keeps conditions whose type it does not own
 * (mergePodStatus in pkg/kubelet/status/status_manager.go), as it does for readiness gates.
 *
 * The message is documented and parseable: `key=value` pairs joined by "; ", e.g.
 *   deadline=2026-12-01T10:15:00.000Z; earliestExpiry=2026-12-01T10:20:00.000Z; lease=secret db (database/creds/app)
 * Pure, no imports but types: the sidecar bundle and the status CLI both load it.
 * Contract: docs/contract.md, "Rotation status".
 */

export const ROTATION_CONDITION_TYPE = 'vault-courier.io/Rotation';

/** The condition's reasons; renaming one is a contract change. */
export const ROTATION_REASONS = {
  /** The sidecar will ask for eviction at `deadline`. */
  scheduled: 'Scheduled',
  /** Nothing recreates the pod (rotate "false", no controller, a Job): a CredentialsExpiring Warning at `deadline` instead. */
  notRotated: 'NotRotated',
  /** Nothing the pod holds expires (KV only, the Vault token kept renewed): `deadline=none`. */
  noDeadline: 'NoDeadline',
  /** The last POST /evict was answered 429 by a PodDisruptionBudget (`blockedBy`); the sidecar retries. */
  evictionBlocked: 'EvictionBlocked',
  /** The Eviction API accepted the eviction: the pod is terminating, its replacement gets new credentials. */
  evicting: 'Evicting',
  /**
   * The earliest expiry has passed while PodDisruptionBudgets (`blockedBy`) still refuse the
   * eviction: the pod runs on expired credentials; the sidecar retries until they allow it.
   */
  expired: 'Expired',
} as const;

export type RotationReason = (typeof ROTATION_REASONS)[keyof typeof ROTATION_REASONS];

const REASON_VALUES: readonly string[] = Object.values(ROTATION_REASONS);

/** What the condition says, as data. Times are ISO 8601 (UTC, milliseconds). */
export interface RotationState {
  readonly reason: RotationReason;
  /** When the sidecar acts; undefined for NoDeadline. */
  readonly deadline: string | undefined;
  /** The earliest expiry over the pod's leases (each secret's, and the Vault token's once Vault stops extending it). */
  readonly earliestExpiry: string | undefined;
  /** The lease that expires first, e.g. `secret db (database/creds/app)`. */
  readonly lease: string | undefined;
  /** EvictionBlocked: the budgets the Eviction API named. */
  readonly blockedBy: readonly string[];
}

/** The fields of a v1 PodCondition this writes (a structural subset of V1PodCondition). */
export interface RotationCondition {
  readonly type: typeof ROTATION_CONDITION_TYPE;
  readonly status: 'True' | 'False';
  readonly reason: RotationReason;
  readonly message: string;
  readonly lastTransitionTime: string;
}

/** Values never carry the separator or control characters: the message stays one parseable line. */
function clean(value: string): string {
  return value.replace(/[;\x00-\x1f\x7f]/g, ' ').trim();
}

export function formatRotationMessage(state: RotationState): string {
  const pairs: [string, string | undefined][] = [
    // "none" says nothing expires; a deadline the webhook never heard of is left out.
    ['deadline', state.reason === ROTATION_REASONS.noDeadline ? 'none' : state.deadline],
    ['earliestExpiry', state.earliestExpiry],
    ['lease', state.lease],
    ['blockedBy', state.blockedBy.length > 0 ? state.blockedBy.join(',') : undefined],
  ];
  return pairs
    .filter((p): p is [string, string] => p[1] !== undefined && clean(p[1]) !== '')
    .map(([k, v]) => `${k}=${clean(v)}`)
    .join('; ');
}

/**
 * The condition for a state. `status` is False only while eviction is blocked (Expired too), so
 * `kubectl wait --for=condition=vault-courier.io/Rotation=False` finds stuck pods.
 */
export function rotationCondition(state: RotationState, now: Date): RotationCondition {
  const stuck = state.reason === ROTATION_REASONS.evictionBlocked || state.reason === ROTATION_REASONS.expired;
  return {
    type: ROTATION_CONDITION_TYPE,
    status: stuck ? 'False' : 'True',
    reason: state.reason,
    message: formatRotationMessage(state),
    lastTransitionTime: now.toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const isIsoTime = (value: string): boolean => ISO.test(value) && !Number.isNaN(Date.parse(value));

function messageFields(message: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const pair of message.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) fields.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  return fields;
}

function readTimes(fields: ReadonlyMap<string, string>): { deadline: string | undefined; earliestExpiry: string | undefined } | { problem: string } {
  const times: { deadline: string | undefined; earliestExpiry: string | undefined } = { deadline: undefined, earliestExpiry: undefined };
  for (const key of ['deadline', 'earliestExpiry'] as const) {
    const value = fields.get(key);
    if (value === undefined || value === 'none') continue;
    if (!isIsoTime(value)) return { problem: `condition ${ROTATION_CONDITION_TYPE}: ${key}=${value} is not an ISO 8601 UTC time` };
    times[key] = value;
  }
  return times;
}

/**
 * Reads a pod's condition back. Unknown keys are ignored (a newer webhook may add some);
 * a condition of another type, an unknown reason or a malformed time is a problem,
 * never a guess.
 */
export function parseRotationCondition(condition: { type?: string; reason?: string; message?: string } | undefined): { state: RotationState } | { problem: string } | undefined {
  if (condition === undefined || condition.type !== ROTATION_CONDITION_TYPE) return undefined;
  const reason = condition.reason ?? '';
  if (!REASON_VALUES.includes(reason)) return { problem: `condition ${ROTATION_CONDITION_TYPE} has reason "${reason}", not one of ${REASON_VALUES.join(', ')}` };
  const fields = messageFields(condition.message ?? '');
  const times = readTimes(fields);
  if ('problem' in times) return times;
  const blocked = fields.get('blockedBy');
  return {
    state: {
      reason: reason as RotationReason,
      ...times,
      lease: fields.get('lease'),
      blockedBy: blocked === undefined ? [] : blocked.split(',').map((n) => n.trim()).filter(Boolean),
    },
  };
}

/** What the sidecar reports on POST /deadline. */
export interface DeadlineReport {
  /** ISO 8601; null when nothing expires. */
  readonly deadline: string | null;
  readonly earliestExpiry: string | null;
  readonly lease?: string;
  /** `evict`: the sidecar evicts at the deadline; `warn`: it raises CredentialsExpiring instead. */
  readonly mode: 'evict' | 'warn';
}

function isoOrNull(body: Record<string, unknown>, key: string): string | null | { problem: string } {
  const value = body[key];
  if (value === null) return null;
  if (typeof value === 'string' && isIsoTime(value)) return new Date(value).toISOString();
  return { problem: `body.${key} must be an ISO 8601 UTC time or null` };
}

/** The webhook's check of a POST /deadline body: every problem named, or the state to write. */
export function parseDeadlineReport(body: unknown): { state: RotationState } | { problems: string[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { problems: ['the body must be a JSON object {deadline, earliestExpiry, lease, mode}'] };
  const b = body as Record<string, unknown>;
  const deadline = isoOrNull(b, 'deadline');
  const earliestExpiry = isoOrNull(b, 'earliestExpiry');
  const problems = [deadline, earliestExpiry].flatMap((v) => (typeof v === 'object' && v !== null ? [v.problem] : []));
  if (b.mode !== 'evict' && b.mode !== 'warn') problems.push('body.mode must be "evict" or "warn"');
  if (b.lease !== undefined && typeof b.lease !== 'string') problems.push('body.lease must be a string');
  if (problems.length > 0) return { problems };
  return { state: reportedState(deadline as string | null, earliestExpiry as string | null, b.lease as string | undefined, b.mode as DeadlineReport['mode']) };
}

function reportedState(deadline: string | null, earliestExpiry: string | null, lease: string | undefined, mode: DeadlineReport['mode']): RotationState {
  const reason = deadline === null ? ROTATION_REASONS.noDeadline : mode === 'warn' ? ROTATION_REASONS.notRotated : ROTATION_REASONS.scheduled;
  const shown = lease === undefined ? '' : clean(lease).slice(0, 200);
  return { reason, deadline: deadline ?? undefined, earliestExpiry: earliestExpiry ?? undefined, lease: shown || undefined, blockedBy: [] };
}

/** After an /evict answer: the same deadline, a new reason (and the budgets that block). */
export function afterEviction(previous: RotationState | undefined, outcome: { readonly reason: 'evictionBlocked'; readonly blockedBy: readonly string[] } | { readonly reason: 'evicting' }): RotationState {
  const base = previous ?? { deadline: undefined, earliestExpiry: undefined, lease: undefined };
  return {
    reason: ROTATION_REASONS[outcome.reason],
    deadline: base.deadline,
    earliestExpiry: base.earliestExpiry,
    lease: base.lease,
    blockedBy: outcome.reason === 'evictionBlocked' ? [...outcome.blockedBy] : [],
  };
}

/**
 * After an /evict a PodDisruptionBudget refused: EvictionBlocked, or Expired once the
 * earliest expiry the sidecar reported has passed. `newlyExpired` is true on the refusal
 * that first finds it expired: the webhook raises its CredentialsExpired Warning then, once.
 */
export function afterBlockedEviction(previous: RotationState | undefined, blockedBy: readonly string[], nowMs: number): { readonly state: RotationState; readonly newlyExpired: boolean } {
  const expiry = previous?.earliestExpiry === undefined ? NaN : Date.parse(previous.earliestExpiry);
  const expired = expiry <= nowMs;
  const state = afterEviction(previous, { reason: 'evictionBlocked', blockedBy });
  if (!expired) return { state, newlyExpired: false };
  return { state: { ...state, reason: ROTATION_REASONS.expired }, newlyExpired: previous?.reason !== ROTATION_REASONS.expired };
}
