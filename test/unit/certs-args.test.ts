/** The pure parts of certs/issue.ts: its arguments, the names the certificate carries, the key usages. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIssueArgs, webhookDnsNames } from '../../certs/issue.ts';
import { leafKeyUsages, subjectAltNames } from '../../certs/src/x509.ts';

const base = ['--service', 'vault-courier', '--namespace', 'vault-courier'];
const defaults = { service: 'vault-courier', namespace: 'vault-courier', days: 365, caDays: 3650, out: 'certs/out', secretName: 'vault-courier-tls' };

const accepted: { name: string; argv: string[]; options: Record<string, unknown> }[] = [
  { name: 'defaults', argv: base, options: defaults },
  { name: '--flag=value form', argv: ['--service=webhook', '--namespace=sec-1', '--days=30', '--out=/tmp/x'], options: { ...defaults, service: 'webhook', namespace: 'sec-1', days: 30, out: '/tmp/x', secretName: 'webhook-tls' } },
  { name: 'a namespace may start with a digit', argv: ['--service', 'w', '--namespace', '1a'], options: { ...defaults, service: 'w', namespace: '1a', secretName: 'w-tls' } },
  { name: 'renewal under an existing CA', argv: [...base, '--ca', 'certs/out', '--out', 'certs/out-2', '--days', '90'], options: { ...defaults, caDir: 'certs/out', out: 'certs/out-2', days: 90 } },
  { name: 'own Secret name and CA validity', argv: [...base, '--secret-name', 'webhook.tls', '--ca-days', '400', '--days', '399'], options: { ...defaults, secretName: 'webhook.tls', caDays: 400, days: 399 } },
  { name: 'a 63-character service name', argv: ['--service', `a${'b'.repeat(62)}`, '--namespace', 'n'], options: { ...defaults, service: `a${'b'.repeat(62)}`, namespace: 'n', secretName: `a${'b'.repeat(62)}-tls` } },
];

for (const c of accepted) {
  test(`parseIssueArgs accepts: ${c.name}`, () => {
    assert.deepEqual(parseIssueArgs(c.argv), { kind: 'options', options: c.options });
  });
}

test('parseIssueArgs: --help wins when nothing else is wrong', () => {
  assert.deepEqual(parseIssueArgs(['--help']), { kind: 'help' });
  assert.deepEqual(parseIssueArgs([...base, '--help']), { kind: 'help' });
  assert.equal(parseIssueArgs(['--help', '--nope']).kind, 'errors');
});

const refused: { name: string; argv: string[]; errors: RegExp[] }[] = [
  { name: 'nothing given', argv: [], errors: [/^--service is required: .*e\.g\. --service vault-courier$/, /^--namespace is required/] },
  { name: 'unknown flag, with its value', argv: [...base, '--dayz', '30'], errors: [/^unknown flag --dayz; did you mean --days\?$/] },
  { name: 'single-dash flag', argv: [...base, '-out', 'x'], errors: [/^unknown flag -out; did you mean --out\?$/] },
  { name: 'a stray word', argv: [...base, 'extra'], errors: [/^unexpected argument "extra": every value follows its flag/] },
  { name: 'service with capitals', argv: ['--service', 'Vault', '--namespace', 'n'], errors: [/^--service "Vault" is not a DNS label: use lowercase letters, digits and "-", starting with a letter,/] },
  { name: 'service with an underscore', argv: ['--service', 'vault_courier', '--namespace', 'n'], errors: [/^--service "vault_courier" is not a DNS label/] },
  { name: 'service starting with a digit', argv: ['--service', '1vault', '--namespace', 'n'], errors: [/^--service "1vault" is not a DNS label/] },
  { name: 'service ending with "-"', argv: ['--service', 'vault-', '--namespace', 'n'], errors: [/^--service "vault-" is not a DNS label/] },
  { name: 'service of 64 characters', argv: ['--service', 'a'.repeat(64), '--namespace', 'n'], errors: [/^--service "a{64}" is not a DNS label.*at most 63 characters/] },
  { name: 'namespace with a dot', argv: ['--service', 's', '--namespace', 'a.b'], errors: [/^--namespace "a\.b" is not a DNS label: .*starting with a letter or digit/] },
  { name: 'days zero', argv: [...base, '--days', '0'], errors: [/^--days "0" is not a positive whole number of days: give e\.g\. --days 365$/] },
  { name: 'days negative', argv: [...base, '--days', '-5'], errors: [/^--days "-5" is not a positive whole number/] },
  { name: 'days fractional', argv: [...base, '--days', '1.5'], errors: [/^--days "1\.5" is not a positive whole number/] },
  { name: 'days a word', argv: [...base, '--days', 'year'], errors: [/^--days "year" is not a positive whole number/] },
  { name: 'days with a leading zero', argv: [...base, '--days', '030'], errors: [/^--days "030" is not a positive whole number/] },
  { name: 'CA not longer than the leaf', argv: [...base, '--days', '400', '--ca-days', '400'], errors: [/^--ca-days \(400\) must exceed --days \(400\)/] },
  { name: '--ca-days with --ca', argv: [...base, '--ca', 'certs/out', '--ca-days', '900'], errors: [/^--ca-days has no effect with --ca/] },
  { name: 'flag without its value', argv: ['--service', '--namespace', 'n'], errors: [/^--service needs a value, e\.g\. --service vault-courier$/] },
  { name: 'flag at the end without its value', argv: [...base, '--out'], errors: [/^--out needs a value/] },
  { name: 'flag given twice', argv: [...base, '--days', '3', '--days', '4'], errors: [/^--days is given twice; give it once$/] },
  { name: 'empty --out', argv: [...base, '--out='], errors: [/^--out must name a directory/] },
  { name: 'invalid Secret name', argv: [...base, '--secret-name', 'Web_TLS'], errors: [/^--secret-name "Web_TLS" is not a valid Secret name/] },
  { name: 'every problem at once', argv: ['--service', 'X', '--days', 'x', '--bogus'], errors: [/^unknown flag --bogus/, /^--service "X"/, /^--namespace is required/, /^--days "x"/] },
];

for (const c of refused) {
  test(`parseIssueArgs refuses: ${c.name}`, () => {
    const parsed = parseIssueArgs(c.argv);
    assert.equal(parsed.kind, 'errors');
    const errors = parsed.kind === 'errors' ? parsed.errors : [];
    assert.equal(errors.length, c.errors.length, `errors: ${JSON.stringify(errors)}`);
    c.errors.forEach((pattern, i) => assert.match(errors[i] ?? '', pattern));
  });
}

test('webhookDnsNames: the four names a client of the Service may use, the API server\'s first', () => {
  assert.deepEqual(webhookDnsNames('vault-courier', 'security'), ['vault-courier.security.svc', 'vault-courier.security.svc.cluster.local', 'vault-courier.security', 'vault-courier']);
});

test('subjectAltNames: IP entries, then DNS entries; a malformed IP is refused by name', () => {
  assert.deepEqual(subjectAltNames({ ipAddresses: ['127.0.0.1', '::1'], dnsNames: ['localhost'] }), [
    { type: 'ip', value: '127.0.0.1' },
    { type: 'ip', value: '::1' },
    { type: 'dns', value: 'localhost' },
  ]);
  assert.deepEqual(subjectAltNames({}), []);
  assert.throws(() => subjectAltNames({ ipAddresses: ['localhost'] }), /"localhost" is not an IP address/);
});

test('leafKeyUsages: keyEncipherment only for RSA keys', () => {
  const digitalSignature = 1;
  const keyEncipherment = 4;
  assert.equal(leafKeyUsages('ecdsa-p256'), digitalSignature);
  assert.equal(leafKeyUsages('rsa-2048'), digitalSignature | keyEncipherment);
});
