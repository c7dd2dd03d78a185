/**
 * What the process runner will do for a pod, decided from the pod as the API server stored
 * it and nothing else: which local command stands in for each container, in which order,
 * with which environment, and where each volume lives on the host. Pure: the runner's
 * I/O shell only carries the plan out, so every decision here has a table test.
 *
 * Processes share one filesystem, so a container path cannot be mounted: every env value
 * and argument that names a path under one of the container's volumeMounts is rewritten
 * to the host directory standing in for that volume.
 */
import path from 'node:path';
import type { V1Container, V1EnvVar, V1Pod, V1Volume, V1VolumeProjection } from '@kubernetes/client-node';
import { resolveImage, type ImageMap } from './images.ts';

export type ContainerKind = 'init' | 'sidecar' | 'app';

export interface ContainerPlan {
  readonly name: string;
  readonly image: string;
  readonly kind: ContainerKind;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export interface ContainerProblem {
  readonly container: string;
  readonly reason: 'ErrImageNeverPull' | 'CreateContainerConfigError';
  readonly message: string;
}

/** One file of a projected volume. */
export type ProjectedFile =
  | { readonly kind: 'token'; readonly path: string; readonly audience: string | undefined; readonly expirationSeconds: number; readonly mode: number }
  | { readonly kind: 'configMap'; readonly path: string; readonly configMap: string; readonly key: string; readonly optional: boolean; readonly mode: number }
  | { readonly kind: 'field'; readonly path: string; readonly value: string; readonly mode: number };

export type VolumePlan =
  | { readonly kind: 'emptyDir'; readonly name: string; readonly hostDir: string }
  | { readonly kind: 'projected'; readonly name: string; readonly hostDir: string; readonly files: readonly ProjectedFile[] };

export interface PodPlan {
  readonly volumes: readonly VolumePlan[];
  /** In start order: init containers and sidecars as listed, then the app containers. */
  readonly containers: readonly ContainerPlan[];
  /** Non-empty: the pod cannot start; each problem becomes that container's waiting status. */
  readonly problems: readonly ContainerProblem[];
}

export interface PlanContext {
  readonly images: ImageMap;
  /** The pod's own directory on the host; volumes live under `<podDir>/volumes/<name>`. */
  readonly podDir: string;
  readonly nodeName: string;
  readonly hostIP: string;
  /** Environment every process starts from (PATH), before the container's own. */
  readonly baseEnv: Readonly<Record<string, string>>;
}

export interface Mount {
  readonly mountPath: string;
  readonly hostPath: string;
}

/** The token lifetime a kubelet asks for when the spec names none. */
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600;
const DEFAULT_PROJECTED_MODE = 0o644;

type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

export function isSidecar(container: V1Container): boolean {
  return container.restartPolicy === 'Always';
}

/** Maps a container path onto the host through the longest matching mount; others unchanged. */
export function mapContainerPath(mounts: readonly Mount[], value: string): string {
  if (!value.startsWith('/')) return value;
  let best: Mount | undefined;
  for (const mount of mounts) {
    const base = mount.mountPath.replace(/\/+$/, '');
    const inside = value === base || value.startsWith(`${base}/`);
    if (inside && (best === undefined || base.length > best.mountPath.replace(/\/+$/, '').length)) best = mount;
  }
  if (best === undefined) return value;
  return best.hostPath + value.slice(best.mountPath.replace(/\/+$/, '').length);
}

/** `$(VAR)` references to earlier variables, as the kubelet expands them; `$$` escapes. */
export function expandReferences(value: string, defined: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return defined[name] ?? match;
  });
}

