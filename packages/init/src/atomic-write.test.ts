import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isCourierError } from '@vault-courier/core';
import { stageFiles } from './atomic-write.ts';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'atomic-write-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const FILES = [
  { name: 'db', content: "USER='u'\n" },
  { name: 'api', content: 'k' },
  { name: 'cfg', content: '{}\n' },
];

async function deliver(files = FILES, mode = 0o440): Promise<void> {
  const staged = await stageFiles(dir, files, mode);
  try {
    await staged.commit();
  } finally {
    await staged.discard();
  }
}

test('every file lands with its content and mode, and no staging directory is left', async () => {
  const oldMask = process.umask(0o077);
  try {
    await deliver();
  } finally {
    process.umask(oldMask);
  }
  assert.deepEqual(readdirSync(dir).sort(), ['api', 'cfg', 'db']);
  for (const f of FILES) {
    assert.equal(readFileSync(path.join(dir, f.name), 'utf8'), f.content);
    assert.equal(statSync(path.join(dir, f.name)).mode & 0o777, 0o440, `${f.name} mode despite umask 077`);
  }
});

test('files from an earlier run are replaced', async () => {
  writeFileSync(path.join(dir, 'db'), 'old');
  await deliver();
  assert.equal(readFileSync(path.join(dir, 'db'), 'utf8'), FILES[0]?.content);
  assert.deepEqual(readdirSync(dir).sort(), ['api', 'cfg', 'db']);
});

test('a failure half-way through the renames leaves nothing new and restores what was there', async () => {
  writeFileSync(path.join(dir, 'db'), 'previous');
  // A directory where the third file must go: its rename fails after two succeeded.
  mkdirSync(path.join(dir, 'cfg'));
  await assert.rejects(deliver(), (err: unknown) => isCourierError(err, 'io') && err.message.includes('cfg') && err.message.includes('not a regular file'));
  assert.deepEqual(readdirSync(dir).sort(), ['cfg', 'db']);
  assert.equal(readFileSync(path.join(dir, 'db'), 'utf8'), 'previous');
});

test('a failure while staging leaves nothing behind', async () => {
  await assert.rejects(deliver([{ name: 'ok', content: 'x' }, { name: 'ok', content: 'duplicate name: EEXIST' }]), (err: unknown) => isCourierError(err, 'io') && err.message.includes('EEXIST'));
  assert.deepEqual(readdirSync(dir), []);
});

test('a name that is not a plain file name is refused before anything is written', async () => {
  for (const name of ['../escape', '.', '', '.vault-courier-staging-x']) {
    await assert.rejects(deliver([{ name, content: 'x' }]), (err: unknown) => isCourierError(err, 'io'));
  }
  assert.deepEqual(readdirSync(dir), []);
});

test('a missing volume is an io error naming the directory', async () => {
  const missing = path.join(dir, 'not-mounted');
  await assert.rejects(stageFiles(missing, FILES, 0o440), (err: unknown) => isCourierError(err, 'io') && err.message.includes(missing) && err.message.includes('ENOENT'));
});

test('staging directories left by a crashed run are removed', async () => {
  mkdirSync(path.join(dir, '.vault-courier-staging-crashed', 'new'), { recursive: true });
  await deliver();
  assert.deepEqual(readdirSync(dir).sort(), ['api', 'cfg', 'db']);
});

test('rollback after a commit removes the new files and restores the previous ones', async () => {
  writeFileSync(path.join(dir, 'api'), 'previous');
  const staged = await stageFiles(dir, FILES, 0o400);
  await staged.commit();
  assert.equal(statSync(path.join(dir, 'db')).mode & 0o777, 0o400);
  await staged.rollback();
  await staged.discard();
  assert.deepEqual(readdirSync(dir), ['api']);
  assert.equal(readFileSync(path.join(dir, 'api'), 'utf8'), 'previous');
});
