/**
 * One pod on the process runner, from start to the kubelet's final delete: volumes first,
 * init containers in order (a native sidecar, restartPolicy Always, is started and kept
 * running, not waited for), then the app containers; restarts by the pod's restartPolicy;
 * status through pods/status after every change. On deletion the app containers get
 * SIGTERM first and the sidecars only after they exited, in reverse order, with SIGKILL
 * at the end of the grace period; then the pod object is deleted with grace period 0 so
 * its controller sees it gone.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Pod, type V1PodCondition, type V1PodStatus } from '@kubernetes/client-node';
import { backoffDelay, DEFAULT_GRACE_PERIOD_SECONDS, type BackoffOptions, type Logger } from '@vault-courier/core';
import { spawnContainer, type ContainerProcess } from './container-process.ts';
import type { ImageMap } from './images.ts';
import { planPod, type ContainerPlan, type PodPlan } from './pod-plan.ts';
import { podStatus, type ContainerRecord, type ContainerRun } from './pod-status.ts';
import { PodVolumes } from './volumes.ts';

export interface ContainerRef {
  readonly namespace: string;
  readonly pod: string;
  readonly uid: string;
  readonly container: string;
}

export interface WorkerDeps {
  readonly core: CoreV1Api;
  readonly log: Logger;
  readonly images: ImageMap;
  readonly nodeName: string;
  readonly hostIP: string;
  /** Parent of every pod's directory (volumes, container logs). */
  readonly workDir: string;
  /** Working directory of the container processes. */
  readonly cwd: string;
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly onLine?: (ref: ContainerRef, line: string) => void;
}

const OWN_CONDITIONS = new Set(['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']);
/** When the runner itself stops (or the pod object vanished), nobody waits a full grace period. */
const KILL_GRACE_MS = 3_000;
const VOLUME_RETRY_MS = 3_000;
/** Crash-loop backoff, shorter than a kubelet's (10 s to 5 min) to suit a local run. */
const CRASH_LOOP_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 20_000 };

/** Like a kubelet's, without jitter: the full step every time. */
export function restartBackoffMs(restartCount: number): number {
  return backoffDelay(restartCount, CRASH_LOOP_BACKOFF, () => 1);
}

/** Whether a container that exited is started again, by the pod's restartPolicy. */
export function shouldRestart(plan: Pick<ContainerPlan, 'kind'>, restartPolicy: string, exitCode: number): boolean {
  if (plan.kind === 'sidecar') return true;
  if (restartPolicy === 'Always') return plan.kind === 'app' || exitCode !== 0;
  return restartPolicy === 'OnFailure' && exitCode !== 0;
}

/** Container output, kept after the pod is gone (like /var/log/pods) for post-mortems. */
export function containerLogFile(workDir: string, namespace: string, pod: string, container: string): string {
  return path.join(workDir, 'logs', `${namespace}_${pod}_${container}.log`);
}

export class PodWorker {
  readonly podDir: string;
  readonly #deps: WorkerDeps;
  readonly #log: Logger;
  readonly #uid: string;
  readonly #startTime = new Date();
  readonly #records: ContainerRecord[];
  readonly #processes = new Map<string, ContainerProcess>();
  readonly #stopping = new AbortController();
  readonly #volumes: PodVolumes;
  #pod: V1Pod;
  #shutdown: Promise<void> | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  #killAt: number | undefined;
  #statusDirty = false;
  #statusWrite: Promise<void> | undefined;
  #podGone = false;

  constructor(deps: WorkerDeps, pod: V1Pod) {
    this.#deps = deps;
    this.#pod = pod;
    this.#uid = pod.metadata?.uid ?? '';
    this.podDir = path.join(deps.workDir, 'pods', `${pod.metadata?.namespace}_${pod.metadata?.name}_${this.#uid}`);
    this.#log = deps.log.child({ namespace: pod.metadata?.namespace, pod: pod.metadata?.name, uid: this.#uid });
    this.#volumes = new PodVolumes(deps.core, pod, this.#log);
    const spec = pod.spec;
    this.#records = [
      ...(spec?.initContainers ?? []).map((c) => this.#initialRecord(c.name, c.image, c.restartPolicy === 'Always' ? 'sidecar' : 'init')),
      ...(spec?.containers ?? []).map((c) => this.#initialRecord(c.name, c.image, 'app')),
    ];
  }

  /** Runs the pod in the background; failures end up in its status and the runner's log. */
  start(): void {
    this.#run().catch((err: unknown) => this.#log.error({ err }, 'pod run failed'));
  }

  /** The latest object from the API server; a deletionTimestamp starts termination. */
  update(pod: V1Pod): void {
    this.#pod = pod;
    if (pod.metadata?.deletionTimestamp !== undefined && this.#shutdown === undefined) {
      const seconds = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS;
      this.#log.info({ gracePeriodSeconds: seconds }, 'pod deletion requested: stopping containers');
      this.#shutdown = this.#stop(seconds * 1000, true);
    }
  }

  /** Stops every process within a short grace period without touching the pod object. */
  async kill(podGone: boolean): Promise<void> {
    this.#podGone ||= podGone;
    if (this.#shutdown === undefined) this.#shutdown = this.#stop(KILL_GRACE_MS, false);
    else this.#scheduleKill(KILL_GRACE_MS);
    await this.#shutdown;
  }

  #initialRecord(name: string, image: string | undefined, kind: ContainerRecord['kind']): ContainerRecord {
    return { name, image: image ?? '', kind, current: { state: 'waiting', reason: 'PodInitializing' }, restartCount: 0 };
  }

  #setRecord(name: string, change: (r: ContainerRecord) => ContainerRecord): void {
    const index = this.#records.findIndex((r) => r.name === name);
    const record = this.#records[index];
    if (record !== undefined) this.#records[index] = change(record);
    this.#publish();
  }

