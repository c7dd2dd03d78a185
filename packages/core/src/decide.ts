/**
 * Inject this pod, skip it, or refuse it: one pure decision with its reason, logged by
 * the webhook. Skips are for pods that asked for nothing; a pod that asked wrongly is
 * refused with every problem named, so a typo never yields a pod silently without secrets.
 */
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { ANNOTATIONS, hasCourierAnnotations, parseAnnotations, type AnnotationError, type InjectionSpec } from './annotations.ts';
import { INIT_CONTAINER_NAME, SECRETS_VOLUME, SIDECAR_CONTAINER_NAME, STATE_VOLUME, STATUS_INJECTED, TOKEN_VOLUME } from './names.ts';

export type SkipReason = 'no-annotations' | 'opted-out' | 'already-injected' | 'no-secrets';

export type Decision =
  | { readonly inject: true; readonly spec: InjectionSpec }
  | { readonly inject: false; readonly reason: SkipReason }
  | { readonly inject: false; readonly reason: 'invalid'; readonly errors: readonly AnnotationError[] };

export interface DecideConfig {
  readonly defaultRole: string | undefined;
}

/** Names of the pod's init and regular containers, in pod order. */
export function containerNames(pod: V1Pod): string[] {
  return allContainers(pod).map((c) => c.name);
}

function alreadyInjected(pod: V1Pod): boolean {
  const annotations = pod.metadata?.annotations ?? {};
  return annotations[ANNOTATIONS.status] === STATUS_INJECTED || containerNames(pod).some((n) => n === INIT_CONTAINER_NAME || n === SIDECAR_CONTAINER_NAME);
}

/** Init containers first, then regular ones, as the pod runs them. */
export function allContainers(pod: V1Pod): V1Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

function volumeConflicts(pod: V1Pod): AnnotationError[] {
  const ours: readonly string[] = [SECRETS_VOLUME, STATE_VOLUME, TOKEN_VOLUME];
  return (pod.spec?.volumes ?? [])
    .filter((volume) => ours.includes(volume.name))
    .map((volume) => ({ annotation: `spec.volumes[${volume.name}]`, message: `the pod already has a volume named "${volume.name}", a name vault-courier reserves; rename that volume` }));
}

function mountConflicts(pod: V1Pod, spec: InjectionSpec): AnnotationError[] {
  const targets = new Set(spec.containers ?? containerNames(pod));
  const errors: AnnotationError[] = [];
  for (const container of allContainers(pod).filter((c) => targets.has(c.name))) {
    const clash = (container.volumeMounts ?? []).find((m) => m.mountPath === spec.mountPath);
    if (clash === undefined) continue;
    errors.push({
      annotation: ANNOTATIONS.mountPath,
      message: `${ANNOTATIONS.mountPath} "${spec.mountPath}" is already a mount point of container "${container.name}" (volume "${clash.name}"); choose another ${ANNOTATIONS.mountPath}`,
    });
  }
  return errors;
}

/** What the pod already has that the injection would collide with. */
export function findConflicts(pod: V1Pod, spec: InjectionSpec): AnnotationError[] {
  return [...volumeConflicts(pod), ...mountConflicts(pod, spec)];
}

export function shouldInject(pod: V1Pod, config: DecideConfig): Decision {
  const annotations = pod.metadata?.annotations ?? {};
  if (!hasCourierAnnotations(annotations)) return { inject: false, reason: 'no-annotations' };
  if (annotations[ANNOTATIONS.inject] === 'false') return { inject: false, reason: 'opted-out' };
  if (alreadyInjected(pod)) return { inject: false, reason: 'already-injected' };
  const parsed = parseAnnotations(annotations, { containerNames: containerNames(pod), defaultRole: config.defaultRole });
  if (!parsed.ok) return { inject: false, reason: 'invalid', errors: parsed.errors };
  if (parsed.spec.secrets.length === 0) return { inject: false, reason: 'no-secrets' };
  const conflicts = findConflicts(pod, parsed.spec);
  if (conflicts.length > 0) return { inject: false, reason: 'invalid', errors: conflicts };
  return { inject: true, spec: parsed.spec };
}
