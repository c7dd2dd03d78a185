/**
 * charts/vault-courier through the real helm (built into the cache by scripts/setup.sh):
 * lint, the rendered objects of each certificate mode read as data and held to the code
 * (core's MutatingWebhookConfiguration, the webhook's parseConfig, the injected
 * containers), and the refusals, asserted on helm's own schema messages and the chart's.
 * helm runs with HOME, XDG and HELM_* directories in a temporary directory: nothing is
 * left in ~.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { loadAllYaml } from '@kubernetes/client-node';
import { buildMutatingWebhookConfiguration, buildValidatingWebhookConfiguration, CONFIG_ENV, mutatePod, parseAnnotations, parseConfig, type InjectionConfig } from '@vault-courier/core';
import { issueWebhookCertificates, OUTPUT_FILES } from '../../certs/issue.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHART = path.join(ROOT, 'charts/vault-courier');
const RELEASE = 'vault-courier';
const NAMESPACE = 'security';
const VAULT = ['--set', 'vault.addr=https://vault.vault.svc:8200'];
const APP_VERSION = /^appVersion: "(.+)"$/m.exec(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8'))?.[1] ?? 'no appVersion in Chart.yaml';

/** Where scripts/build-real-parts.sh puts helm: <cache>/helm-<HELM_VERSION>/helm (the packages/devcluster/src/binaries.ts layout). */
function helmBinary(): string {
  const versions = readFileSync(path.join(ROOT, 'scripts/real-parts/versions.env'), 'utf8');
  const version = /^HELM_VERSION=(\S+)$/m.exec(versions)?.[1];
  if (version === undefined) throw new Error('scripts/real-parts/versions.env has no HELM_VERSION; restore it from git');
  const cache = process.env.VAULT_COURIER_CACHE ?? path.join(homedir(), '.cache', 'vault-courier');
  return path.join(cache, `helm-${version}`, 'helm');
}

const HELM = helmBinary();
const missing = (() => {
  try {
    accessSync(HELM, constants.X_OK);
    return false;
  } catch {
    return `helm is not built: no executable at ${HELM}; build it with bash scripts/setup.sh`;
  }
})();
if (missing) console.log(`# skipping the helm chart tests: ${missing}`);

let home: string;
before(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'vault-courier-helm-'));
});
after(() => rm(home, { recursive: true, force: true }));

interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function helm(args: readonly string[]): Promise<HelmResult> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CACHE_HOME: path.join(home, 'cache'),
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_DATA_HOME: path.join(home, 'data'),
    HELM_CACHE_HOME: path.join(home, 'helm-cache'),
    HELM_CONFIG_HOME: path.join(home, 'helm-config'),
    HELM_DATA_HOME: path.join(home, 'helm-data'),
    // No cluster is consulted: template and lint render offline.
    KUBECONFIG: path.join(home, 'no-kubeconfig'),
  };
  try {
    const { stdout, stderr } = await promisify(execFile)(HELM, [...args], { env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [field: string]: unknown;
}

async function template(args: readonly string[], chart = CHART): Promise<Manifest[]> {
  const result = await helm(['template', RELEASE, chart, '--namespace', NAMESPACE, ...args]);
  assert.equal(result.code, 0, `helm template failed: ${result.stderr}`);
  return (loadAllYaml(result.stdout) as unknown[]).filter((doc) => doc !== null).map((doc) => JSON.parse(JSON.stringify(doc)) as Manifest);
}

async function refused(args: readonly string[]): Promise<string> {
  const result = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...args]);
  assert.notEqual(result.code, 0, `helm template accepted ${args.join(' ')}`);
  return result.stderr;
}

