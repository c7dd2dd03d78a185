/**
 * The injection plan: pod in, mutated pod out. Does no I/O and never modifies its input:
 * the result copies only the objects on the path to a change and shares every other
 * subtree with the input, so the webhook's diff (patch.ts) skips the shared subtrees by
 * identity instead of walking two deep copies. Nothing may modify a result in place.
 */
import type { V1Container, V1Pod, V1PodSpec, V1Volume } from '@kubernetes/client-node';
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
  const podSpec = pod.spec ?? { containers: [] };
  const facts = podFacts(pod);
  const targets = spec.containers === undefined ? undefined : new Set(spec.containers);
  const mount = (container: V1Container): V1Container =>
    targets !== undefined && !targets.has(container.name) ? container : withSecretsMount(container, spec);
  // podSpec.containers may be absent: the API server calls admission before validation, so a pod without containers reaches us.
  const mutatedSpec: V1PodSpec = {
    ...podSpec,
    initContainers: [buildInitContainer(spec, config, facts), buildSidecarContainer(spec, config, facts), ...(podSpec.initContainers ?? []).map(mount)],
    volumes: [...(podSpec.volumes ?? []), ...buildVolumes()],
  };
  if (podSpec.containers !== undefined) mutatedSpec.containers = podSpec.containers.map(mount);
  const fsGroup = fsGroupToAdd(pod, facts);
  if (fsGroup !== undefined) mutatedSpec.securityContext = { ...podSpec.securityContext, fsGroup };
  return { ...pod, spec: mutatedSpec, metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [ANNOTATIONS.status]: STATUS_INJECTED } } };
}

function withSecretsMount(container: V1Container, spec: InjectionSpec): V1Container {
  return { ...container, volumeMounts: [...(container.volumeMounts ?? []), secretsMount(spec)] };
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
  if (!allContainers(pod).some((c) => lacksMount(c, spec))) return undefined;
  const podSpec = pod.spec ?? { containers: [] };
  const mount = (container: V1Container): V1Container => (lacksMount(container, spec) ? withSecretsMount(container, spec) : container);
  const mutatedSpec: V1PodSpec = { ...podSpec };
  if (podSpec.initContainers !== undefined) mutatedSpec.initContainers = podSpec.initContainers.map(mount);
  if (podSpec.containers !== undefined) mutatedSpec.containers = podSpec.containers.map(mount);
  return { ...pod, spec: mutatedSpec };
}

function lacksMount(container: V1Container, spec: InjectionSpec): boolean {
  if (container.name === INIT_CONTAINER_NAME || container.name === SIDECAR_CONTAINER_NAME) return false;
  if (spec.containers !== undefined && !spec.containers.includes(container.name)) return false;
  return !(container.volumeMounts ?? []).some((m) => m.name === SECRETS_VOLUME || m.mountPath === spec.mountPath);
}
