/**
 * The webhook's TLS for installs that do not let Helm make it: a CA and the serving
 * certificate for `<service>.<namespace>.svc`, written as the files a cluster needs (a
 * kubernetes.io/tls Secret with ca.crt, the MutatingWebhookConfiguration's caBundle, and
 * the chart values of its `certificates.source: secret` mode).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { closest } from '@vault-courier/core/support/did-you-mean';
import { CourierError } from '@vault-courier/core/support/errors';
import { createCa, issueLeaf, loadCa, validityFrom, type KeyPairPem } from './x509.ts';

export const DEFAULT_DAYS = 365;
export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_OUT = 'certs/out';

/** The files written, by role; the names are what the chart and the docs refer to. */
export const OUTPUT_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'tls.crt',
  key: 'tls.key',
  secret: 'secret.yaml',
  caBundle: 'ca-bundle.b64',
  helmValues: 'values-secret.yaml',
} as const;

/** Files that hold a private key: readable by their owner only. */
const PRIVATE: ReadonlySet<string> = new Set([OUTPUT_FILES.caKey, OUTPUT_FILES.key, OUTPUT_FILES.secret]);

export interface IssueOptions {
  /** The webhook's Service name; with the chart, its full name (the release name when that contains "vault-courier"). */
  readonly service: string;
  readonly namespace: string;
  /** Validity of the serving certificate. */
  readonly days: number;
  /** Validity of a new CA; unused with `caDir`. */
  readonly caDays: number;
  readonly out: string;
  readonly secretName: string;
  /** A directory holding the ca.crt and ca.key of an earlier run: renew the serving certificate under the same CA. */
  readonly caDir?: string;
}

export const USAGE = `Usage: npm run certs -- --service <name> --namespace <ns> [options]
       node certs/issue.ts --service <name> --namespace <ns> [options]

Issues a CA and the webhook's serving certificate for <name>.<ns>.svc and writes, into
a new directory: ca.crt, ca.key, tls.crt, tls.key, secret.yaml (a kubernetes.io/tls
Secret with tls.crt, tls.key and ca.crt), ca-bundle.b64 (the caBundle) and
values-secret.yaml (the chart's certificates.* values for that Secret).

  --service <name>       the webhook's Service (a DNS label); required
  --namespace <ns>       its namespace (a DNS label); required
  --days <n>             validity of the serving certificate in days (default ${DEFAULT_DAYS})
  --ca-days <n>          validity of a new CA in days (default ${DEFAULT_CA_DAYS}); must exceed --days
  --ca <dir>             reuse the CA in <dir> (ca.crt, ca.key of an earlier run): renews
                         the serving certificate and keeps the caBundle
  --secret-name <name>   name of the Secret (default <service>-tls)
  --out <dir>            where to write; must not exist or be empty (default: ${DEFAULT_OUT}
                         of this repository, git-ignored)
  --help                 this text
`;

const FLAGS = ['--service', '--namespace', '--days', '--ca-days', '--ca', '--secret-name', '--out', '--help'] as const;
type Flag = (typeof FLAGS)[number];

export type ParsedArgs = { readonly kind: 'help' } | { readonly kind: 'options'; readonly options: IssueOptions } | { readonly kind: 'errors'; readonly errors: readonly string[] };

// A Service name is an RFC 1035 label (it starts with a letter); a namespace an RFC 1123 label.
const RFC1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const RFC1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

interface Token {
  /** '' for a word where a flag belongs. */
  readonly name: string;
  readonly value: string | undefined;
}

/** `--flag value` and `--flag=value` as (name, value); a flag followed by another flag has no value. */
function tokenize(argv: readonly string[]): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    if (!arg.startsWith('-')) tokens.push({ name: '', value: arg });
    else if (eq > 0) tokens.push({ name: arg.slice(0, eq), value: arg.slice(eq + 1) });
    else {
      const next = argv[i + 1];
      const value = arg !== '--help' && next !== undefined && !next.startsWith('--') ? next : undefined;
      tokens.push({ name: arg, value });
      if (value !== undefined) i++;
    }
  }
  return tokens;
}

