/**
 * The pod status a kubelet would report for what the runner has done so far: container
 * states, restarts, phase and the conditions the disruption controller and the ReplicaSet
 * read (a PDB counts only Ready pods). Pure: the runner records events, this computes.
 */
import type { V1ContainerState, V1ContainerStatus, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';
import type { ContainerKind } from './pod-plan.ts';

export type ContainerRun =
  | { readonly state: 'waiting'; readonly reason: string; readonly message?: string }
  | { readonly state: 'running'; readonly pid: number; readonly startedAt: Date }
  | { readonly state: 'terminated'; readonly pid: number; readonly exitCode: number; readonly signal: string | null; readonly startedAt: Date; readonly finishedAt: Date };

export interface ContainerRecord {
  readonly name: string;
  readonly image: string;
  readonly kind: ContainerKind;
  readonly current: ContainerRun;
  /** The previous run, once the container has been restarted. */
  readonly last?: ContainerRun;
  readonly restartCount: number;
}

export interface PodRecord {
  /** Every container of the spec: init containers and sidecars in order, then the app containers. */
  readonly containers: readonly ContainerRecord[];
  readonly restartPolicy: string;
  readonly startTime: Date;
  readonly hostIP: string;
  /** The pod is being deleted and the runner stopped restarting containers. */
  readonly terminating: boolean;
}

type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

const exitedOk = (c: ContainerRecord): boolean => c.current.state === 'terminated' && c.current.exitCode === 0;
const running = (c: ContainerRecord): boolean => c.current.state === 'running';
const terminated = (c: ContainerRecord): boolean => c.current.state === 'terminated';

function byKind(record: PodRecord, kind: ContainerKind): ContainerRecord[] {
  return record.containers.filter((c) => c.kind === kind);
}

/** Init containers done and every sidecar started once (a sidecar that dies later does not undo it). */
export function isInitialized(record: PodRecord): boolean {
  return byKind(record, 'init').every(exitedOk) && byKind(record, 'sidecar').every((c) => c.current.state !== 'waiting' || c.restartCount > 0);
}

export function areContainersReady(record: PodRecord): boolean {
  return isInitialized(record) && [...byKind(record, 'sidecar'), ...byKind(record, 'app')].every(running);
}

/** Whether containers that exited will not be started again (the pod has reached its end). */
function isFinished(record: PodRecord): boolean {
  const apps = byKind(record, 'app');
  const initFailedForGood = record.restartPolicy === 'Never' && byKind(record, 'init').some((c) => terminated(c) && !exitedOk(c));
  if (initFailedForGood) return true;
  if (!apps.every(terminated)) return false;
  if (record.terminating) return true;
  if (record.restartPolicy === 'Always') return false;
  return record.restartPolicy === 'Never' || apps.every(exitedOk);
}

export function podPhase(record: PodRecord): Phase {
  if (isFinished(record)) return byKind(record, 'init').every(exitedOk) && byKind(record, 'app').every(exitedOk) ? 'Succeeded' : 'Failed';
  if (!isInitialized(record)) return 'Pending';
  return byKind(record, 'app').some((c) => running(c) || terminated(c) || c.restartCount > 0) ? 'Running' : 'Pending';
}

function toState(run: ContainerRun | undefined): V1ContainerState {
  if (run === undefined) return {};
  switch (run.state) {
    case 'waiting':
      return { waiting: { reason: run.reason, ...(run.message === undefined ? {} : { message: run.message }) } };
    case 'running':
      return { running: { startedAt: run.startedAt } };
    case 'terminated':
      return {
        terminated: {
          exitCode: run.exitCode,
          reason: run.exitCode === 0 ? 'Completed' : 'Error',
          ...(run.signal === null ? {} : { message: `killed by ${run.signal}` }),
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          containerID: `process://${run.pid}`,
        },
      };
  }
}

function toContainerStatus(c: ContainerRecord): V1ContainerStatus {
  const pid = c.current.state === 'waiting' ? undefined : c.current.pid;
  const ready = c.kind === 'init' ? exitedOk(c) : running(c);
  return {
    name: c.name,
    image: c.image,
    imageID: c.image,
    ...(pid === undefined ? {} : { containerID: `process://${pid}` }),
    ready,
    started: running(c),
    restartCount: c.restartCount,
    state: toState(c.current),
    lastState: toState(c.last),
  };
}

function condition(type: string, status: boolean, now: Date, previous: readonly V1PodCondition[]): V1PodCondition {
  const value = status ? 'True' : 'False';
  const before = previous.find((p) => p.type === type);
  const lastTransitionTime = before !== undefined && before.status === value && before.lastTransitionTime !== undefined ? before.lastTransitionTime : now;
  return { type, status: value, lastTransitionTime };
}

/** The status to merge-patch onto the pod; conditions keep their transition time while unchanged. */
export function podStatus(record: PodRecord, now: Date, previous: readonly V1PodCondition[]): V1PodStatus {
  const ready = areContainersReady(record) && !record.terminating;
  return {
    phase: podPhase(record),
    hostIP: record.hostIP,
    hostIPs: [{ ip: record.hostIP }],
    podIP: record.hostIP,
    podIPs: [{ ip: record.hostIP }],
    startTime: record.startTime,
    conditions: [
      condition('PodScheduled', true, now, previous),
      condition('Initialized', isInitialized(record), now, previous),
      condition('ContainersReady', ready, now, previous),
      condition('Ready', ready, now, previous),
    ],
    initContainerStatuses: record.containers.filter((c) => c.kind !== 'app').map(toContainerStatus),
    containerStatuses: record.containers.filter((c) => c.kind === 'app').map(toContainerStatus),
  };
}