/** The downward API's fieldRef paths a kubelet supports for env. */
export function fieldPathValue(pod: V1Pod, fieldPath: string, context: Pick<PlanContext, 'nodeName' | 'hostIP'>): Result<string> {
  const meta = pod.metadata ?? {};
  const keyed = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (keyed !== null) {
    const map = keyed[1] === 'labels' ? meta.labels : meta.annotations;
    return { ok: true, value: map?.[keyed[2] ?? ''] ?? '' };
  }
  const simple: Record<string, string | undefined> = {
    'metadata.name': meta.name,
    'metadata.namespace': meta.namespace,
    'metadata.uid': meta.uid,
    'spec.nodeName': context.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName ?? 'default',
    'status.hostIP': context.hostIP,
    'status.hostIPs': context.hostIP,
    'status.podIP': context.hostIP,
    'status.podIPs': context.hostIP,
  };
  if (!(fieldPath in simple)) return { ok: false, message: `fieldRef ${fieldPath} is not supported by the process runner` };
  return { ok: true, value: simple[fieldPath] ?? '' };
}

function envValue(pod: V1Pod, variable: V1EnvVar, defined: Record<string, string>, context: PlanContext): Result<string> {
  if (variable.valueFrom === undefined) return { ok: true, value: expandReferences(variable.value ?? '', defined) };
  const fieldPath = variable.valueFrom.fieldRef?.fieldPath;
  if (fieldPath === undefined) {
    return { ok: false, message: `env ${variable.name}: only value and valueFrom.fieldRef are supported by the process runner` };
  }
  return fieldPathValue(pod, fieldPath, context);
}

/** The container's environment: the spec's variables resolved, then container paths mapped. */
export function resolveEnv(pod: V1Pod, container: V1Container, mounts: readonly Mount[], context: PlanContext): Result<Record<string, string>> {
  if ((container.envFrom ?? []).length > 0) return { ok: false, message: 'envFrom is not supported by the process runner; list the variables under env' };
  const defined: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const value = envValue(pod, variable, defined, context);
    if (!value.ok) return value;
    defined[variable.name] = mapContainerPath(mounts, value.value);
  }
  return { ok: true, value: { ...context.baseEnv, ...defined } };
}

export function volumeHostDir(podDir: string, volume: string): string {
  return path.join(podDir, 'volumes', volume);
}

export function containerMounts(container: V1Container, volumes: readonly VolumePlan[]): Result<Mount[]> {
  const mounts: Mount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.find((v) => v.name === mount.name);
    if (volume === undefined) return { ok: false, message: `volumeMount ${mount.name}: the volume is missing or of a type the process runner does not support (emptyDir, projected)` };
    const hostPath = mount.subPath ? path.join(volume.hostDir, mount.subPath) : volume.hostDir;
    mounts.push({ mountPath: mount.mountPath, hostPath });
  }
  return { ok: true, value: mounts };
}

function tokenFile(source: NonNullable<V1VolumeProjection['serviceAccountToken']>, mode: number): ProjectedFile {
  return { kind: 'token', path: source.path, audience: source.audience || undefined, expirationSeconds: source.expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS, mode };
}

function configMapFiles(source: NonNullable<V1VolumeProjection['configMap']>, mode: number): Result<ProjectedFile[]> {
  const items = source.items ?? [];
  if (items.length === 0) return { ok: false, message: `projected configMap ${source.name}: list its keys under items (the process runner projects listed keys only)` };
  return { ok: true, value: items.map((i) => ({ kind: 'configMap', path: i.path, configMap: source.name ?? '', key: i.key, optional: source.optional ?? false, mode: i.mode ?? mode })) };
}

function downwardFiles(pod: V1Pod, source: NonNullable<V1VolumeProjection['downwardAPI']>, mode: number, context: PlanContext): Result<ProjectedFile[]> {
  const files: ProjectedFile[] = [];
  for (const item of source.items ?? []) {
    const value = item.fieldRef === undefined ? undefined : fieldPathValue(pod, item.fieldRef.fieldPath, context);
    if (value === undefined || !value.ok) return { ok: false, message: `projected downwardAPI ${item.path}: only supported fieldRef paths can be projected` };
    files.push({ kind: 'field', path: item.path, value: value.value, mode: item.mode ?? mode });
  }
  return { ok: true, value: files };
}