const isFlag = (name: string): name is Flag => (FLAGS as readonly string[]).includes(name);

function tokenProblem(token: Token, seen: ReadonlyMap<Flag, string | undefined>): string | undefined {
  if (token.name === '') return `unexpected argument ${JSON.stringify(token.value)}: every value follows its flag (--flag value)`;
  if (!isFlag(token.name)) return `unknown flag ${token.name}; did you mean ${closest(token.name, FLAGS)}?`;
  if (token.name === '--help') return undefined;
  if (token.value === undefined) return `${token.name} needs a value, e.g. ${token.name} ${example(token.name)}`;
  return seen.has(token.name) ? `${token.name} is given twice; give it once` : undefined;
}

/** Flag -> value; a flag given without its value maps to undefined (already reported). */
function collectFlags(argv: readonly string[], errors: string[]): Map<Flag, string | undefined> {
  const values = new Map<Flag, string | undefined>();
  for (const token of tokenize(argv)) {
    const problem = tokenProblem(token, values);
    if (problem !== undefined) errors.push(problem);
    if (isFlag(token.name) && !values.has(token.name)) values.set(token.name, token.value);
  }
  return values;
}

function example(flag: Flag): string {
  const examples: Record<Flag, string> = { '--service': 'vault-courier', '--namespace': 'vault-courier', '--days': String(DEFAULT_DAYS), '--ca-days': String(DEFAULT_CA_DAYS), '--ca': 'certs/out', '--secret-name': 'vault-courier-tls', '--out': DEFAULT_OUT, '--help': '' };
  return examples[flag];
}

function label(flag: Flag, values: ReadonlyMap<Flag, string | undefined>, pattern: RegExp, errors: string[], what: string): string {
  const value = values.get(flag);
  if (value === undefined) {
    if (!values.has(flag)) errors.push(`${flag} is required: ${what}, e.g. ${flag} ${example(flag)}`);
    return '';
  }
  if (value.length > 63 || !pattern.test(value)) {
    const start = pattern === RFC1035_LABEL ? 'a letter' : 'a letter or digit';
    errors.push(`${flag} ${JSON.stringify(value)} is not a DNS label: use lowercase letters, digits and "-", starting with ${start}, ending with a letter or digit, at most 63 characters (e.g. ${example(flag)})`);
  }
  return value;
}

function positiveDays(flag: Flag, value: string | undefined, fallback: number, errors: string[]): number {
  if (value === undefined) return fallback;
  if (!/^[1-9][0-9]{0,5}$/.test(value)) {
    errors.push(`${flag} ${JSON.stringify(value)} is not a positive whole number of days: give e.g. ${flag} ${example(flag)}`);
    return fallback;
  }
  return Number(value);
}

function validity(values: ReadonlyMap<Flag, string | undefined>, errors: string[]): Pick<IssueOptions, 'days' | 'caDays' | 'caDir'> {
  const days = positiveDays('--days', values.get('--days'), DEFAULT_DAYS, errors);
  const caDays = positiveDays('--ca-days', values.get('--ca-days'), DEFAULT_CA_DAYS, errors);
  const caDir = values.get('--ca');
  if (caDir === '') errors.push('--ca must name the directory of an earlier run, e.g. --ca certs/out');
  if (caDir !== undefined && values.has('--ca-days')) errors.push('--ca-days has no effect with --ca (the CA exists already); drop one of them');
  if (caDir === undefined && caDays <= days) errors.push(`--ca-days (${caDays}) must exceed --days (${days}): a certificate must not outlive its CA`);
  return { days, caDays, ...(caDir === undefined ? {} : { caDir }) };
}