function one(manifests: readonly Manifest[], kind: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

interface Container {
  name: string;
  image: string;
  imagePullPolicy: string;
  env: { name: string; value?: string }[];
}
interface DeploymentSpec {
  spec: { template: { spec: { containers: Container[]; volumes: { name: string; secret?: { secretName: string } }[] } } };
}
interface WebhookSpec {
  webhooks: { clientConfig: { caBundle?: string } }[];
}

const webhookContainer = (manifests: readonly Manifest[]) => (one(manifests, 'Deployment') as unknown as DeploymentSpec).spec.template.spec.containers[0]!;
const deploymentEnv = (manifests: readonly Manifest[]) => Object.fromEntries(webhookContainer(manifests).env.map((e) => [e.name, e.value ?? '']));
const tlsVolume = (manifests: readonly Manifest[]) => (one(manifests, 'Deployment') as unknown as DeploymentSpec).spec.template.spec.volumes.find((v) => v.name === 'tls')?.secret?.secretName;
const caBundleOf = (manifests: readonly Manifest[]) => (one(manifests, 'MutatingWebhookConfiguration') as unknown as WebhookSpec).webhooks[0]?.clientConfig.caBundle;
const kinds = (manifests: readonly Manifest[]) => manifests.map((m) => m.kind).sort();

/** The Mutating- and ValidatingWebhookConfiguration helm rendered are the ones core builds for the same Service and CA. */
function assertCoreWebhooks(manifests: readonly Manifest[], caBundle: string | undefined): void {
  const options = { caBundle: caBundle ?? '', namespace: NAMESPACE, service: { name: RELEASE, namespace: NAMESPACE } };
  for (const [kind, built] of [['MutatingWebhookConfiguration', buildMutatingWebhookConfiguration(options)], ['ValidatingWebhookConfiguration', buildValidatingWebhookConfiguration(options)]] as const) {
    const expected = JSON.parse(JSON.stringify(built.webhooks)) as WebhookSpec['webhooks'];
    if (caBundle === undefined) for (const webhook of expected) delete webhook.clientConfig.caBundle;
    assert.deepEqual((one(manifests, kind) as unknown as WebhookSpec).webhooks, expected, kind);
  }
}

const COMMON_KINDS = ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'MutatingWebhookConfiguration', 'PodDisruptionBudget', 'Service', 'ServiceAccount', 'ValidatingWebhookConfiguration'];

