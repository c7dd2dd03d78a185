import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderSecret, shellQuote, type SecretData } from './render.ts';
import { isCourierError } from '../support/errors.ts';
import type { SecretFormat, SecretSpec } from './spec.ts';

const CANARY = 'canary-render-5b1e-never-in-errors';

function spec(format: SecretFormat, name = 'db'): SecretSpec {
  return { name, path: 'secret/data/app', format };
}

const RENDERED: ReadonlyArray<{ name: string; format: SecretFormat; data: SecretData; want: string }> = [
  { name: 'json: the data as an object', format: { kind: 'json' }, data: { user: 'u', port: 5432 }, want: '{\n  "user": "u",\n  "port": 5432\n}\n' },
  { name: 'json: empty data', format: { kind: 'json' }, data: {}, want: '{}\n' },
  { name: 'env: plain values', format: { kind: 'env' }, data: { USER: 'app', PORT: '5432' }, want: "USER='app'\nPORT='5432'\n" },
  { name: 'env: single quote escaped', format: { kind: 'env' }, data: { A: "it's" }, want: "A='it'\\''s'\n" },
  { name: 'env: newline kept literally', format: { kind: 'env' }, data: { A: 'a\nb' }, want: "A='a\nb'\n" },
  { name: 'env: non-strings as JSON', format: { kind: 'env' }, data: { N: 3, B: true, O: { x: 1 }, Z: null }, want: "N='3'\nB='true'\nO='{\"x\":1}'\nZ='null'\n" },
  { name: 'env: empty data', format: { kind: 'env' }, data: {}, want: '' },
  { name: 'key: raw string, no newline added', format: { kind: 'key', field: 'password' }, data: { username: 'u', password: 'p w\n' }, want: 'p w\n' },
  { name: 'key: number as JSON text', format: { kind: 'key', field: 'port' }, data: { port: 5432 }, want: '5432' },
  { name: 'key: object as JSON text', format: { kind: 'key', field: 'cfg' }, data: { cfg: { a: [1] } }, want: '{"a":[1]}' },
  { name: 'key: empty string is a value', format: { kind: 'key', field: 'e' }, data: { e: '' }, want: '' },
  // Templates: no HTML escaping, values byte for byte; the user percent-encodes in Vault if a URL needs it.
  { name: 'template: a connection URL', format: { kind: 'template', template: 'postgresql://{{username}}:{{password}}@db:5432/app' }, data: { username: 'v-app-1', password: 'A1a-xyz' }, want: 'postgresql://v-app-1:A1a-xyz@db:5432/app' },
  { name: 'template: nothing HTML-escaped, with two or three braces', format: { kind: 'template', template: '{{v}} {{{v}}}' }, data: { v: `<a href="x">&'/=` }, want: `<a href="x">&'/= <a href="x">&'/=` },
  { name: 'template: a URL-reserved character is not percent-encoded', format: { kind: 'template', template: 'https://u:{{p}}@h' }, data: { p: 'p@ss/word' }, want: 'https://u:p@ss/word@h' },
  { name: 'template: a properties file, dotted field names', format: { kind: 'template', template: 'db.user={{db.user}}\ndb.password={{db.password}}\n' }, data: { 'db.user': 'u', 'db.password': 'p' }, want: 'db.user=u\ndb.password=p\n' },
  { name: 'template: non-strings as JSON text, as key: writes them', format: { kind: 'template', template: '{{port}} {{tls}} {{cfg}} {{none}}' }, data: { port: 5432, tls: true, cfg: { a: 1 }, none: null }, want: '5432 true {"a":1} null' },
  { name: 'template: an empty value present is written empty', format: { kind: 'template', template: '[{{e}}]' }, data: { e: '' }, want: '[]' },
  { name: 'template: unused fields are ignored', format: { kind: 'template', template: '{{a}}' }, data: { a: '1', b: '2' }, want: '1' },
];

for (const row of RENDERED) {
  test(`renderSecret ${row.name}`, () => {
    assert.equal(renderSecret(spec(row.format), row.data), row.want);
  });
}