function destination(values: ReadonlyMap<Flag, string | undefined>, service: string, errors: string[]): Pick<IssueOptions, 'out' | 'secretName'> {
  const secretName = values.get('--secret-name') ?? `${service}-tls`;
  // The default derives from --service: its error already says what to fix.
  if (values.has('--secret-name') && (secretName.length > 253 || !RFC1123_SUBDOMAIN.test(secretName))) {
    errors.push(`--secret-name ${JSON.stringify(secretName)} is not a valid Secret name: use lowercase letters, digits, "-" and "." (e.g. ${example('--secret-name')})`);
  }
  const out = values.get('--out') ?? DEFAULT_OUT;
  if (out === '') errors.push(`--out must name a directory, e.g. --out ${DEFAULT_OUT}`);
  return { out, secretName };
}

/** Every problem at once, each naming its flag and the fix. */
export function parseIssueArgs(argv: readonly string[]): ParsedArgs {
  const errors: string[] = [];
  const values = collectFlags(argv, errors);
  if (values.has('--help') && errors.length === 0) return { kind: 'help' };
  const service = label('--service', values, RFC1035_LABEL, errors, "the webhook's Service name");
  const namespace = label('--namespace', values, RFC1123_LABEL, errors, "the webhook's namespace");
  const options: IssueOptions = { service, namespace, ...validity(values, errors), ...destination(values, service, errors) };
  return errors.length > 0 ? { kind: 'errors', errors } : { kind: 'options', options };
}

/** The names a client may use for the Service: the API server uses the first, pods in the namespace may use the short ones. */
export function webhookDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service];
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const withNewline = (pem: string) => (pem.endsWith('\n') ? pem : `${pem}\n`);

