/**
 * Every line every container prints, read from the kubelet's pod log directory (CRI log
 * files: `<time> <stream> <P|F> <text>`), as the lines appear: what the demo's timeline
 * and the tests read. `kubectl logs` serves the same files through the API server; this
 * reader also sees the last lines of a pod that was just deleted, which the API no longer
 * serves.
 */
import { openSync, readdirSync, readSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ContainerRef {
  readonly namespace: string;
  readonly pod: string;
  readonly uid: string;
  readonly container: string;
}

/** `<namespace>_<pod>_<uid>`: names and namespaces are DNS labels, so `_` separates them. */
export function parsePodLogDir(name: string): Omit<ContainerRef, 'container'> | undefined {
  const parts = name.split('_');
  if (parts.length !== 3 || parts.some((p) => p === '')) return undefined;
  const [namespace = '', pod = '', uid = ''] = parts;
  return { namespace, pod, uid };
}

export interface CriLogLine {
  readonly time: string;
  readonly stream: string;
  /** F: the line ends here; P: a partial line the runtime split. */
  readonly full: boolean;
  readonly text: string;
}

export function parseCriLogLine(line: string): CriLogLine | undefined {
  const match = /^(\S+) (stdout|stderr) ([PF]) ?(.*)$/.exec(line);
  if (match === null) return undefined;
  return { time: match[1] ?? '', stream: match[2] ?? '', full: match[3] === 'F', text: match[4] ?? '' };
}

interface FileState {
  offset: number;
  rest: string;
  partial: string;
}

export interface PodLogReader {
  /** Reads what is new now (also called on a timer). */
  poll(): void;
  stop(): void;
}

export function readPodLogs(dir: string, onLine: (ref: ContainerRef, line: string) => void, intervalMs = 200): PodLogReader {
  const files = new Map<string, FileState>();
  const readNew = (file: string, ref: ContainerRef) => {
    const state = files.get(file) ?? { offset: 0, rest: '', partial: '' };
    files.set(file, state);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size <= state.offset) return;
    const buffer = Buffer.alloc(size - state.offset);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, state.offset);
    } finally {
      closeSync(fd);
    }
    state.offset = size;
    const lines = (state.rest + buffer.toString('utf8')).split('\n');
    state.rest = lines.pop() ?? '';
    for (const raw of lines) {
      const parsed = parseCriLogLine(raw);
      if (parsed === undefined) continue;
      state.partial += parsed.text;
      if (!parsed.full) continue;
      onLine(ref, state.partial);
      state.partial = '';
    }
  };
  const poll = () => {
    let pods: string[];
    try {
      pods = readdirSync(dir);
    } catch {
      return;
    }
    for (const podDir of pods) {
      const pod = parsePodLogDir(podDir);
      if (pod === undefined) continue;
      let containers: string[] = [];
      try {
        containers = readdirSync(path.join(dir, podDir));
      } catch {
        continue;
      }
      for (const container of containers) {
        let logs: string[] = [];
        try {
          logs = readdirSync(path.join(dir, podDir, container)).filter((f) => /^\d+\.log$/.test(f));
        } catch {
          continue;
        }
        for (const log of logs.sort((a, b) => parseInt(a) - parseInt(b))) readNew(path.join(dir, podDir, container, log), { ...pod, container });
      }
    }
  };
  const timer = setInterval(poll, intervalMs);
  return {
    poll,
    stop() {
      clearInterval(timer);
      poll();
    },
  };
}