const REFUSED: ReadonlyArray<{ name: string; format: SecretFormat; data: SecretData; mentions: readonly string[] }> = [
  { name: 'env: key with a dash', format: { kind: 'env' }, data: { 'db-user': CANARY }, mentions: ['vault-courier.io/format-db', '"db-user"', 'secret/data/app', 'format json'] },
  { name: 'env: key starting with a digit', format: { kind: 'env' }, data: { '1A': CANARY }, mentions: ['"1A"'] },
  { name: 'env: empty key', format: { kind: 'env' }, data: { '': CANARY }, mentions: ['""'] },
  { name: 'env: key with a space', format: { kind: 'env' }, data: { OK: 'x', 'A B': CANARY }, mentions: ['"A B"'] },
  { name: 'env: NUL in a value', format: { kind: 'env' }, data: { A: `${CANARY}\0` }, mentions: ['NUL', 'key A', 'key:A'] },
  { name: 'key: missing field lists the fields present', format: { kind: 'key', field: 'pass' }, data: { username: CANARY, password: CANARY }, mentions: ['"pass"', '"username", "password"', 'vault-courier.io/format-db'] },
  { name: 'key: missing field in empty data', format: { kind: 'key', field: 'x' }, data: {}, mentions: ['fields present: none'] },
  { name: 'key: inherited property is not a field', format: { kind: 'key', field: 'toString' }, data: { a: CANARY }, mentions: ['"toString"'] },
  { name: 'template: a missing field, named', format: { kind: 'template', template: 'postgresql://{{username}}:{{pasword}}@db' }, data: { username: CANARY, password: CANARY }, mentions: ['vault-courier.io/template-db', 'field "pasword"', 'secret/data/app', 'fields present: "username", "password"'] },
  { name: 'template: every missing field at once', format: { kind: 'template', template: '{{a}}{{b}}{{a}}{{c}}' }, data: { c: CANARY }, mentions: ['fields "a", "b", not in'] },
  { name: 'template: an inherited property is not a field', format: { kind: 'template', template: '{{constructor}}' }, data: { a: CANARY }, mentions: ['"constructor"'] },
  { name: 'template: an invalid template from an old webhook', format: { kind: 'template', template: '{{#a}}' }, data: { a: CANARY }, mentions: ['vault-courier.io/template-db is not a valid template'] },
];

for (const row of REFUSED) {
  test(`renderSecret refuses ${row.name}, naming it and never a value`, () => {
    assert.throws(
      () => renderSecret(spec(row.format), row.data),
      (err: unknown) => {
        assert.ok(isCourierError(err, 'render'), 'a CourierError of kind render');
        for (const m of row.mentions) assert.ok(err.message.includes(m), `message ${JSON.stringify(err.message)} names ${m}`);
        assert.ok(!err.message.includes(CANARY), 'a secret value reached the error message');
        return true;
      },
    );
  });
}

test('shellQuote wraps in single quotes and escapes only the single quote', () => {
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote("'"), "''\\'''");
  assert.equal(shellQuote('$HOME `x` "y" \\n'), '\'$HOME `x` "y" \\n\'');
});

test('env format sourced by a real sh with set -a reproduces every value exactly', () => {
  const data: Record<string, string> = {
    SPACES: '  two  spaces  ',
    QUOTES: `single ' double " back \` dollar $HOME $(id) \\ backslash`,
    NEWLINES: 'line1\nline2\n\nline4\n',
    UNICODE: 'héllo wörld 🔑 日本語',
    EMPTY: '',
    GLOB: '* ? [a] ~ !x',
    TRAILING_BACKSLASH: 'end\\',
    ONLY_QUOTE: "'",
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'render-env-'));
  try {
    const file = path.join(dir, 'app.env');
    writeFileSync(file, renderSecret(spec({ kind: 'env' }), data));
    const names = Object.keys(data);
    // printf with NUL separators: the only byte a value cannot contain, so the split is exact.
    const script = `set -a; . "$1"; printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}; sh -c 'printf "%s" "$UNICODE"'`;
    const out = execFileSync('/bin/sh', ['-c', script, 'sh', file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).toString('utf8');
    const parts = out.split('\0');
    assert.deepEqual(Object.fromEntries(names.map((n, i) => [n, parts[i]])), data);
    assert.equal(parts[names.length], data.UNICODE, 'set -a exported the variables to a child process');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
