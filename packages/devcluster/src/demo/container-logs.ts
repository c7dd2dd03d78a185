/**
 * Every line of every container of the pods it is shown, read as `kubectl logs -f` reads
 * them: the API server's log endpoint, following, with timestamps. The same on any
 * cluster (the embedded one, kind), so the demo's timeline reads the same on both. A
 * stream that ends while its container still runs (a dropped connection, an idle
 * timeout) is resumed from the last line's timestamp, each line told once; a container
 * that terminated, or a pod the API no longer has, ends its stream.
 *
 * The client's own Log helper is not used: an aborted or dropped stream there is an
 * uncaught error that takes the process down. The request is node:https with the
 * kubeconfig's TLS and credentials applied by the client.
 */
import https from 'node:https';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { ContainerRef } from '../node/pod-logs.ts';

const RESUME_DELAY_MS = 500;

/** Containers (init, native sidecar, app) whose log can be read now and is not followed yet, by container ID. */
export function logsToFollow(pod: V1Pod, following: ReadonlySet<string>): { container: string; containerId: string }[] {
  const statuses: V1ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return statuses
    .filter((s) => s.containerID !== undefined && s.containerID !== '' && !following.has(s.containerID) && (s.state?.running !== undefined || s.state?.terminated !== undefined))
    .map((s) => ({ container: s.name, containerId: s.containerID as string }));
}

/** `<RFC 3339 time> <text>`, as the log endpoint writes each line with timestamps=true. */
export function splitTimestamp(line: string): { time: string; text: string } | undefined {
  const space = line.indexOf(' ');
  const time = space < 0 ? line : line.slice(0, space);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(time)) return undefined;
  return { time, text: space < 0 ? '' : line.slice(space + 1) };
}

/** RFC 3339 times of the log endpoint (UTC, up to nanoseconds, trailing zeros cut), in order. */
export function isLater(time: string, than: string): boolean {
  const key = (t: string) => {
    const [seconds = '', fraction = ''] = t.slice(0, -1).split('.');
    return `${seconds}.${fraction.padEnd(9, '0')}`;
  };
  return key(time) > key(than);
}

export type StreamOutcome = 'ended' | 'gone' | 'failed';

/**
 * After a stream stopped: 'done' when nothing more can come (the API has no such pod, the
 * container terminated, a deleted pod's stream failed), else 'resume'. `pod` is the last
 * the watch saw; `deleted`: the watch saw it deleted.
 */
export function afterStream(outcome: StreamOutcome, pod: V1Pod | undefined, containerId: string, deleted: boolean): 'done' | 'resume' {
  if (outcome === 'gone' || pod === undefined) return 'done';
  if (deleted && outcome === 'failed') return 'done';
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const status = statuses.find((s) => s.containerID === containerId);
  // Restarted (a new ID) or terminated: this container's log is complete.
  return status === undefined || status.state?.terminated !== undefined ? 'done' : 'resume';
}

async function streamLines(kc: KubeConfig, path: string, signal: AbortSignal, onLine: (line: string) => void): Promise<StreamOutcome> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) return 'failed';
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve) => {
    const req = https.request(new URL(path, server), { ...options, method: 'GET', signal }, (res) => {
      // An abort or a dropped connection errors the response (and readline passes it on): the outcome says it.
      res.on('error', () => resolve('failed'));
      if (res.statusCode !== 200) {
        res.resume();
        return resolve(res.statusCode === 404 ? 'gone' : 'failed');
      }
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      lines.on('error', () => resolve('failed'));
      lines.on('line', onLine);
      lines.on('close', () => resolve(res.complete ? 'ended' : 'failed'));
    });
    req.on('error', () => resolve('failed'));
    req.end();
  });
}

export interface ContainerLogs {
  /** Shows the follower a pod as the watch saw it; each container is followed once it has started. */
  observe(pod: V1Pod): void;
  /** The watch saw the pod deleted: its streams end once the API no longer serves them. */
  deleted(pod: V1Pod): void;
  stop(): void;
}

export function followContainerLogs(kc: KubeConfig, onLine: (ref: ContainerRef, line: string) => void): ContainerLogs {
  const aborter = new AbortController();
  const following = new Set<string>();
  const latest = new Map<string, V1Pod>();
  const gone = new Set<string>();

  const follow = async (ref: ContainerRef, containerId: string): Promise<void> => {
    let last: string | undefined;
    for (;;) {
      const query = new URLSearchParams({ container: ref.container, follow: 'true', timestamps: 'true', ...(last === undefined ? {} : { sinceTime: last }) });
      const outcome = await streamLines(kc, `/api/v1/namespaces/${ref.namespace}/pods/${ref.pod}/log?${query}`, aborter.signal, (line) => {
        const stamped = splitTimestamp(line);
        if (stamped === undefined || (last !== undefined && !isLater(stamped.time, last))) return;
        last = stamped.time;
        onLine(ref, stamped.text);
      }).catch(() => 'failed' as const);
      if (aborter.signal.aborted || afterStream(outcome, latest.get(ref.uid), containerId, gone.has(ref.uid)) === 'done') return;
      await sleep(RESUME_DELAY_MS);
    }
  };

  const observe = (pod: V1Pod): void => {
    const uid = pod.metadata?.uid ?? '';
    latest.set(uid, pod);
    if (aborter.signal.aborted) return;
    for (const { container, containerId } of logsToFollow(pod, following)) {
      following.add(containerId);
      void follow({ namespace: pod.metadata?.namespace ?? '', pod: pod.metadata?.name ?? '', uid, container }, containerId);
    }
  };
  return {
    observe,
    deleted: (pod) => {
      gone.add(pod.metadata?.uid ?? '');
      observe(pod);
    },
    stop: () => aborter.abort(),
  };
}