function projectionFiles(pod: V1Pod, source: V1VolumeProjection, mode: number, context: PlanContext): Result<ProjectedFile[]> {
  if (source.serviceAccountToken !== undefined) return { ok: true, value: [tokenFile(source.serviceAccountToken, mode)] };
  if (source.configMap !== undefined) return configMapFiles(source.configMap, mode);
  if (source.downwardAPI !== undefined) return downwardFiles(pod, source.downwardAPI, mode, context);
  return { ok: false, message: 'projected volumes may hold serviceAccountToken, configMap and downwardAPI sources in the process runner' };
}

function planVolume(pod: V1Pod, volume: V1Volume, context: PlanContext): Result<VolumePlan> {
  const hostDir = volumeHostDir(context.podDir, volume.name);
  if (volume.emptyDir !== undefined) return { ok: true, value: { kind: 'emptyDir', name: volume.name, hostDir } };
  if (volume.projected === undefined) return { ok: false, message: `volume ${volume.name}: the process runner supports emptyDir and projected volumes only` };
  const mode = volume.projected.defaultMode ?? DEFAULT_PROJECTED_MODE;
  const files: ProjectedFile[] = [];
  for (const source of volume.projected.sources ?? []) {
    const projected = projectionFiles(pod, source, mode, context);
    if (!projected.ok) return { ok: false, message: `volume ${volume.name}: ${projected.message}` };
    files.push(...projected.value);
  }
  return { ok: true, value: { kind: 'projected', name: volume.name, hostDir, files } };
}

function planContainer(pod: V1Pod, container: V1Container, kind: ContainerKind, volumes: readonly VolumePlan[], context: PlanContext): ContainerPlan | ContainerProblem {
  const image = resolveImage(context.images, container.image, container.command);
  if (!image.ok) return { container: container.name, reason: image.reason, message: image.message };
  const config = (message: string): ContainerProblem => ({ container: container.name, reason: 'CreateContainerConfigError', message });
  const mounts = containerMounts(container, volumes);
  if (!mounts.ok) return config(mounts.message);
  const env = resolveEnv(pod, container, mounts.value, context);
  if (!env.ok) return config(env.message);
  const args = (container.args ?? []).map((a) => mapContainerPath(mounts.value, expandReferences(a, env.value)));
  return { name: container.name, image: container.image ?? '', kind, argv: [...image.argv, ...args], env: env.value };
}

/** Init containers (and sidecars) in order, then the app containers: the start order. */
function startOrder(pod: V1Pod): [V1Container, ContainerKind][] {
  const init = (pod.spec?.initContainers ?? []).map((c): [V1Container, ContainerKind] => [c, isSidecar(c) ? 'sidecar' : 'init']);
  const apps = (pod.spec?.containers ?? []).map((c): [V1Container, ContainerKind] => [c, 'app']);
  return [...init, ...apps];
}

export function planPod(pod: V1Pod, context: PlanContext): PodPlan {
  const volumes: VolumePlan[] = [];
  const volumeProblems = new Map<string, string>();
  for (const volume of pod.spec?.volumes ?? []) {
    const planned = planVolume(pod, volume, context);
    if (planned.ok) volumes.push(planned.value);
    else volumeProblems.set(volume.name, planned.message);
  }
  const containers: ContainerPlan[] = [];
  const problems: ContainerProblem[] = [];
  for (const [container, kind] of startOrder(pod)) {
    const broken = (container.volumeMounts ?? []).find((m) => volumeProblems.has(m.name));
    const planned: ContainerPlan | ContainerProblem =
      broken === undefined ? planContainer(pod, container, kind, volumes, context) : { container: container.name, reason: 'CreateContainerConfigError', message: volumeProblems.get(broken.name) ?? '' };
    if ('reason' in planned) problems.push(planned);
    else containers.push(planned);
  }
  return { volumes, containers, problems };
}
