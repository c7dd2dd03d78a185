/**
 * Inject this pod, skip it, or refuse it: one pure decision with its reason, logged by
 * the webhook. Skips are for pods that asked for nothing; a pod that asked wrongly is
 * refused with every problem named, so a typo never yields a pod silently without secrets.
 */
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { formatToString, type SecretSpec } from '../contract/spec.ts';
import { ANNOTATIONS, hasCourierAnnotations, parseAnnotations, type AnnotationError, type InjectionSpec, type ParseContext } from '../contract/annotations.ts';
import { EVICT_TOKEN_VOLUME, INIT_CONTAINER_NAME, INJECTED_ENV, SECRETS_VOLUME, SIDECAR_CONTAINER_NAME, STATE_VOLUME, STATUS_INJECTED, TOKEN_VOLUME } from '../contract/names.ts';

export type SkipReason = 'no-annotations' | 'opted-out' | 'already-injected' | 'no-secrets';

export type Decision =
  | { readonly inject: true; readonly spec: InjectionSpec }
  | { readonly inject: false; readonly reason: SkipReason }
  | { readonly inject: false; readonly reason: 'invalid'; readonly errors: readonly AnnotationError[] };

export interface DecideConfig {
  readonly defaultRole: string | undefined;
  readonly defaultVaultNamespace?: string | undefined;
}

function parseContext(pod: V1Pod, config: DecideConfig): ParseContext {
  return { containerNames: containerNames(pod), defaultRole: config.defaultRole, defaultNamespace: config.defaultVaultNamespace };
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
  const ours: readonly string[] = [SECRETS_VOLUME, STATE_VOLUME, TOKEN_VOLUME, EVICT_TOKEN_VOLUME];
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

const FIX_LATE = 'vault-courier reads the annotations once, when it injects the pod: put the annotation in the pod template itself (not in a webhook that runs after vault-courier), or create the pod without vault-courier.io/status and the injected containers';

/** What the injected init container was told to deliver, from its environment; undefined if it is not there. */
function deliveredBy(pod: V1Pod): { secrets: readonly SecretSpec[]; role: string | undefined; namespace: string | undefined; mountPath: string | undefined } | undefined {
  const init = (pod.spec?.initContainers ?? []).find((c) => c.name === INIT_CONTAINER_NAME);
  if (init === undefined) return undefined;
  const env = new Map((init.env ?? []).map((e) => [e.name, e.value]));
  let secrets: unknown;
  try {
    secrets = JSON.parse(env.get(INJECTED_ENV.secrets) ?? '[]');
  } catch {
    secrets = [];
  }
  return { secrets: Array.isArray(secrets) ? (secrets as SecretSpec[]) : [], role: env.get(INJECTED_ENV.role), namespace: env.get(INJECTED_ENV.vaultNamespace), mountPath: env.get(INJECTED_ENV.secretsDir) };
}

function secretDrift(requested: SecretSpec, delivered: readonly SecretSpec[]): AnnotationError | undefined {
  const key = `${ANNOTATIONS.secretPrefix}${requested.name}`;
  const found = delivered.find((d) => d.name === requested.name);
  if (found === undefined) return { annotation: key, message: `${key} was added after vault-courier injected this pod (${ANNOTATIONS.status}: ${STATUS_INJECTED}), so the pod would start without that secret; ${FIX_LATE}` };
  if (found.path !== requested.path || formatToString(found.format) !== formatToString(requested.format)) {
    return { annotation: key, message: `${key} (or its ${ANNOTATIONS.formatPrefix}${requested.name} or ${ANNOTATIONS.templatePrefix}${requested.name}) changed after vault-courier injected this pod, so the pod would get the secret as first requested; ${FIX_LATE}` };
  }
  return undefined;
}

/**
 * Reinvocation never drops a secret: on a pod that already carries the injection, every
 * secret, the role and the mount path its annotations ask for must be what the injected
 * init container delivers. Anything else (a `secret-*` added by a later webhook, a pod that
 * carries the status annotation without the containers) is a refusal that says why.
 */
export function undeliveredRequests(pod: V1Pod, config: DecideConfig): AnnotationError[] {
  const annotations = pod.metadata?.annotations ?? {};
  if (!Object.keys(annotations).some((k) => k.startsWith(ANNOTATIONS.secretPrefix))) return [];
  const parsed = parseAnnotations(annotations, parseContext(pod, config));
  if (!parsed.ok) return [...parsed.errors];
  const delivered = deliveredBy(pod);
  if (delivered === undefined) {
    return [{ annotation: ANNOTATIONS.status, message: `${ANNOTATIONS.status}: ${STATUS_INJECTED} is set but the pod has no ${INIT_CONTAINER_NAME} container, so no secret would be delivered; remove ${ANNOTATIONS.status} from the manifest (the webhook writes it)` }];
  }
  const errors = parsed.spec.secrets.map((s) => secretDrift(s, delivered.secrets)).filter((e): e is AnnotationError => e !== undefined);
  if (delivered.role !== parsed.spec.role) errors.push({ annotation: ANNOTATIONS.role, message: `${ANNOTATIONS.role} changed after vault-courier injected this pod (the init container logs in as "${delivered.role ?? ''}"); ${FIX_LATE}` });
  if (delivered.namespace !== parsed.spec.namespace) errors.push({ annotation: ANNOTATIONS.namespace, message: `${ANNOTATIONS.namespace} changed after vault-courier injected this pod (the init container uses ${delivered.namespace === undefined ? 'no namespace' : `namespace "${delivered.namespace}"`}); ${FIX_LATE}` });
  if (delivered.mountPath !== parsed.spec.mountPath) errors.push({ annotation: ANNOTATIONS.mountPath, message: `${ANNOTATIONS.mountPath} changed after vault-courier injected this pod (the files are written to "${delivered.mountPath ?? ''}"); ${FIX_LATE}` });
  return errors;
}

export function shouldInject(pod: V1Pod, config: DecideConfig): Decision {
  const annotations = pod.metadata?.annotations ?? {};
  if (!hasCourierAnnotations(annotations)) return { inject: false, reason: 'no-annotations' };
  if (annotations[ANNOTATIONS.inject] === 'false') return { inject: false, reason: 'opted-out' };
  if (alreadyInjected(pod)) {
    const errors = undeliveredRequests(pod, config);
    return errors.length > 0 ? { inject: false, reason: 'invalid', errors } : { inject: false, reason: 'already-injected' };
  }
  const parsed = parseAnnotations(annotations, parseContext(pod, config));
  if (!parsed.ok) return { inject: false, reason: 'invalid', errors: parsed.errors };
  if (parsed.spec.secrets.length === 0) return { inject: false, reason: 'no-secrets' };
  const conflicts = findConflicts(pod, parsed.spec);
  if (conflicts.length > 0) return { inject: false, reason: 'invalid', errors: conflicts };
  return { inject: true, spec: parsed.spec };
}
