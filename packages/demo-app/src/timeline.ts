/**
 * The demo's timeline: what happened to each replica, told in one line per step (pod
 * injected → credentials delivered as user X → eviction requested, blocked or accepted →
 * replacement running as user Y, old user revoked), and when one full rotation of every
 * replica is done. Pure: the demo feeds it events from the pods' watch, the API's
 * Warning Events, the containers' JSON log lines and PostgreSQL's pg_roles, and prints what it returns.
 */
import { INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME } from '@vault-courier/core';

interface PodRef {
  readonly pod: string;
  readonly uid: string;
}

export type DemoEvent =
  | (PodRef & { readonly kind: 'pod-created'; readonly injected: boolean })
  | (PodRef & { readonly kind: 'delivered'; readonly secret: string; readonly leaseSeconds: number })
  | (PodRef & { readonly kind: 'connected'; readonly user: string })
  | (PodRef & { readonly kind: 'deadline'; readonly deadline: string })
  | (PodRef & { readonly kind: 'eviction-blocked' })
  | (PodRef & { readonly kind: 'eviction-accepted' })
  | (PodRef & { readonly kind: 'token-revoked' })
  | (PodRef & { readonly kind: 'pod-deleted' })
  | { readonly kind: 'user-revoked'; readonly user: string }
  /** A Warning Event of the API about one of the demo's objects (`key`: the Event's uid, told once). */
  | { readonly kind: 'warning'; readonly key: string; readonly object: string; readonly reason: string; readonly message: string };

export interface PodTrack {
  readonly pod: string;
  readonly uid: string;
  readonly original: boolean;
  readonly injected: boolean;
  readonly user?: string;
  readonly blocked: number;
  readonly evicted: boolean;
  readonly deleted: boolean;
  readonly userRevoked: boolean;
}

export interface Timeline {
  readonly replicas: number;
  /** By pod uid, in creation order. */
  readonly pods: ReadonlyMap<string, PodTrack>;
  readonly revokedUsers: ReadonlySet<string>;
  readonly warnings: ReadonlySet<string>;
  readonly complete: boolean;
}

export function createTimeline(replicas: number): Timeline {
  return { replicas, pods: new Map(), revokedUsers: new Set(), warnings: new Set(), complete: false };
}

/** The sidecar's log messages that make the story, by how they begin. */
const SIDECAR_STEPS: readonly (readonly [string, 'eviction-blocked' | 'eviction-accepted' | 'token-revoked'])[] = [
  ['eviction blocked', 'eviction-blocked'],
  ['eviction accepted', 'eviction-accepted'],
  ['Vault token revoked', 'token-revoked'],
];

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const entry: unknown = JSON.parse(line);
    return typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function sidecarEvent(base: PodRef, msg: string, entry: Record<string, unknown>): DemoEvent | undefined {
  if (msg === 'deadline computed') return { ...base, kind: 'deadline', deadline: String(entry.deadline ?? '') };
  const step = SIDECAR_STEPS.find(([prefix]) => msg.startsWith(prefix));
  return step === undefined ? undefined : { ...base, kind: step[1] };
}

/** The event a container's JSON log line stands for, if any (other lines are not part of the story). */
export function eventFromLine(ref: PodRef & { readonly container: string }, line: string): DemoEvent | undefined {
  const entry = parseLine(line);
  if (entry === undefined) return undefined;
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  const base = { pod: ref.pod, uid: ref.uid };
  if (ref.container === SIDECAR_CONTAINER_NAME) return sidecarEvent(base, msg, entry);
  if (ref.container === INIT_CONTAINER_NAME) {
    return msg === 'secret delivered' ? { ...base, kind: 'delivered', secret: String(entry.secretName ?? ''), leaseSeconds: Number(entry.leaseDurationSeconds ?? 0) } : undefined;
  }
  return msg === 'connected to the database' && typeof entry.user === 'string' ? { ...base, kind: 'connected', user: entry.user } : undefined;
}

function clock(iso: string): string {
  return iso.length >= 19 ? iso.slice(11, 19) : iso;
}

/** One full rotation: every original replica evicted and gone, its database user revoked, and as many replacements running as new users. */
export function isRotationComplete(timeline: Pick<Timeline, 'replicas' | 'pods'>): boolean {
  const pods = [...timeline.pods.values()];
  const originals = pods.filter((p) => p.original);
  const oldUsers = new Set(originals.map((p) => p.user));
  const replacements = pods.filter((p) => !p.original && !p.deleted && p.user !== undefined && !oldUsers.has(p.user));
  return originals.length === timeline.replicas && originals.every((p) => p.evicted && p.deleted && p.userRevoked) && replacements.length >= timeline.replicas;
}

