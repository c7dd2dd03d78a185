/**
 * `npm run certs -- --service vault-courier --namespace vault-courier`: the webhook's TLS
 * for installs where Helm does not make it. The work is issueWebhookCertificates(); this
 * file only reads the arguments and prints what to do next. certs/README.md explains it.
 */
import { join, relative, resolve } from 'node:path';
import { isCourierError } from '@vault-courier/core/support/errors';
import { issueWebhookCertificates, OUTPUT_FILES, parseIssueArgs, USAGE } from './src/webhook-certificates.ts';

export { createWebhookCertificates, issueWebhookCertificates, parseIssueArgs, webhookDnsNames, OUTPUT_FILES, type IssueOptions, type WebhookCertificateFiles } from './src/webhook-certificates.ts';

export async function main(argv: readonly string[], cwd: string): Promise<number> {
  const parsed = parseIssueArgs(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.kind === 'errors') {
    for (const error of parsed.errors) console.error(`certs: ${error}`);
    console.error('certs: run with --help for the usage');
    return 2;
  }
  // The default is certs/out of this repository wherever the command runs, so it stays git-ignored.
  const outGiven = argv.some((arg) => arg === '--out' || arg.startsWith('--out='));
  const out = outGiven ? resolve(cwd, parsed.options.out) : join(import.meta.dirname, 'out');
  const options = { ...parsed.options, out, ...(parsed.options.caDir === undefined ? {} : { caDir: resolve(cwd, parsed.options.caDir) }) };
  try {
    const issued = await issueWebhookCertificates(options);
    const shown = outGiven ? parsed.options.out : relative(cwd, out);
    const file = (name: string) => join(shown, name);
    process.stdout.write(
      [
        `Wrote ${Object.values(OUTPUT_FILES).join(', ')} to ${options.out}`,
        `serving certificate for ${options.service}.${options.namespace}.svc valid until ${issued.notAfter.toISOString()}; CA until ${issued.caNotAfter.toISOString()}`,
        '',
        'Next:',
        `  kubectl apply -f ${file(OUTPUT_FILES.secret)}   # the Secret ${options.secretName} in ${options.namespace}`,
        `  helm install ... -f ${file(OUTPUT_FILES.helmValues)}   # without Helm, the caBundle is in ${file(OUTPUT_FILES.caBundle)}`,
        `Keep ${file(OUTPUT_FILES.caKey)} private: it renews the certificate under the same CA (--ca ${shown}).`,
        '',
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    if (!isCourierError(err)) throw err;
    console.error(`certs: ${err.message}`);
    return 1;
  }
}

if (import.meta.main) {
  // npm runs scripts from the repository root; paths given to `npm run certs` are meant from where the user typed it.
  process.exitCode = await main(process.argv.slice(2), process.env.INIT_CWD ?? process.cwd());
}
