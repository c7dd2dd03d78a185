/** Webhook configurations the tests share: the golden reviews' and a minimal one. */
import { DEFAULT_INIT_RESOURCES, DEFAULT_SIDECAR_RESOURCES, type InjectionConfig } from '@vault-courier/core';

export const FIXTURE_CONFIG: InjectionConfig = {
  vaultAddr: 'https://vault.vault.svc:8200',
  vaultCaPem: '-----BEGIN CERTIFICATE-----\nVAULT-CA\n-----END CERTIFICATE-----\n',
  authPath: 'auth/kubernetes',
  defaultRole: 'default',
  initImage: 'ghcr.io/vault-courier/init:0.1.0',
  sidecarImage: 'ghcr.io/vault-courier/sidecar:0.1.0',
  serviceUrl: 'https://vault-courier.vault-courier.svc',
  serviceCaPem: '-----BEGIN CERTIFICATE-----\nSERVICE-CA\n-----END CERTIFICATE-----\n',
  initResources: DEFAULT_INIT_RESOURCES,
  sidecarResources: DEFAULT_SIDECAR_RESOURCES,
};

/** The smallest valid configuration (no CA bundles), for tests that read only images and roles. */
export const MINIMAL_CONFIG: InjectionConfig = {
  vaultAddr: 'https://vault:8200',
  vaultCaPem: undefined,
  authPath: 'auth/kubernetes',
  defaultRole: 'app',
  initImage: 'init:1',
  sidecarImage: 'sidecar:1',
  serviceUrl: 'https://vault-courier.vault-courier.svc',
  serviceCaPem: undefined,
  initResources: DEFAULT_INIT_RESOURCES,
  sidecarResources: DEFAULT_SIDECAR_RESOURCES,
};
