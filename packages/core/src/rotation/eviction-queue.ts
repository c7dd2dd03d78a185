/**
 * Rotating a PodDisruptionBudget's pods one after another, in time. Pure: the budget and the
 * pods it covers, as the webhook read them, go in; a lead and a turn come out.
 *
 * Pods that started together are due together, and the budget lets `atOnce` of them go per
 * cycle (eviction → replacement Ready → budget frees), so the last of them leaves about
 * ⌈pods ÷ atOnce⌉ cycles after the first. Two rules make that fit before their credentials
 * expire (docs/performance.md, Rotation, had 20 replicas wanting out in the last 20 s of a
 * 60 s TTL, and one cycle takes about 2.2 s):
 * - the lead: the sidecar asks no later than `limit − lead`, lead = ⌈pods ÷ atOnce⌉ × cycle
 *   (budgetLead; the webhook tells the sidecar on POST /deadline, core's deadline() applies it);
 * - the turn: among the pods of a budget that are asking, the one whose credentials expire
 *   first goes first (queueTurn); a pod behind others is told EvictionQueued with a wait that
 *   shrinks as it moves up, so the budget's one free slot is not taken by a pod that can wait.
 * A pod at its own limit never waits for the queue: from there on it is as before.
 */

/** One cycle as measured on the real node (2.2 s mean, 2.6 s median while loaded), rounded up. */
export const DEFAULT_EVICTION_CYCLE_MS = 3000;
/** A queued pod waits this long per pod ahead of it: below one cycle, so it checks back before its turn. */
export const QUEUE_WAIT_PER_POD_MS = 1000;
/** Retry-After is whole seconds; the sidecar believes at most 60 of them. */
const MAX_QUEUE_WAIT_SECONDS = 60;

/** `maxUnavailable` / `minAvailable` as the API has them: a count or "n%". */
export type IntOrPercent = number | string;

export interface BudgetFacts {
  readonly name: string;
  /** status.expectedPods: the pods the budget counts (the controller's scale). */
  readonly expectedPods: number;
  readonly maxUnavailable?: IntOrPercent;
  readonly minAvailable?: IntOrPercent;
}

export interface BudgetLead {
  readonly budget: string;
  readonly pods: number;
  /** How many the budget lets go at once (at least 1 here: 0 would never rotate anyway). */
  readonly atOnce: number;
  readonly leadMs: number;
}

/** A percentage of `of`, rounded up as the disruption controller does; undefined when malformed. */
function scaled(value: IntOrPercent, of: number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const percent = /^(\d{1,3})%$/.exec(value.trim())?.[1];
  return percent === undefined ? undefined : Math.ceil((Number(percent) * of) / 100);
}

export function budgetLead(budget: BudgetFacts, cycleMs: number = DEFAULT_EVICTION_CYCLE_MS): BudgetLead {
  const pods = Math.max(0, Math.floor(budget.expectedPods));
  const fromMax = budget.maxUnavailable === undefined ? undefined : scaled(budget.maxUnavailable, pods);
  const fromMin = budget.minAvailable === undefined ? undefined : scaled(budget.minAvailable, pods);
  const allowed = fromMax ?? (fromMin === undefined ? pods : pods - fromMin);
  const atOnce = Math.max(1, allowed);
  return { budget: budget.name, pods, atOnce, leadMs: Math.ceil(pods / atOnce) * cycleMs };
}

/** A pod as the queue sees it: from its vault-courier.io/Rotation condition and its spec. */
export interface QueuePod {
  readonly name: string;
  readonly uid: string;
  /** The condition's earliestExpiry; undefined when the pod never reported one. */
  readonly expiresAtMs: number | undefined;
  /** The condition's deadline: a pod past it is asking to go. */
  readonly deadlineMs: number | undefined;
  /** Terminating, or its eviction already accepted: no longer in the queue. */
  readonly leaving: boolean;
  /**
   * Its Ready condition. A pod still starting asks at once when its lead is long, and a
   * budget with unhealthyPodEvictionPolicy AlwaysAllow would evict it whatever the budget
   * says: it waits until Ready (or its limit), and does not hold others while it starts.
   */
  readonly ready: boolean;
  readonly terminationGracePeriodSeconds: number;
}