  get #stopped(): boolean {
    return this.#stopping.signal.aborted;
  }

  async #run(): Promise<void> {
    const plan = planPod(this.#pod, { images: this.#deps.images, podDir: this.podDir, nodeName: this.#deps.nodeName, hostIP: this.#deps.hostIP, baseEnv: this.#deps.baseEnv });
    if (plan.problems.length > 0) {
      for (const p of plan.problems) this.#setRecord(p.container, (r) => ({ ...r, current: { state: 'waiting', reason: p.reason, message: p.message } }));
      this.#log.warn({ problems: plan.problems }, 'pod cannot run on the process runner');
      return;
    }
    if (!(await this.#prepareVolumes(plan))) return;
    for (const container of plan.containers) {
      if (this.#stopped) return;
      if (container.kind === 'init') {
        if (!(await this.#runToCompletion(container))) return;
      } else {
        this.#supervise(container);
      }
    }
  }

  async #prepareVolumes(plan: PodPlan): Promise<boolean> {
    while (!this.#stopped) {
      try {
        await this.#volumes.prepare(plan.volumes);
        return true;
      } catch (err) {
        this.#log.warn({ err }, 'volumes not ready; retrying');
        const message = (err as Error).message;
        for (const c of plan.containers) this.#setRecord(c.name, (r) => ({ ...r, current: { state: 'waiting', reason: 'CreateContainerConfigError', message } }));
        await this.#pause(VOLUME_RETRY_MS);
      }
    }
    return false;
  }

  /** Resolves after `ms`, or at once when the pod starts stopping. */
  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stopping.signal }).catch(() => undefined);
  }

  #launch(container: ContainerPlan): ContainerProcess {
    const ref: ContainerRef = { namespace: this.#pod.metadata?.namespace ?? '', pod: this.#pod.metadata?.name ?? '', uid: this.#uid, container: container.name };
    const onLine = this.#deps.onLine;
    const proc = spawnContainer(container, {
      cwd: this.#deps.cwd,
      logFile: containerLogFile(this.#deps.workDir, ref.namespace, ref.pod, container.name),
      ...(onLine === undefined ? {} : { onLine: (line: string) => onLine(ref, line) }),
    });
    this.#processes.set(container.name, proc);
    this.#log.info({ container: container.name, pid: proc.pid }, 'container started');
    this.#setRecord(container.name, (r) => ({
      ...r,
      ...(r.current.state === 'terminated' ? { last: r.current, restartCount: r.restartCount + 1 } : {}),
      current: { state: 'running', pid: proc.pid, startedAt: proc.startedAt },
    }));
    return proc;
  }

  async #waitExit(container: ContainerPlan, proc: ContainerProcess): Promise<number> {
    const exit = await proc.exited;
    this.#processes.delete(container.name);
    const run: ContainerRun = { state: 'terminated', pid: proc.pid, exitCode: exit.exitCode, signal: exit.signal, startedAt: proc.startedAt, finishedAt: exit.finishedAt };
    this.#log.info({ container: container.name, exitCode: exit.exitCode, signal: exit.signal }, 'container exited');
    this.#setRecord(container.name, (r) => ({ ...r, current: run }));
    return exit.exitCode;
  }

  /** An init container: started again after a failure unless the pod never restarts. */
  async #runToCompletion(container: ContainerPlan): Promise<boolean> {
    const policy = this.#pod.spec?.restartPolicy ?? 'Always';
    for (let attempt = 0; !this.#stopped; attempt++) {
      const exitCode = await this.#waitExit(container, this.#launch(container));
      if (exitCode === 0) return true;
      if (this.#stopped || !shouldRestart(container, policy, exitCode)) return false;
      await this.#pause(restartBackoffMs(attempt));
    }
    return false;
  }

  /** A sidecar or app container: kept running by the restart policy until the pod stops. */
  #supervise(container: ContainerPlan): void {
    const policy = this.#pod.spec?.restartPolicy ?? 'Always';
    const loop = async (): Promise<void> => {
      for (let attempt = 0; !this.#stopped; attempt++) {
        const startedAt = Date.now();
        const exitCode = await this.#waitExit(container, this.#launch(container));
        if (this.#stopped || !shouldRestart(container, policy, exitCode)) return;
        // A container that ran for a while before dying starts its backoff afresh.
        if (Date.now() - startedAt > 60_000) attempt = 0;
        await this.#pause(restartBackoffMs(attempt));
      }
    };
    loop().catch((err: unknown) => this.#log.error({ err, container: container.name }, 'container supervision failed'));
  }

  /** SIGKILL for whatever still runs in `ms`, unless an earlier one is already due. */
  #scheduleKill(ms: number): void {
    const at = Date.now() + ms;
    if (this.#killAt !== undefined && this.#killAt <= at) return;
    this.#killAt = at;
    clearTimeout(this.#killTimer);
    this.#killTimer = setTimeout(() => {
      for (const [name, proc] of this.#processes) {
        this.#log.warn({ container: name }, 'grace period over: SIGKILL');
        proc.signal('SIGKILL');
      }
    }, ms);
  }

  #names(kinds: readonly ContainerRecord['kind'][]): string[] {
    return this.#records.filter((r) => kinds.includes(r.kind)).map((r) => r.name);
  }

  async #terminate(names: readonly string[]): Promise<void> {
    const procs = names.map((n) => this.#processes.get(n)).filter((p) => p !== undefined);
    for (const proc of procs) proc.signal('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
  }

  async #stop(graceMs: number, deleteObject: boolean): Promise<void> {
    this.#stopping.abort();
    this.#scheduleKill(graceMs);
    // App containers (and an init container still running) first, all at once; the
    // sidecars only once they have exited, last-started first.
    await this.#terminate(this.#names(['app', 'init']));
    for (const sidecar of this.#names(['sidecar']).reverse()) await this.#terminate([sidecar]);
    clearTimeout(this.#killTimer);
    this.#volumes.stop();
    await this.#flushStatus();
    if (deleteObject && !this.#podGone) await this.#deleteObject();
    await rm(this.podDir, { recursive: true, force: true }).catch(() => undefined);
    this.#log.info('pod stopped');
  }

  async #deleteObject(): Promise<void> {
    const meta = this.#pod.metadata ?? {};
    try {
      await this.#deps.core.deleteNamespacedPod({
        name: meta.name ?? '',
        namespace: meta.namespace ?? '',
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: this.#uid } },
      });
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== 404 && code !== 409) this.#log.error({ err }, 'final delete of the pod failed');
    }
  }

  #publish(): void {
    this.#statusDirty = true;
    this.#statusWrite ??= this.#writeStatus().finally(() => {
      this.#statusWrite = undefined;
    });
  }

  async #flushStatus(): Promise<void> {
    while (this.#statusWrite !== undefined) await this.#statusWrite;
  }

  #currentStatus(): V1PodStatus {
    const previous: readonly V1PodCondition[] = this.#pod.status?.conditions ?? [];
    const record = { containers: this.#records, restartPolicy: this.#pod.spec?.restartPolicy ?? 'Always', startTime: this.#startTime, hostIP: this.#deps.hostIP, terminating: this.#stopped };
    const status = podStatus(record, new Date(), previous);
    // Conditions owned by others (DisruptionTarget, set by the Eviction API) are kept.
    status.conditions = [...(status.conditions ?? []), ...previous.filter((c) => !OWN_CONDITIONS.has(c.type))];
    return status;
  }

  async #writeStatus(): Promise<void> {
    const meta = this.#pod.metadata ?? {};
    while (this.#statusDirty && !this.#podGone) {
      this.#statusDirty = false;
      try {
        await this.#deps.core.patchNamespacedPodStatus(
          { name: meta.name ?? '', namespace: meta.namespace ?? '', body: { metadata: { uid: this.#uid }, status: this.#currentStatus() } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code === 404 || code === 409) {
          this.#podGone = true;
          return;
        }
        this.#log.warn({ err }, 'pod status update failed; retrying');
        this.#statusDirty = true;
        await sleep(1_000);
      }
    }
  }
}
