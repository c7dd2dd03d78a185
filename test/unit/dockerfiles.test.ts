/**
 * The image policy, held on the Dockerfiles' text so it fails in a second, before
 * scripts/build-images.sh spends minutes building them (docs/images.md): each is linted
 * (dockerfile-utils, the Dockerfile language server's validator), multi-stage, built on
 * node:<major>-bookworm-slim (the base scripts/images/node-base.sh can stand in for here;
 * no Alpine, which cannot be built here), a numeric non-root user, nothing but the bundle
 * (and the init image's startup snapshot) copied into the runtime stage, and `node` left on
 * PATH, because the webhook injects `command: [node, --snapshot-blob, /app/init.blob]`
 * and users run `command: [node, -e, ...]`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validate } from 'dockerfile-utils';
import { BINARIES, SNAPSHOTS } from '../../scripts/bundle.ts';
import { SIDECAR_NODE_FLAGS } from '@vault-courier/core/admission/containers';

const snapshots = (name: string): boolean => (SNAPSHOTS as readonly string[]).includes(name);

const root = path.resolve(import.meta.dirname, '../..');

/** Each image: the binary bundled, and its Dockerfile. */
const IMAGES = [
  { name: 'webhook', file: 'Dockerfile.webhook' },
  { name: 'init', file: 'Dockerfile.init' },
  { name: 'sidecar', file: 'Dockerfile.sidecar' },
  { name: 'demo-app', file: 'packages/demo-app/Dockerfile' },
] as const;

const nodeMajor = /^NODE_VERSION=(\d+)\./m.exec(readFileSync(path.join(root, 'scripts/real-parts/versions.env'), 'utf8'))?.[1];
const BASE = `node:${nodeMajor}-bookworm-slim`;

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

test('every image bundles a binary scripts/bundle.ts builds', () => {
  assert.deepEqual(IMAGES.map((i) => i.name).sort(), [...BINARIES].sort());
});

for (const { name, file } of IMAGES) {
  const text = readFileSync(path.join(root, file), 'utf8');
  const all = instructions(text);

  test(`${file}: the linter finds nothing`, () => {
    const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    assert.deepEqual(problems, []);
  });

  test(`${file}: every stage is ${BASE}, never Alpine`, () => {
    const alpine = all.filter((i) => /alpine|\bapk\b/i.test(i.args)).map((i) => `${i.keyword} ${i.args}`);
    assert.deepEqual(alpine, [], 'no Alpine image or package source can be reached here');
    const bases = all.filter((i) => i.keyword === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    assert.deepEqual([...new Set(bases)], [BASE]);
  });

  test(`${file}: multi-stage, the runtime stage runs as a numeric non-root user`, () => {
    assert.ok(all.filter((i) => i.keyword === 'FROM').length >= 2, 'expected a build stage and a runtime stage');
    const users = runtimeStage(all).filter((i) => i.keyword === 'USER');
    const user = users.at(-1);
    assert.ok(user, 'the runtime stage sets no USER');
    const match = /^(\d+)(?::(\d+))?$/.exec(user.args);
    assert.ok(match, `USER ${user.args} must be numeric so runAsNonRoot can be verified`);
    assert.notEqual(Number(match[1]), 0, 'USER must not be root');
    assert.notEqual(Number(match[2] ?? 1), 0, 'the group must not be root');
  });

  test(`${file}: the runtime stage copies only the ${name} bundle${snapshots(name) ? ' and its startup snapshot' : ''} and runs it`, () => {
    const stage = runtimeStage(all);
    assert.equal(stage.filter((i) => i.keyword === 'ADD').length, 0, 'ADD fetches and unpacks: use COPY');
    const copies = stage.filter((i) => i.keyword === 'COPY');
    assert.equal(copies.length, 1, 'exactly one COPY into the runtime image');
    const entrypoint = stage.find((i) => i.keyword === 'ENTRYPOINT');
    if (snapshots(name)) {
      assert.match(copies[0]?.args ?? '', new RegExp(`--from=build .*/packages/${name}/dist/${name}\\.blob /src/packages/${name}/dist/${name}\\.mjs /app/$`));
      assert.equal(entrypoint?.args, `["node", "--snapshot-blob", "/app/${name}.blob"]`);
    } else {
      assert.match(copies[0]?.args ?? '', new RegExp(`--from=build .*/packages/${name}/dist/${name}\\.mjs /app/${name}\\.mjs$`));
      const flags = name === 'sidecar' ? SIDECAR_NODE_FLAGS.map((f) => `"${f}", `).join('') : '';
      assert.equal(entrypoint?.args, `["node", ${flags}"/app/${name}.mjs"]`, 'the image runs what the webhook injects');
    }
  });

  test(`${file}: node stays on PATH in the runtime stage`, () => {
    const stage = runtimeStage(all);
    for (const run of stage.filter((i) => i.keyword === 'RUN')) {
      assert.doesNotMatch(run.args, /\/usr\/local\/bin\/node\b|\/usr\/local\/bin\/?(\s|$)|\/usr\/local\/?(\s|$)/, `RUN ${run.args} removes node`);
    }
    const paths = stage.filter((i) => i.keyword === 'ENV' && /^PATH[=\s]/.test(i.args));
    for (const env of paths) assert.match(env.args, /(^|[=:])\/usr\/local\/bin(:|$)/, `ENV ${env.args} drops /usr/local/bin, where node is`);
  });
}
