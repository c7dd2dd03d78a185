/**
 * The Dockerfiles cannot be built on this machine (no Docker engine), so they are linted
 * (dockerfile-utils, the Dockerfile language server's validator) and held to the image
 * policy: multi-stage, a numeric non-root user, and nothing but the bundle copied into the
 * runtime stage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validate } from 'dockerfile-utils';

const root = path.resolve(import.meta.dirname, '../..');
const BINARIES = ['webhook', 'init', 'sidecar'] as const;

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of the last stage: what the shipped image is made of. */
function runtimeStage(all: Instruction[]): Instruction[] {
  const lastFrom = all.map((i) => i.keyword).lastIndexOf('FROM');
  return all.slice(lastFrom);
}

for (const name of BINARIES) {
  const file = `Dockerfile.${name}`;
  const text = readFileSync(path.join(root, file), 'utf8');
  const all = instructions(text);

  test(`${file}: the linter finds nothing`, () => {
    const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    assert.deepEqual(problems, []);
  });

  test(`${file}: multi-stage, the runtime stage runs as a numeric non-root user`, () => {
    assert.ok(all.filter((i) => i.keyword === 'FROM').length >= 2, 'expected a build stage and a runtime stage');
    const users = runtimeStage(all).filter((i) => i.keyword === 'USER');
    const user = users.at(-1);
    assert.ok(user, 'the runtime stage sets no USER');
    const match = /^(\d+)(?::(\d+))?$/.exec(user.args);
    assert.ok(match, `USER ${user.args} must be numeric so runAsNonRoot can be verified`);
    assert.notEqual(Number(match[1]), 0, 'USER must not be root');
  });

  test(`${file}: the runtime stage copies only the ${name} bundle and runs it`, () => {
    const stage = runtimeStage(all);
    assert.equal(stage.filter((i) => i.keyword === 'ADD').length, 0, 'ADD fetches and unpacks: use COPY');
    const copies = stage.filter((i) => i.keyword === 'COPY');
    assert.equal(copies.length, 1, 'exactly one COPY into the runtime image');
    assert.match(copies[0]?.args ?? '', new RegExp(`--from=build .*/packages/${name}/dist/${name}\\.mjs /app/${name}\\.mjs$`));
    const entrypoint = stage.find((i) => i.keyword === 'ENTRYPOINT');
    assert.equal(entrypoint?.args, `["node", "/app/${name}.mjs"]`);
  });
}