/** JSON strings are YAML flow scalars, so every value is quoted the same safe way. */
export function secretManifest(options: Pick<IssueOptions, 'secretName' | 'namespace'>, pems: { readonly caPem: string; readonly certPem: string; readonly keyPem: string }): string {
  const q = JSON.stringify;
  return [
    '# The vault-courier webhook serving certificate. Holds a private key: keep this file to',
    '# yourself, apply it with kubectl apply -f, then delete it or store it encrypted.',
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${q(options.secretName)}`,
    `  namespace: ${q(options.namespace)}`,
    '  labels:',
    '    app.kubernetes.io/part-of: vault-courier',
    'type: kubernetes.io/tls',
    'data:',
    `  tls.crt: ${q(b64(pems.certPem))}`,
    `  tls.key: ${q(b64(pems.keyPem))}`,
    `  ca.crt: ${q(b64(pems.caPem))}`,
    '',
  ].join('\n');
}

export function helmValues(options: Pick<IssueOptions, 'secretName'>, caBundle: string): string {
  const q = JSON.stringify;
  return ['# helm install ... -f this file: the chart reads the webhook certificate from the Secret.', 'certificates:', '  source: secret', `  secretName: ${q(options.secretName)}`, `  caBundle: ${q(caBundle)}`, ''].join('\n');
}

export interface WebhookCertificateFiles {
  readonly ca: KeyPairPem;
  readonly serving: KeyPairPem;
  /** base64 of ca.crt: the MutatingWebhookConfiguration's clientConfig.caBundle. */
  readonly caBundle: string;
  readonly notAfter: Date;
  readonly caNotAfter: Date;
  /** File name -> content, as written into the output directory. */
  readonly files: ReadonlyMap<string, string>;
}

async function readCaDir(dir: string): Promise<KeyPairPem> {
  try {
    const [certPem, keyPem] = await Promise.all([readFile(join(dir, OUTPUT_FILES.caCert), 'utf8'), readFile(join(dir, OUTPUT_FILES.caKey), 'utf8')]);
    return { certPem, keyPem };
  } catch (cause) {
    throw new CourierError('config', `--ca ${dir}: cannot read ${OUTPUT_FILES.caCert} and ${OUTPUT_FILES.caKey} there (${(cause as NodeJS.ErrnoException).code ?? 'error'}); give the --out directory of an earlier run`, { cause });
  }
}

/** The certificates and every file's content, in memory: nothing is written. */
export async function createWebhookCertificates(options: IssueOptions, now = new Date()): Promise<WebhookCertificateFiles> {
  const caPem = options.caDir === undefined ? await createCa({ commonName: `${options.service}.${options.namespace} webhook CA`, ...validityFrom(now, options.caDays) }) : await readCaDir(options.caDir);
  const ca = (() => {
    try {
      return loadCa(caPem);
    } catch (err) {
      throw new CourierError('config', `--ca ${options.caDir ?? ''}: ${(err as Error).message}`, { cause: err });
    }
  })();
  const validity = validityFrom(now, options.days);
  if (validity.notAfter > ca.cert.notAfter) {
    throw new CourierError('config', `--days ${options.days}: the certificate would outlive the CA in ${options.caDir ?? ''} (valid until ${ca.cert.notAfter.toISOString()}); lower --days or issue a new CA (drop --ca)`);
  }
  const dnsNames = webhookDnsNames(options.service, options.namespace);
  const serving = await issueLeaf(ca, { commonName: dnsNames[0] ?? options.service, dnsNames, usage: 'server', ...validity });
  const caCert = withNewline(caPem.certPem);
  const caBundle = b64(caCert);
  const files = new Map<string, string>([
    [OUTPUT_FILES.caCert, caCert],
    [OUTPUT_FILES.caKey, withNewline(caPem.keyPem)],
    [OUTPUT_FILES.cert, withNewline(serving.certPem)],
    [OUTPUT_FILES.key, withNewline(serving.keyPem)],
    [OUTPUT_FILES.secret, secretManifest(options, { caPem: caCert, certPem: withNewline(serving.certPem), keyPem: withNewline(serving.keyPem) })],
    [OUTPUT_FILES.caBundle, `${caBundle}\n`],
    [OUTPUT_FILES.helmValues, helmValues(options, caBundle)],
  ]);
  return { ca: caPem, serving, caBundle, notAfter: validity.notAfter, caNotAfter: new X509Certificate(caCert).validToDate, files };
}

async function assertUsableOut(out: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new CourierError('config', `--out ${out} is a file; give a directory that does not exist yet`);
    throw new CourierError('io', `--out ${out} cannot be read (${code ?? 'error'})`, { cause: err });
  }
  if (entries.length > 0) {
    throw new CourierError('config', `--out ${out} exists and holds files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); give a new directory, e.g. --out ${out}-${new Date().toISOString().slice(0, 10)}, or move the old one away`);
  }
}

/**
 * Issues the certificates and writes every file into `options.out`, all or nothing: the
 * files go to a private temporary directory beside it, which is renamed into place.
 */
export async function issueWebhookCertificates(options: IssueOptions, now = new Date()): Promise<WebhookCertificateFiles & { readonly out: string }> {
  await assertUsableOut(options.out);
  const issued = await createWebhookCertificates(options, now);
  const staging = await mkdtemp(join(dirname(options.out), `.${basename(options.out)}-`)).catch((cause: NodeJS.ErrnoException) => {
    throw new CourierError('config', `--out ${options.out}: cannot create a directory beside it (${cause.code ?? 'error'}); create ${dirname(options.out)} first or choose another --out`, { cause });
  });
  try {
    for (const [name, content] of issued.files) await writeFile(join(staging, name), content, { mode: PRIVATE.has(name) ? 0o600 : 0o644, flag: 'wx' });
    await rmdir(options.out).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rename(staging, options.out);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (err instanceof CourierError) throw err;
    throw new CourierError('io', `--out ${options.out}: writing the files failed (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was written there`, { cause: err });
  }
  return { ...issued, out: options.out };
}
