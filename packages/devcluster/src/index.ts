export { startDevCluster, type DevCluster, type DevClusterOptions, type DevClusterVault } from './cluster.ts';
export {
  bindAndMarkReady,
  bindClusterRole,
  createNamespace,
  createServiceAccount,
  DEVCLUSTER_NODE_NAME,
  isApiStatus,
  readyStatus,
  registerNode,
  requestServiceAccountToken,
  waitForServiceAccount,
  type ServiceAccountTokenRequest,
} from './kube.ts';
export { vaultClient, type DatabaseRole, type VaultAdmin, type VaultRole } from './vault.ts';
export { type CertificateFiles, type CertificateRequest } from './pki.ts';
export { ComponentDiedError, type ManagedProcess } from './process.ts';
export { freePort } from './ports.ts';
export { type Outages } from './outages.ts';
export { SETUP_COMMAND, type Binaries } from './binaries.ts';
export { NODE_NAME, type NodeHandle } from './node/cluster-with-node.ts';
export { readPodLogs, type ContainerRef, type PodLogReader } from './node/pod-logs.ts';
export { removeStaleClusters } from './node/footprint.ts';
export { acquireMachineLock, machineLockPath, type MachineLock } from './node/machine-lock.ts';
export { NODE_IP } from './node/netns.ts';
export { ownSignals } from './process.ts';
export { CHART_DIR, helm, installVaultCourier, PROJECT_IMAGES, RELEASE_NAME, RESTRICTED, WEBHOOK_NAMESPACE, type HelmContext } from './node/helm.ts';
export {
  APP_UID,
  demoAnnotations,
  demoAppContainer,
  isEvicted,
  prepareCluster,
  restrictedContainer,
  runLoop,
  startLoop,
  type DemoRun,
  type Loop,
  type LoopOptions,
} from './demo/loop.ts';
export { apiServerCaPem, embeddedTarget, type DemoTarget, type Endpoint } from './demo/target.ts';
