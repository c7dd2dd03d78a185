import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAbsolutePath, checkAuthPath, checkCaPem, checkImage, checkLogLevel, checkMountPath, checkRole, checkServiceUrl, checkVaultAddr, checkVaultNamespace, checkVaultPath, parseResources, quantityValue } from './validators.ts';

type Row = [input: string, problem: RegExp | undefined];

const TABLES: Record<string, [(text: string) => string | undefined, Row[]]> = {
  checkVaultAddr: [
    checkVaultAddr,
    [
      ['https://vault.vault.svc:8200', undefined],
      ['http://127.0.0.1:8200/prefix/', undefined],
      ['vault:8200', /is not a URL/],
      ['ftp://vault', /got ftp:/],
      ['https://vault:8200?x=1', /query/],
      ['https://vault:8200/#frag', /fragment/],
      ['https://vault:8200/?', /query/],
      ['https://user:pw@vault:8200', /user or password/],
    ],
  ],
  checkVaultNamespace: [
    checkVaultNamespace,
    [
      ['team-a', undefined],
      ['org/team_a.1', undefined],
      ['team-a/', undefined],
      ['/team-a', /not starting with one/],
      ['org//team', /not a Vault namespace path/],
      ['team a', /not a Vault namespace path/],
      ['team\r\nX-Injected: 1', /not a Vault namespace path/],
      ['org/../root', /not a Vault namespace path/],
      ['', /not a Vault namespace path/],
    ],
  ],
  checkServiceUrl: [
    checkServiceUrl,
    [
      ['https://vault-courier.vault-courier.svc:443', undefined],
      ['http://vault-courier.vault-courier.svc', /not an https:\/\/ URL/],
      ['https://vault-courier.vault-courier.svc?x', /query/],
    ],
  ],
  checkAuthPath: [
    checkAuthPath,
    [
      ['auth/kubernetes', undefined],
      ['auth/k8s/cluster-1', undefined],
      ['kubernetes', /did you mean "auth\/kubernetes"\?/],
      ['/auth/kubernetes', /must not start or end with "\/"/],
      ['auth/kubernetes/', /must not start or end with "\/"/],
      ['auth/../sys', /not an auth mount path/],
      ['auth/kube rnetes', /not an auth mount path/],
    ],
  ],
  checkRole: [
    checkRole,
    [
      ['app', undefined],
      ['team.app_1@prod-2', undefined],
      ['my role', /not a Vault role name/],
      ['-app', /not a Vault role name/],
    ],
  ],
  checkVaultPath: [
    checkVaultPath,
    [
      ['secret/data/app', undefined],
      ['database/creds/app', undefined],
      ['', /is empty/],
      ['secret/data/app?version=2', /contains "\?"[\s\S]*write the plain path/],
      ['secret/data/app#x', /contains "#"/],
      ['/secret/data/app', /must not start or end/],
      ['secret//app', /empty, "\." or "\.\." segment/],
      ['secret data', /whitespace/],
    ],
  ],
  checkMountPath: [
    checkMountPath,
    [
      ['/vault/secrets', undefined],
      ['vault/secrets', /absolute path/],
      ['/', /below "\/"/],
      ['/a/../b', /normalized/],
      ['/vault-courier', /overlaps/],
    ],
  ],
  checkAbsolutePath: [
    checkAbsolutePath,
    [
      ['/vault-courier/token/vault', undefined],
      ['token', /absolute path/],
      ['/a//b', /normalized/],
    ],
  ],
  checkImage: [
    checkImage,
    [
      ['ghcr.io/vault-courier/init:0.1.0', undefined],
      ['init:1', undefined],
      ['localhost:5000/vault-courier/init@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', undefined],
      ['registry.example/Team/init:1', /not an image reference/],
      ['init 1', /not an image reference/],
      ['init:', /not an image reference/],
    ],
  ],
  checkCaPem: [
    checkCaPem,
    [
      ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', undefined],
      ['/etc/ca.crt', /must be PEM/],
    ],
  ],
  checkLogLevel: [
    checkLogLevel,
    [
      ['debug', undefined],
      ['verbose', /is not one of fatal, error/],
    ],
  ],
};

for (const [name, [check, rows]] of Object.entries(TABLES)) {
  for (const [input, problem] of rows) {
    test(`${name}(${JSON.stringify(input)}) ${problem === undefined ? 'accepts' : `refuses: ${problem.source}`}`, () => {
      const got = check(input);
      if (problem === undefined) assert.equal(got, undefined);
      else assert.match(got ?? '(accepted)', problem);
    });
  }
}

test('quantityValue', () => {
  const rows: [string, number | undefined][] = [
    ['100m', 0.1],
    ['0.5', 0.5],
    ['64Mi', 64 * 2 ** 20],
    ['1G', 1e9],
    ['1e3', 1000],
    ['2Pi', 2 * 2 ** 50],
    ['lots', undefined],
    ['10 Mi', undefined],
  ];
  for (const [text, want] of rows) assert.equal(quantityValue(text), want, text);
});

test('parseResources: what the API server would refuse in every injected pod is refused', () => {
  const rows: [string, RegExp | undefined][] = [
    ['{"requests":{"cpu":"10m","memory":"64Mi"},"limits":{"memory":"128Mi"}}', undefined],
    ['{"requests":{"memory":"200Mi"},"limits":{"memory":"128Mi"}}', /requests\.memory 200Mi is more than limits\.memory 128Mi/],
    ['{"requests":{"cpu":"lots"}}', /requests\.cpu: "lots" is not a Kubernetes quantity/],
    ['{"requests":{"gpu":"1"}}', /only cpu, memory, ephemeral-storage/],
    ['{"request":{}}', /only "requests" and "limits"/],
    ['[]', /JSON object/],
    ['cpu=1', /must be JSON/],
  ];
  for (const [text, problem] of rows) {
    const parsed = parseResources(text);
    if (problem === undefined) assert.ok('resources' in parsed, text);
    else assert.match('problem' in parsed ? parsed.problem : '(accepted)', problem, text);
  }
});
