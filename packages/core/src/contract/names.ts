/**
 * Every name the webhook writes into a pod, and every name shared between the webhook and
 * the containers it injects. Other tools rely on these: they are public, keep them stable.
 */

export const ANNOTATION_PREFIX = 'vault-courier.io/';

/** Namespace label that opts a namespace in. */
export const NAMESPACE_LABEL = 'vault-courier.io/inject';
export const NAMESPACE_LABEL_VALUE = 'enabled';

export const INIT_CONTAINER_NAME = 'vault-courier-init';
export const SIDECAR_CONTAINER_NAME = 'vault-courier-sidecar';

/** emptyDir (Memory): the secret files the application reads. */
export const SECRETS_VOLUME = 'vault-courier-secrets';
/** emptyDir (Memory): the Vault token and the lease manifest; init and sidecar only. */
export const STATE_VOLUME = 'vault-courier-state';
/** projected service-account token with audience `vault` (the Vault login); the init container only. */
export const TOKEN_VOLUME = 'vault-courier-token';
/** projected service-account token with audience `vault-courier` (POST /evict, /expiry-warning); the sidecar only. */
export const EVICT_TOKEN_VOLUME = 'vault-courier-evict-token';

/** Where the injected containers mount the state volume and their token volume (each container its own). */
export const STATE_MOUNT_PATH = '/vault-courier/state';
export const TOKEN_MOUNT_PATH = '/vault-courier/token';
/** The token file in each token volume, named after its audience. */
export const VAULT_JWT_FILE = 'vault';
export const EVICT_JWT_FILE = 'vault-courier';
/** Files inside the state volume. */
export const VAULT_TOKEN_FILE = 'vault-token';
export const MANIFEST_FILE = 'leases.json';

export const VAULT_AUDIENCE = 'vault';
export const EVICT_AUDIENCE = 'vault-courier';

export const DEFAULT_MOUNT_PATH = '/vault/secrets';
/** Kubernetes' own default terminationGracePeriodSeconds, for pods that set none. */
export const DEFAULT_GRACE_PERIOD_SECONDS = 30;
export const STATUS_INJECTED = 'injected';

/**
 * The environment the webhook writes into the injected containers: the contract between
 * packages/webhook (writer) and packages/init, packages/sidecar (readers).
 */
export const INJECTED_ENV = {
  vaultAddr: 'VAULT_COURIER_VAULT_ADDR',
  /** PEM text of the CA that signs Vault's certificate (optional). */
  vaultCaPem: 'VAULT_COURIER_VAULT_CACERT_PEM',
  authPath: 'VAULT_COURIER_AUTH_PATH',
  role: 'VAULT_COURIER_ROLE',
  /** Optional: the Vault namespace init and sidecar send as X-Vault-Namespace on every call (absent: none). */
  vaultNamespace: 'VAULT_COURIER_VAULT_NAMESPACE',
  /** JSON array of SecretSpec (see spec.ts). */
  secrets: 'VAULT_COURIER_SECRETS',
  secretsDir: 'VAULT_COURIER_SECRETS_DIR',
  stateDir: 'VAULT_COURIER_STATE_DIR',
  vaultJwtPath: 'VAULT_COURIER_VAULT_JWT_PATH',
  evictJwtPath: 'VAULT_COURIER_EVICT_JWT_PATH',
  podName: 'VAULT_COURIER_POD_NAME',
  podNamespace: 'VAULT_COURIER_POD_NAMESPACE',
  podUid: 'VAULT_COURIER_POD_UID',
  /** Base URL of the webhook service: the sidecar calls `${serviceUrl}/evict`. */
  serviceUrl: 'VAULT_COURIER_SERVICE_URL',
  /** PEM text of the CA that signs the webhook's certificate. */
  serviceCaPem: 'VAULT_COURIER_SERVICE_CACERT_PEM',
  /** Kind of the pod's controller owner ('' when none). */
  ownerKind: 'VAULT_COURIER_OWNER_KIND',
  /** 'true' or 'false': whether the sidecar may ask for eviction (decideRotation in rotation-policy.ts, at admission). */
  rotate: 'VAULT_COURIER_ROTATE',
  /** Why the webhook decided so, for the sidecar's log; absent in pods injected before it was written. */
  rotateReason: 'VAULT_COURIER_ROTATE_REASON',
  /** The pod's terminationGracePeriodSeconds. */
  gracePeriodSeconds: 'VAULT_COURIER_GRACE_PERIOD_SECONDS',
  /** Optional, default 120: how long the init container retries an unreachable, sealed or failing Vault. */
  initDeadlineSeconds: 'VAULT_COURIER_INIT_DEADLINE_SECONDS',
} as const;
