/** The webhook configuration the golden AdmissionReviews in test/fixtures/admission were rendered with. */
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
