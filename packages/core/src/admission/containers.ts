/**
 * Pure builders for what the webhook adds to a pod: the init container, the native
 * sidecar, and the four volumes. The environment written here is the contract read by
 * packages/init and packages/sidecar (INJECTED_ENV in names.ts).
 */
import type { V1Container, V1EnvVar, V1SecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { InjectionSpec } from '../contract/annotations.ts';
import type { InjectionConfig } from '../contract/config.ts';
import type { Resources } from '../contract/validators.ts';
import { decideRotation } from '../rotation/rotation-policy.ts';
import {
  EVICT_AUDIENCE,
  EVICT_JWT_FILE,
  EVICT_TOKEN_VOLUME,
  INIT_CONTAINER_NAME,
  INJECTED_ENV,
  SECRETS_VOLUME,
  SIDECAR_CONTAINER_NAME,
  STATE_MOUNT_PATH,
  STATE_VOLUME,
  TOKEN_MOUNT_PATH,
  TOKEN_VOLUME,
  VAULT_AUDIENCE,
  VAULT_JWT_FILE,
} from '../contract/names.ts';


/** Facts about the pod the injected containers need and cannot read themselves. */
export interface PodFacts {
  /** Kind of the controller ownerReference, '' when none. */
  readonly ownerKind: string;
  /** Its apiVersion (`apps/v1`), '' when none. */
  readonly ownerApiVersion: string;
  readonly gracePeriodSeconds: number;
  /**
   * The pod-level non-root uid/gid when the pod sets one, else the images' own user: the
   * init container writes the files as this identity, so an application that runs as the
   * pod's uid owns what it reads.
   */
  readonly runAsUser: number;
  readonly runAsGroup: number;
}

/**
 * Projected tokens live an hour; the kubelet refreshes them at 80% of that, so the files
 * always hold a valid token for the sidecar's later eviction call.
 */
export const TOKEN_EXPIRATION_SECONDS = 3600;

/** The numeric non-root user of the init and sidecar images (Dockerfile.init, Dockerfile.sidecar). */
export const IMAGE_USER = 65532;

/**
 * Pod Security Standard "restricted": non-root with a numeric uid, no privilege
 * escalation, no capabilities, the runtime's seccomp profile, and a read-only root
 * filesystem (the containers write only to their memory-backed volumes).
 */
export function injectedSecurityContext(facts: PodFacts): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: facts.runAsUser,
    runAsGroup: facts.runAsGroup,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function tokenVolume(name: string, audience: string, path: string): V1Volume {
  return { name, projected: { sources: [{ serviceAccountToken: { audience, path, expirationSeconds: TOKEN_EXPIRATION_SECONDS } }] } };
}

/**
 * Each injected container gets only the token audience it uses: the init container logs
 * in to Vault (`vault`), the sidecar presents its token to the webhook (`vault-courier`)
 * and talks to Vault with the Vault token init left in the state volume, never with a JWT.
 */
export function buildVolumes(): V1Volume[] {
  return [
    { name: SECRETS_VOLUME, emptyDir: { medium: 'Memory' } },
    { name: STATE_VOLUME, emptyDir: { medium: 'Memory' } },
    tokenVolume(TOKEN_VOLUME, VAULT_AUDIENCE, VAULT_JWT_FILE),
    tokenVolume(EVICT_TOKEN_VOLUME, EVICT_AUDIENCE, EVICT_JWT_FILE),
  ];
}

/** The secrets mount for application containers: read-only, they only read the files. */
export function secretsMount(spec: InjectionSpec): V1VolumeMount {
  return { name: SECRETS_VOLUME, mountPath: spec.mountPath, readOnly: true };
}

function fieldEnv(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

export type InjectedContainer = 'init' | 'sidecar';

/**
 * The environment of init and sidecar: one contract, one place that writes it. The two
 * differ only in the token file each one has (buildVolumes).
 */
export function buildInjectedEnv(spec: InjectionSpec, config: InjectionConfig, facts: PodFacts, container: InjectedContainer): V1EnvVar[] {
  const rotation = decideRotation({
    rotate: spec.rotate,
    owner: facts.ownerKind === '' ? undefined : { apiVersion: facts.ownerApiVersion, kind: facts.ownerKind },
    evictOwnerKinds: config.evictOwnerKinds ?? [],
  });
  const env: V1EnvVar[] = [
    { name: INJECTED_ENV.vaultAddr, value: config.vaultAddr },
    { name: INJECTED_ENV.authPath, value: config.authPath },
    { name: INJECTED_ENV.role, value: spec.role },
    { name: INJECTED_ENV.secrets, value: JSON.stringify(spec.secrets) },
    { name: INJECTED_ENV.secretsDir, value: spec.mountPath },
    { name: INJECTED_ENV.stateDir, value: STATE_MOUNT_PATH },
    container === 'init'
      ? { name: INJECTED_ENV.vaultJwtPath, value: `${TOKEN_MOUNT_PATH}/${VAULT_JWT_FILE}` }
      : { name: INJECTED_ENV.evictJwtPath, value: `${TOKEN_MOUNT_PATH}/${EVICT_JWT_FILE}` },
    // The name and uid are not known at admission (generateName, uid assigned later):
    // the kubelet resolves them when the container starts.
    fieldEnv(INJECTED_ENV.podName, 'metadata.name'),
    fieldEnv(INJECTED_ENV.podNamespace, 'metadata.namespace'),
    fieldEnv(INJECTED_ENV.podUid, 'metadata.uid'),
    { name: INJECTED_ENV.serviceUrl, value: config.serviceUrl },
    { name: INJECTED_ENV.ownerKind, value: facts.ownerKind },
    { name: INJECTED_ENV.rotate, value: String(rotation.mode === 'evict') },
    { name: INJECTED_ENV.rotateReason, value: rotation.why },
    { name: INJECTED_ENV.gracePeriodSeconds, value: String(facts.gracePeriodSeconds) },
  ];
  if (spec.namespace !== undefined) env.push({ name: INJECTED_ENV.vaultNamespace, value: spec.namespace });
  if (config.vaultCaPem !== undefined) env.push({ name: INJECTED_ENV.vaultCaPem, value: config.vaultCaPem });
  if (config.serviceCaPem !== undefined) env.push({ name: INJECTED_ENV.serviceCaPem, value: config.serviceCaPem });
  return env;
}

function stateAndTokenMounts(tokenVolume: string): V1VolumeMount[] {
  return [
    { name: STATE_VOLUME, mountPath: STATE_MOUNT_PATH },
    { name: tokenVolume, mountPath: TOKEN_MOUNT_PATH, readOnly: true },
  ];
}

function resources(r: Resources): V1Container['resources'] {
  return { ...(r.requests ? { requests: { ...r.requests } } : {}), ...(r.limits ? { limits: { ...r.limits } } : {}) };
}

export function buildInitContainer(spec: InjectionSpec, config: InjectionConfig, facts: PodFacts): V1Container {
  return {
    name: INIT_CONTAINER_NAME,
    image: config.initImage,
    imagePullPolicy: 'IfNotPresent',
    // From the image's V8 startup snapshot: its modules are evaluated when the image is
    // built, not at every pod's start (docs/performance.md, "Init"). The image keeps
    // /app/init.mjs for webhooks that inject the earlier command.
    command: ['node', '--snapshot-blob', '/app/init.blob'],
    env: buildInjectedEnv(spec, config, facts, 'init'),
    resources: resources(config.initResources),
    securityContext: injectedSecurityContext(facts),
    // The init container writes the files: the only container with the secrets volume read-write.
    volumeMounts: [{ name: SECRETS_VOLUME, mountPath: spec.mountPath }, ...stateAndTokenMounts(TOKEN_VOLUME)],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/**
 * V8 flags of the injected sidecar (and its image's ENTRYPOINT). --lite-mode: no
 * optimising compiler and smaller code caches; the sidecar runs a timer every few minutes,
 * so the CPU it costs goes unnoticed, and it saves 1.7 to 2.5 MiB of private memory in every pod
 * (bench/sidecar, docs/performance.md).
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = ['--lite-mode'];

export function buildSidecarContainer(spec: InjectionSpec, config: InjectionConfig, facts: PodFacts): V1Container {
  return {
    name: SIDECAR_CONTAINER_NAME,
    image: config.sidecarImage,
    imagePullPolicy: 'IfNotPresent',
    command: ['node', ...SIDECAR_NODE_FLAGS, '/app/sidecar.mjs'],
    // A native sidecar: starts before the pod's own init containers, runs for the pod's
    // whole life, and receives SIGTERM only after the application containers stopped.
    restartPolicy: 'Always',
    env: buildInjectedEnv(spec, config, facts, 'sidecar'),
    resources: resources(config.sidecarResources),
    securityContext: injectedSecurityContext(facts),
    volumeMounts: stateAndTokenMounts(EVICT_TOKEN_VOLUME),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}