/** Users of pods that are gone whose revocation has not been seen yet (to look up in pg_roles). */
export function usersAwaitingRevocation(timeline: Timeline): string[] {
  return [...timeline.pods.values()].filter((p) => p.deleted && p.user !== undefined && !p.userRevoked).map((p) => p.user as string);
}

type Step = { readonly track: PodTrack; readonly line: string | undefined };

function podStep(track: PodTrack, event: Exclude<DemoEvent, { kind: 'pod-created' | 'user-revoked' | 'warning' }>): Step {
  switch (event.kind) {
    case 'delivered':
      return { track, line: `credentials delivered: ${event.secret} (lease ${event.leaseSeconds} s)` };
    case 'connected':
      return { track: { ...track, user: event.user }, line: `running as database user ${event.user}` };
    case 'deadline':
      return { track, line: `sidecar: eviction due at ${clock(event.deadline)}` };
    case 'eviction-blocked':
      // One line per pod: the sidecar retries with backoff and would repeat it.
      return { track: { ...track, blocked: track.blocked + 1 }, line: track.blocked === 0 ? 'eviction requested: blocked by the PodDisruptionBudget, retrying' : undefined };
    case 'eviction-accepted':
      // Seen twice: the sidecar's log line and the pod's DisruptionTarget condition.
      if (track.evicted) return { track, line: undefined };
      return { track: { ...track, evicted: true }, line: `eviction requested: accepted${track.blocked > 0 ? ` after ${track.blocked} blocked attempt(s)` : ''}` };
    case 'token-revoked':
      return { track, line: 'sidecar revoked its Vault token (its database user goes with it)' };
    case 'pod-deleted':
      return { track: { ...track, deleted: true }, line: 'pod gone' };
  }
}

function withPods(timeline: Timeline, pods: Map<string, PodTrack>, revokedUsers = timeline.revokedUsers): Timeline {
  const next = { ...timeline, pods, revokedUsers };
  return { ...next, complete: timeline.complete || isRotationComplete(next) };
}

function applyWarning(timeline: Timeline, event: Extract<DemoEvent, { kind: 'warning' }>): { timeline: Timeline; lines: string[] } {
  if (timeline.warnings.has(event.key)) return { timeline, lines: [] };
  return { timeline: { ...timeline, warnings: new Set([...timeline.warnings, event.key]) }, lines: [`${event.object}: warning ${event.reason}: ${event.message}`] };
}

/** Applies one event; returns the new timeline and the lines to print (`<pod>: <what>`). */
export function applyEvent(timeline: Timeline, event: DemoEvent): { timeline: Timeline; lines: string[] } {
  if (event.kind === 'warning') return applyWarning(timeline, event);
  const pods = new Map(timeline.pods);
  if (event.kind === 'user-revoked') {
    if (timeline.revokedUsers.has(event.user)) return { timeline, lines: [] };
    for (const [uid, track] of pods) if (track.user === event.user) pods.set(uid, { ...track, userRevoked: true });
    return finish(timeline, withPods(timeline, pods, new Set([...timeline.revokedUsers, event.user])), [`database user ${event.user} revoked (gone from pg_roles)`]);
  }
  if (event.kind === 'pod-created') {
    if (pods.has(event.uid)) return { timeline, lines: [] };
    const original = [...pods.values()].filter((p) => p.original).length < timeline.replicas;
    pods.set(event.uid, { pod: event.pod, uid: event.uid, original, injected: event.injected, blocked: 0, evicted: false, deleted: false, userRevoked: false });
    const what = event.injected ? 'injected (init container + sidecar)' : 'NOT injected';
    return finish(timeline, withPods(timeline, pods), [`${event.pod}: pod created${original ? '' : ' (replacement)'}, ${what}`]);
  }
  const track = pods.get(event.uid);
  if (track === undefined) return { timeline, lines: [] };
  const step = podStep(track, event);
  pods.set(event.uid, step.track);
  return finish(timeline, withPods(timeline, pods), step.line === undefined ? [] : [`${event.pod}: ${step.line}`]);
}

function finish(before: Timeline, after: Timeline, lines: string[]): { timeline: Timeline; lines: string[] } {
  if (after.complete && !before.complete) {
    const users = [...after.pods.values()].filter((p) => !p.original && !p.deleted && p.user !== undefined).map((p) => p.user);
    lines.push(`every replica rotated: ${after.replicas} pods evicted and replaced, old users revoked, new users ${users.join(', ')}`);
  }
  return { timeline: after, lines };
}
