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
export { SETUP_COMMAND, type Binaries } from './binaries.ts';
export * from './runner/index.ts';
