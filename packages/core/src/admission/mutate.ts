/**
 * The injection plan: pod in, mutated pod out. Works on a structuredClone, does no I/O;
 * the webhook turns the difference into a JSONPatch (patch.ts).
 */
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import { ANNOTATIONS, parseAnnotations, type InjectionSpec } from '../contract/annotations.ts';
import type { InjectionConfig } from '../contract/config.ts';
import { buildInitContainer, buildSidecarContainer, buildVolumes, IMAGE_USER, secretsMount, type PodFacts } from './containers.ts';
import { allContainers, containerNames, type DecideConfig } from './decide.ts';
import { controllerOwner } from '../rotation/rotation-policy.ts';
import { DEFAULT_GRACE_PERIOD_SECONDS, INIT_CONTAINER_NAME, SECRETS_VOLUME, SIDECAR_CONTAINER_NAME, STATUS_INJECTED } from '../contract/names.ts';

/**
 * The pod-level non-root identity, if the pod sets one. With a pod uid, the application
 * reads the files as their owner; the group only matters through fsGroup, which the
 * kubelet applies to every container anyway.
 */
function podIdentity(pod: V1Pod): { runAsUser: number; runAsGroup: number } | undefined {
  const context = pod.spec?.securityContext ?? {};
  if (context.runAsUser === undefined || context.runAsUser <= 0) return undefined;
  return { runAsUser: context.runAsUser, runAsGroup: context.runAsGroup ?? context.runAsUser };
}

export function podFacts(pod: V1Pod): PodFacts {
  const controller = controllerOwner(pod);
  return {
    ownerKind: controller?.kind ?? '',
    ownerApiVersion: controller?.apiVersion ?? '',
    gracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS,
    ...(podIdentity(pod) ?? { runAsUser: IMAGE_USER, runAsGroup: IMAGE_USER }),
  };
}

/** Volume kinds that live and die with the pod: letting the kubelet apply fsGroup to them is harmless. */
const POD_LOCAL_VOLUME_KINDS: ReadonlySet<string> = new Set(['name', 'emptyDir', 'configMap', 'secret', 'projected', 'downwardAPI']);

function isPodLocal(volume: V1Volume): boolean {
  return Object.keys(volume).every((key) => POD_LOCAL_VOLUME_KINDS.has(key));
}

/**
 * The fsGroup to add so every container can read the 0440 files, or undefined to leave
 * the pod as it is. The files belong to the injected containers' uid; an application
 * running as another uid (an image's own non-root user, the common case) reads them
 * through the group, and fsGroup is what puts every container in the volume's group. A pod
 * that sets fsGroup keeps it. A pod with a persistent or external volume gets none: the
 * kubelet would chown that volume's data to the new group on every mount; such a pod
 * sets fsGroup itself (README, troubleshooting).
 */
export function fsGroupToAdd(pod: V1Pod, facts: PodFacts): number | undefined {
  if (pod.spec?.securityContext?.fsGroup !== undefined) return undefined;
  if (!(pod.spec?.volumes ?? []).every(isPodLocal)) return undefined;
  return facts.runAsGroup;
}

/**
 * Returns a copy of `pod` with the init container first among the init containers (so
 * the pod's own init containers can read the secrets), the native sidecar right after
 * it, the four volumes, the secrets mount in the selected containers, an fsGroup where
 * the application could not read the files otherwise (fsGroupToAdd), and the status
 * annotation. `pod` itself is never modified.
 */
export function mutatePod(pod: V1Pod, spec: InjectionSpec, config: InjectionConfig): V1Pod {
  const mutated = structuredClone(pod);
  const podSpec = mutated.spec ?? { containers: [] };
  mutated.spec = podSpec;
  const facts = podFacts(pod);
  const targets = spec.containers === undefined ? undefined : new Set(spec.containers);
  // allContainers: the API server calls admission before validation, so a pod without containers reaches us.
  for (const container of allContainers(mutated)) {
    if (targets !== undefined && !targets.has(container.name)) continue;
    container.volumeMounts = [...(container.volumeMounts ?? []), secretsMount(spec)];
  }
  podSpec.initContainers = [buildInitContainer(spec, config, facts), buildSidecarContainer(spec, config, facts), ...(podSpec.initContainers ?? [])];
  podSpec.volumes = [...(podSpec.volumes ?? []), ...buildVolumes()];
  const fsGroup = fsGroupToAdd(pod, facts);
  if (fsGroup !== undefined) podSpec.securityContext = { ...podSpec.securityContext, fsGroup };
  mutated.metadata = { ...mutated.metadata, annotations: { ...mutated.metadata?.annotations, [ANNOTATIONS.status]: STATUS_INJECTED } };
  return mutated;
}

/**
 * On reinvocation (another webhook changed the pod after ours ran): containers it added
 * that the pod's annotations select get the secrets mount too. Returns the completed copy,
 * or undefined when there is nothing to add; never injects a second init container.
 */
export function mountIntoLateContainers(pod: V1Pod, config: DecideConfig): V1Pod | undefined {
  if (!(pod.spec?.volumes ?? []).some((v) => v.name === SECRETS_VOLUME)) return undefined;
  const parsed = parseAnnotations(pod.metadata?.annotations, { containerNames: containerNames(pod), defaultRole: config.defaultRole });
  if (!parsed.ok) return undefined;
  const { spec } = parsed;
  const mutated = structuredClone(pod);
  const late = allContainers(mutated).filter((c) => lacksMount(c, spec));
  for (const container of late) container.volumeMounts = [...(container.volumeMounts ?? []), secretsMount(spec)];
  return late.length > 0 ? mutated : undefined;
}

function lacksMount(container: V1Container, spec: InjectionSpec): boolean {
  if (container.name === INIT_CONTAINER_NAME || container.name === SIDECAR_CONTAINER_NAME) return false;
  if (spec.containers !== undefined && !spec.containers.includes(container.name)) return false;
  return !(container.volumeMounts ?? []).some((m) => m.name === SECRETS_VOLUME || m.mountPath === spec.mountPath);
}