test('helm lint passes, bare and --strict with each certificate mode', { skip: missing }, async () => {
  const bare = await helm(['lint', CHART]);
  assert.equal(bare.code, 0, bare.stdout + bare.stderr);
  assert.match(bare.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  for (const mode of [[], ['--set', 'certificates.source=cert-manager']]) {
    const strict = await helm(['lint', '--strict', CHART, ...VAULT, ...mode]);
    assert.equal(strict.code, 0, strict.stdout + strict.stderr);
  }
});

test('default values: a generated CA and serving pair in the Secret, the same CA in the caBundle, the webhooks core builds', { skip: missing }, async () => {
  const manifests = await template(VAULT);
  assert.deepEqual(kinds(manifests), [...COMMON_KINDS, 'Secret'].sort());
  const secret = one(manifests, 'Secret') as Manifest & { type: string; data: Record<string, string> };
  assert.equal(secret.metadata.name, `${RELEASE}-tls`);
  assert.equal(secret.type, 'kubernetes.io/tls');
  assert.deepEqual(Object.keys(secret.data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  assert.equal(tlsVolume(manifests), `${RELEASE}-tls`);
  assert.equal(caBundleOf(manifests), secret.data['ca.crt']);
  assertCoreWebhooks(manifests, secret.data['ca.crt']);

  const pem = (key: string) => Buffer.from(secret.data[key] ?? '', 'base64').toString('utf8');
  const ca = new X509Certificate(pem('ca.crt'));
  const leaf = new X509Certificate(pem('tls.crt'));
  assert.ok(leaf.verify(ca.publicKey), 'the serving certificate is signed by the CA in the caBundle');
  assert.equal(leaf.subjectAltName, `DNS:${RELEASE}.${NAMESPACE}.svc, DNS:${RELEASE}.${NAMESPACE}.svc.cluster.local, DNS:${RELEASE}.${NAMESPACE}, DNS:${RELEASE}`);
});

test('default values: the Deployment environment is a configuration the webhook parses, images from the appVersion', { skip: missing }, async () => {
  const manifests = await template([...VAULT, '--set', 'vault.defaultRole=app', '--set', 'vault.defaultNamespace=org/team-a']);
  const env = deploymentEnv(manifests);
  const config = parseConfig(env);
  assert.equal(config.vaultAddr, 'https://vault.vault.svc:8200');
  assert.equal(config.defaultRole, 'app');
  assert.equal(config.defaultVaultNamespace, 'org/team-a');
  assert.equal(config.serviceUrl, `https://${RELEASE}.${NAMESPACE}.svc`);
  assert.equal(config.tlsCertFile, '/etc/vault-courier/tls/tls.crt');
  assert.equal(config.serviceCaCertFile, '/etc/vault-courier/tls/ca.crt');
  assert.equal(env[CONFIG_ENV.initImage], `ghcr.io/vault-courier/init:${APP_VERSION}`);
  assert.equal(env[CONFIG_ENV.sidecarImage], `ghcr.io/vault-courier/sidecar:${APP_VERSION}`);
  assert.equal(webhookContainer(manifests).image, `ghcr.io/vault-courier/webhook:${APP_VERSION}`);
  assert.equal(webhookContainer(manifests).imagePullPolicy, 'IfNotPresent');
});

test('cert-manager values: issuers and certificates, no Secret from the chart, the caBundle left to the cainjector', { skip: missing }, async () => {
  const manifests = await template([...VAULT, '--set', 'certificates.source=cert-manager']);
  assert.deepEqual(kinds(manifests), [...COMMON_KINDS, 'Certificate', 'Certificate', 'Issuer', 'Issuer'].sort());
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) assert.equal(one(manifests, kind).metadata.annotations?.['cert-manager.io/inject-ca-from'], `${NAMESPACE}/${RELEASE}`, kind);
  assert.equal(caBundleOf(manifests), undefined);
  assertCoreWebhooks(manifests, undefined);
  const serving = manifests.find((m) => m.kind === 'Certificate' && m.metadata.name === RELEASE) as Manifest & { spec: { secretName: string; dnsNames: string[] } };
  assert.equal(serving.spec.secretName, tlsVolume(manifests));
  assert.deepEqual(serving.spec.dnsNames, [`${RELEASE}.${NAMESPACE}.svc`, `${RELEASE}.${NAMESPACE}.svc.cluster.local`, `${RELEASE}.${NAMESPACE}`, RELEASE]);
});

test('secret values, as certs/issue.ts writes them: the chart mounts that Secret and puts its CA in the caBundle', { skip: missing }, async () => {
  const out = path.join(home, 'certs-out');
  await issueWebhookCertificates({ service: RELEASE, namespace: NAMESPACE, days: 30, caDays: 60, out, secretName: 'webhook-serving' });
  const manifests = await template([...VAULT, '-f', path.join(out, OUTPUT_FILES.helmValues)]);
  assert.deepEqual(kinds(manifests), COMMON_KINDS, 'no Secret and no cert-manager object: the Secret is the user\'s');
  const [secret] = loadAllYaml(await readFile(path.join(out, OUTPUT_FILES.secret), 'utf8')) as Manifest[];
  assert.equal(tlsVolume(manifests), secret?.metadata.name);
  assert.equal(tlsVolume(manifests), 'webhook-serving');
  assert.equal(caBundleOf(manifests), (await readFile(path.join(out, OUTPUT_FILES.caBundle), 'utf8')).trim());
  assertCoreWebhooks(manifests, caBundleOf(manifests));
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) assert.equal(one(manifests, kind).metadata.annotations, undefined, `no cainjector annotation on the ${kind}`);

  const defaultName = await template([...VAULT, '--set', 'certificates.source=secret', '--set', `certificates.caBundle=${caBundleOf(manifests)}`]);
  assert.equal(tlsVolume(defaultName), `${RELEASE}-tls`, 'secretName "" means <fullname>-tls, the default of npm run certs');
});

test('locally imported images render exactly as given; the injected containers keep an explicit IfNotPresent', { skip: missing }, async () => {
  const images = ['image.repository=vault-courier/webhook', 'image.tag=dev', 'image.pullPolicy=Never', 'initImage.repository=vault-courier/init', 'initImage.tag=dev', 'sidecarImage.repository=vault-courier/sidecar', 'sidecarImage.tag=dev'];
  const manifests = await template([...VAULT, ...images.flatMap((value) => ['--set', value])]);
  assert.equal(webhookContainer(manifests).image, 'vault-courier/webhook:dev');
  assert.equal(webhookContainer(manifests).imagePullPolicy, 'Never');
  const env = deploymentEnv(manifests);
  assert.equal(env[CONFIG_ENV.initImage], 'vault-courier/init:dev');
  assert.equal(env[CONFIG_ENV.sidecarImage], 'vault-courier/sidecar:dev');

  // What the webhook configured this way writes into a pod.
  const config = parseConfig(env);
  const injection: InjectionConfig = { ...config, vaultCaPem: undefined, serviceCaPem: undefined };
  const annotations = { 'vault-courier.io/secret-db': 'database/creds/app', 'vault-courier.io/role': 'app' };
  const parsed = parseAnnotations(annotations, { containerNames: ['app'], defaultRole: config.defaultRole });
  assert.ok(parsed.ok);
  const pod = mutatePod({ metadata: { name: 'p', namespace: 'shop', annotations }, spec: { containers: [{ name: 'app', image: 'app:1' }] } }, parsed.spec, injection);
  const injected = (pod.spec?.initContainers ?? []).map((c) => ({ name: c.name, image: c.image, imagePullPolicy: c.imagePullPolicy }));
  assert.deepEqual(injected, [
    { name: 'vault-courier-init', image: 'vault-courier/init:dev', imagePullPolicy: 'IfNotPresent' },
    { name: 'vault-courier-sidecar', image: 'vault-courier/sidecar:dev', imagePullPolicy: 'IfNotPresent' },
  ]);

  const digest = `sha256:${'a'.repeat(64)}`;
  const pinned = await template([...VAULT, '--set', `image.tag=${digest}`, '--set', 'initImage.repository=registry.example:5000/vault-courier/init']);
  assert.equal(webhookContainer(pinned).image, `ghcr.io/vault-courier/webhook@${digest}`);
  assert.equal(deploymentEnv(pinned)[CONFIG_ENV.initImage], `registry.example:5000/vault-courier/init:${APP_VERSION}`);
});

const SCHEMA_REFUSAL = /values don't meet the specifications of the schema\(s\) in the following chart\(s\):\nvault-courier:\n/;

const schemaCases: { name: string; args: string[]; message: RegExp }[] = [
  { name: 'replicaCount=two', args: ['--set', 'replicaCount=two'], message: /- at '\/replicaCount': got string, want integer/ },
  { name: 'an unknown top-level key', args: ['--set', 'replicas=3'], message: /- at '': additional properties 'replicas' not allowed/ },
  { name: 'certificates.source=nope', args: ['--set', 'certificates.source=nope'], message: /- at '\/certificates\/source': value must be one of 'generate', 'cert-manager', 'secret'/ },
  { name: 'a pull policy for an injected image', args: ['--set', 'initImage.pullPolicy=Never'], message: /- at '\/initImage': additional properties 'pullPolicy' not allowed/ },
  { name: 'a tag inside the repository', args: ['--set', 'image.repository=vault-courier/webhook:dev'], message: /- at '\/image\/repository': 'vault-courier\/webhook:dev' does not match pattern/ },
  { name: 'an invalid Secret name', args: ['--set', 'certificates.secretName=My_Secret'], message: /- at '\/certificates\/secretName': 'My_Secret' does not match pattern/ },
  { name: 'the secret mode with caBundle removed', args: ['--set', 'certificates.source=secret', '--set', 'certificates.caBundle=null'], message: /- at '\/certificates': missing property 'caBundle'/ },
];

for (const c of schemaCases) {
  test(`helm refuses ${c.name} with its schema message`, { skip: missing }, async () => {
    const stderr = await refused([...VAULT, ...c.args]);
    assert.match(stderr, SCHEMA_REFUSAL);
    assert.match(stderr, c.message);
  });
}

const chartCases: { name: string; args: string[]; message: RegExp }[] = [
  {
    name: 'the secret mode without caBundle',
    args: ['--set', 'certificates.source=secret'],
    message: /certificates\.caBundle is required with certificates\.source=secret: .*`npm run certs -- --service vault-courier --namespace security` writes it to certs\/out\/ca-bundle\.b64/,
  },
  { name: 'a caBundle that is PEM, not base64', args: ['--set', 'certificates.source=secret', '--set', 'certificates.caBundle=-----BEGIN CERTIFICATE-----'], message: /certificates\.caBundle is not the base64 of a PEM certificate/ },
  { name: 'a caBundle that is base64 of something else', args: ['--set', 'certificates.source=secret', '--set', `certificates.caBundle=${Buffer.from('hello').toString('base64')}`], message: /certificates\.caBundle is not the base64 of a PEM certificate/ },
  { name: 'a caBundle in the generate mode', args: ['--set', 'certificates.caBundle=Q0E='], message: /certificates\.caBundle is used only with certificates\.source=secret \(source is generate\)/ },
  { name: 'a secretName in the cert-manager mode', args: ['--set', 'certificates.source=cert-manager', '--set', 'certificates.secretName=tls'], message: /certificates\.secretName is used only with certificates\.source=secret \(source is cert-manager\)/ },
];

for (const c of chartCases) {
  test(`the chart refuses ${c.name}, naming the value and the fix`, { skip: missing }, async () => {
    const stderr = await refused([...VAULT, ...c.args]);
    assert.match(stderr, /execution error at \(vault-courier\/templates\//);
    assert.match(stderr, c.message);
  });
}

test('the chart refuses a missing vault.addr, naming it', { skip: missing }, async () => {
  assert.match(await refused([]), /vault\.addr is required: how the injected containers reach Vault/);
});

/**
 * helm template never renders NOTES.txt, so a copy of the chart renders it through tpl in
 * a template of its own: the same text, values and helpers.
 */
async function notes(args: readonly string[]): Promise<string> {
  const copy = path.join(await mkdtemp(path.join(home, 'chart-')), 'vault-courier');
  await cp(CHART, copy, { recursive: true });
  await cp(path.join(copy, 'templates/NOTES.txt'), path.join(copy, 'NOTES.txt'));
  await writeFile(path.join(copy, 'templates/notes-as-yaml.yaml'), 'notes: |\n{{ tpl (.Files.Get "NOTES.txt") . | indent 2 }}\n');
  const result = await helm(['template', RELEASE, copy, '--namespace', NAMESPACE, '--show-only', 'templates/notes-as-yaml.yaml', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return (loadAllYaml(result.stdout)[0] as { notes: string }).notes;
}

test('NOTES.txt: the namespace, the opt-in, the pod annotations, vault-courier status, and what each certificate mode asks of the user', { skip: missing }, async () => {
  const generated = await notes([...VAULT, '--set', 'vault.defaultRole=app']);
  assert.match(generated, /^vault-courier is installed in namespace security\.\n/);
  assert.match(generated, /kubectl label namespace <ns> vault-courier\.io\/inject=enabled/);
  assert.match(generated, /Vault role \(default: app\)/);
  assert.match(generated, /pod template \(spec\.template\.metadata\.annotations/);
  assert.match(generated, /npx vault-courier status -n <ns> +# -A: every namespace; -o json/);
  assert.doesNotMatch(generated, /Secret|cert-manager/);
  assert.match(await notes(VAULT), /Vault role \(required\)/);

  const certManager = await notes([...VAULT, '--set', 'certificates.source=cert-manager']);
  assert.match(certManager, /cert-manager issues the webhook's certificate into the Secret vault-courier-tls/);

  const secret = await notes([...VAULT, '--set', 'certificates.source=secret', '--set', 'certificates.secretName=webhook-serving', '--set', `certificates.caBundle=${Buffer.from('-----BEGIN CERTIFICATE-----\n').toString('base64')}`]);
  assert.match(secret, /the Secret webhook-serving \(tls\.crt, tls\.key, ca\.crt\),\nwhich this chart does not create/);
  assert.match(secret, /npm run certs -- --service vault-courier --namespace security/);
});
