/**
 * Every line every container prints, read from the kubelet's pod log directory (CRI log
 * files: `<time> <stream> <P|F> <text>`), as the lines appear, for the tests that need
 * what the API cannot give: the last lines of a pod that was just deleted, which the API
 * no longer serves. The demo's timeline reads the API's log endpoint instead
 * (demo/container-logs.ts), the same on any cluster.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
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

interface OpenLog {
  readonly fd: number;
  /** The kubelet rotates a log by renaming it and starting a new file under the old name. */
  readonly ino: number;
  readonly ref: ContainerRef;
  offset: number;
  rest: string;
  partial: string;
}

export interface PodLogReader {
  /** Reads what is new now (also called on a timer). */
  poll(): void;
  stop(): void;
}

/**
 * Each log file is held open from the poll that first sees it until the poll after the
 * kubelet removed it: the kubelet deletes a pod's log directory moments after its last
 * container exits, and the lines a sidecar prints on its way out (its token revoked) would
 * otherwise be lost between two polls. An open descriptor still reads an unlinked file.
 */
export function readPodLogs(dir: string, onLine: (ref: ContainerRef, line: string) => void, intervalMs = 200): PodLogReader {
  const open = new Map<string, OpenLog>();
  const readNew = (log: OpenLog) => {
    const size = fstatSync(log.fd).size;
    if (size <= log.offset) return;
    const buffer = Buffer.alloc(size - log.offset);
    const read = readSync(log.fd, buffer, 0, buffer.length, log.offset);
    log.offset += read;
    const lines = (log.rest + buffer.subarray(0, read).toString('utf8')).split('\n');
    log.rest = lines.pop() ?? '';
    for (const raw of lines) {
      const parsed = parseCriLogLine(raw);
      if (parsed === undefined) continue;
      log.partial += parsed.text;
      if (!parsed.full) continue;
      onLine(log.ref, log.partial);
      log.partial = '';
    }
  };
  const openLog = (file: string, ref: ContainerRef) => {
    if (open.has(file)) return;
    try {
      const fd = openSync(file, 'r');
      open.set(file, { fd, ino: fstatSync(fd).ino, ref, offset: 0, rest: '', partial: '' });
    } catch {
      // removed between the listing and the open: nothing was held, nothing to read
    }
  };
  const listLogs = (): Map<string, ContainerRef> => {
    const found = new Map<string, ContainerRef>();
    const entries = (folder: string): string[] => {
      try {
        return readdirSync(folder);
      } catch {
        return [];
      }
    };
    for (const podDir of entries(dir)) {
      const pod = parsePodLogDir(podDir);
      if (pod === undefined) continue;
      for (const container of entries(path.join(dir, podDir))) {
        const logs = entries(path.join(dir, podDir, container)).filter((f) => /^\d+\.log$/.test(f));
        for (const log of logs.sort((a, b) => parseInt(a) - parseInt(b))) found.set(path.join(dir, podDir, container, log), { ...pod, container });
      }
    }
    return found;
  };
  const close = (file: string, log: OpenLog) => {
    closeSync(log.fd);
    open.delete(file);
  };
  const sameFile = (file: string, log: OpenLog): boolean => {
    try {
      return statSync(file).ino === log.ino;
    } catch {
      return false;
    }
  };
  const poll = () => {
    const present = listLogs();
    for (const [file, log] of open) {
      readNew(log);
      if (!present.has(file) || !sameFile(file, log)) close(file, log);
    }
    for (const [file, ref] of present) openLog(file, ref);
    for (const log of open.values()) readNew(log);
  };
  const timer = setInterval(poll, intervalMs);
  return {
    poll,
    stop() {
      clearInterval(timer);
      poll();
      for (const [file, log] of open) close(file, log);
    },
  };
}