export type QueueTurn =
  | { readonly turn: 'go'; readonly why: 'first' | 'no-expiry' | 'at-limit' }
  | { readonly turn: 'wait'; readonly why: 'behind'; readonly ahead: number; readonly first: string; readonly retryAfterSeconds: number }
  | { readonly turn: 'wait'; readonly why: 'not-ready'; readonly retryAfterSeconds: number };

/** A starting pod checks back about once a replacement's start, here ~2 s. */
const NOT_READY_WAIT_SECONDS = 2;

/** Earliest expiry first; the uid breaks ties, so every webhook replica orders alike. */
function before(a: QueuePod & { expiresAtMs: number }, b: QueuePod & { expiresAtMs: number }): boolean {
  return a.expiresAtMs < b.expiresAtMs || (a.expiresAtMs === b.expiresAtMs && a.uid < b.uid);
}

const hasExpiry = (p: QueuePod): p is QueuePod & { expiresAtMs: number } => p.expiresAtMs !== undefined;

/**
 * May `me` go to the Eviction API now? Only pods that are asking (past their reported
 * deadline), Ready and not leaving count as ahead; fewer than `atOnce` ahead → go; a pod
 * not Ready yet waits until it is. A pod without
 * a reported expiry, or at its limit (expiry − grace period − safety margin), goes: the
 * queue only reorders, it never holds a pod past the point where waiting costs it its
 * credentials.
 */
export function queueTurn(input: { readonly me: QueuePod; readonly pods: readonly QueuePod[]; readonly atOnce: number; readonly nowMs: number; readonly safetyMarginMs: number }): QueueTurn {
  const { me, nowMs } = input;
  if (!hasExpiry(me)) return { turn: 'go', why: 'no-expiry' };
  const limitMs = me.expiresAtMs - me.terminationGracePeriodSeconds * 1000 - input.safetyMarginMs;
  if (nowMs >= limitMs) return { turn: 'go', why: 'at-limit' };
  // Never past half the time left before the limit: the same bound as a budget refusal's retry.
  const bounded = (seconds: number) => Math.max(1, Math.min(MAX_QUEUE_WAIT_SECONDS, Math.floor((limitMs - nowMs) / 2000), seconds));
  if (!me.ready) return { turn: 'wait', why: 'not-ready', retryAfterSeconds: bounded(NOT_READY_WAIT_SECONDS) };
  const ahead = input.pods
    .filter(hasExpiry)
    .filter((p) => p.uid !== me.uid && p.ready && !p.leaving && p.deadlineMs !== undefined && p.deadlineMs <= nowMs && before(p, me))
    .sort((a, b) => (before(a, b) ? -1 : 1));
  if (ahead.length < Math.max(1, input.atOnce)) return { turn: 'go', why: 'first' };
  return { turn: 'wait', why: 'behind', ahead: ahead.length, first: ahead[0]?.name ?? '', retryAfterSeconds: bounded(Math.ceil((ahead.length * QUEUE_WAIT_PER_POD_MS) / 1000)) };
}

/**
 * The `queue` field of the webhook's 200 Recorded answer to POST /deadline, as the sidecar
 * reads it: a lead only when every field is there and sane (a lead is at most a day: a
 * larger one means "ask at once" anyway), else undefined, and the deadline keeps its rule.
 */
export function readBudgetLead(value: unknown): BudgetLead | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { budget, pods, atOnce, leadMs } = value as Record<string, unknown>;
  const count = (n: unknown, max: number): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
  if (typeof budget !== 'string' || !count(pods, 1_000_000) || !count(atOnce, 1_000_000) || !count(leadMs, 86_400_000)) return undefined;
  return { budget: budget.slice(0, 253), pods, atOnce, leadMs };
}
