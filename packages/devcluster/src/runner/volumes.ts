/**
 * Volumes on the host, as a kubelet prepares them before the first container starts:
 * emptyDir as a directory under the pod's dir, projected volumes written file by file,
 * service-account tokens requested through TokenRequest bound to the pod (with the
 * audience and lifetime the spec asks for) and refreshed at 80% of their lifetime.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { CourierError, type Logger } from '@vault-courier/core';
import type { ProjectedFile, VolumePlan } from './pod-plan.ts';

/** A kubelet rotates a projected token once 80% of its lifetime has passed. */
export const TOKEN_REFRESH_FRACTION = 0.8;
const REFRESH_RETRY_MS = 10_000;

export function tokenRefreshDelayMs(issuedAtMs: number, expiresAtMs: number): number {
  return Math.max(0, Math.floor((expiresAtMs - issuedAtMs) * TOKEN_REFRESH_FRACTION));
}

async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const staging = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  await writeFile(staging, content, { mode });
  await rename(staging, file);
}

type TokenFile = Extract<ProjectedFile, { kind: 'token' }>;

export class PodVolumes {
  readonly #core: CoreV1Api;
  readonly #pod: V1Pod;
  readonly #log: Logger;
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(core: CoreV1Api, pod: V1Pod, log: Logger) {
    this.#core = core;
    this.#pod = pod;
    this.#log = log;
  }

  /** Creates every volume; throws CourierError('kubernetes') naming the volume when one cannot be made. */
  async prepare(volumes: readonly VolumePlan[]): Promise<void> {
    for (const volume of volumes) {
      await mkdir(volume.hostDir, { recursive: true, mode: 0o777 });
      if (volume.kind !== 'projected') continue;
      for (const file of volume.files) {
        try {
          await this.#project(volume.hostDir, file);
        } catch (cause) {
          throw new CourierError('kubernetes', `volume ${volume.name}: cannot project ${file.path} (${(cause as Error).message})`, { cause, retryable: true });
        }
      }
    }
  }

  /** Stops refreshing tokens (the pod is gone). */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  async #project(dir: string, file: ProjectedFile): Promise<void> {
    const target = path.join(dir, file.path);
    if (file.kind === 'field') return writeAtomically(target, file.value, file.mode);
    if (file.kind === 'configMap') return this.#projectConfigMap(target, file);
    return this.#projectToken(target, file);
  }

  async #projectConfigMap(target: string, file: Extract<ProjectedFile, { kind: 'configMap' }>): Promise<void> {
    const namespace = this.#pod.metadata?.namespace ?? 'default';
    const cm = await this.#core.readNamespacedConfigMap({ name: file.configMap, namespace }).catch((err: unknown) => {
      if (file.optional && (err as { code?: number }).code === 404) return undefined;
      throw err;
    });
    const value = cm?.data?.[file.key];
    if (value === undefined && !file.optional) throw new Error(`configMap ${file.configMap} has no key ${file.key}`);
    if (value !== undefined) await writeAtomically(target, value, file.mode);
  }

  async #projectToken(target: string, file: TokenFile): Promise<void> {
    const meta = this.#pod.metadata ?? {};
    const issuedAtMs = Date.now();
    const response = await this.#core.createNamespacedServiceAccountToken({
      name: this.#pod.spec?.serviceAccountName ?? 'default',
      namespace: meta.namespace ?? 'default',
      body: {
        spec: {
          audiences: file.audience === undefined ? [] : [file.audience],
          expirationSeconds: file.expirationSeconds,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: meta.name ?? '', uid: meta.uid ?? '' },
        },
      },
    });
    const token = response.status?.token;
    if (token === undefined) throw new Error('the TokenRequest answer carries no token');
    await writeAtomically(target, token, file.mode);
    const expiresAtMs = new Date(response.status?.expirationTimestamp ?? issuedAtMs + file.expirationSeconds * 1000).getTime();
    this.#schedule(target, file, tokenRefreshDelayMs(issuedAtMs, expiresAtMs));
  }

  #schedule(target: string, file: TokenFile, delayMs: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#projectToken(target, file).catch((err: unknown) => {
        this.#log.warn({ err, file: file.path }, 'projected token refresh failed; retrying');
        this.#schedule(target, file, REFRESH_RETRY_MS);
      });
    }, delayMs);
    timer.unref();
    this.#timers.add(timer);
  }
}
