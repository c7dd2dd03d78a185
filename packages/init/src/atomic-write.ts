/**
 * All-or-nothing delivery of a set of files into a directory (the secrets volume, the state
 * volume). Files are written and fsynced in a staging directory inside the target directory
 * (same filesystem, so renames are atomic), then renamed into place one by one; a file
 * already there is moved aside first. If any step fails, every rename already done is
 * undone, the previous files are put back and the staging directory is removed: nothing new
 * is left behind.
 *
 * Ownership: nothing is chown'ed. The kubelet makes an emptyDir group-owned by the pod's
 * fsGroup with the setgid bit set, so every file created in it (staging included) gets that
 * group; mode 0440 then lets the application's containers read the files through the
 * fsGroup, and nobody write them. Without an fsGroup, only the init container's own user
 * can read them, which is what the pod asked for.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { CourierError } from '@vault-courier/core';

export interface FileToWrite {
  /** A bare file name: no `/`, not `.` or `..`. */
  readonly name: string;
  readonly content: string;
}

export interface StagedFiles {
  /** Moves every staged file into place, or none of them. */
  commit(): Promise<void>;
  /** Undoes a successful commit: new files removed, previous ones restored. */
  rollback(): Promise<void>;
  /** Removes the staging directory (with the previous files, once committed). */
  discard(): Promise<void>;
}

const STAGING_PREFIX = '.vault-courier-staging-';

function ioError(what: string, err: unknown): CourierError {
  const code = (err as { code?: unknown }).code;
  return new CourierError('io', `${what} (${typeof code === 'string' ? code : String(err)})`, { cause: err });
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeDurably(file: string, content: string, mode: number): Promise<void> {
  const handle = await open(file, 'wx', mode);
  try {
    await handle.writeFile(content, 'utf8');
    // open()'s mode is filtered by the umask; chmod is not.
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A crashed earlier run (OOM-kill, node restart) may have left a staging directory. */
async function removeStaleStaging(dir: string): Promise<void> {
  const entries = await readdir(dir);
  await Promise.all(entries.filter((e) => e.startsWith(STAGING_PREFIX)).map((e) => rm(path.join(dir, e), { recursive: true, force: true })));
}

async function existingRegularFile(file: string): Promise<boolean> {
  try {
    const stat = await lstat(file);
    if (!stat.isFile()) throw new CourierError('io', `${file} exists and is not a regular file; refusing to replace it`);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return false;
    throw err;
  }
}

function checkNames(dir: string, files: readonly FileToWrite[]): void {
  for (const f of files) {
    if (f.name === '' || f.name === '.' || f.name === '..' || f.name.includes('/') || f.name.startsWith(STAGING_PREFIX)) {
      throw new CourierError('io', `cannot write ${JSON.stringify(f.name)} into ${dir}: not a plain file name`);
    }
  }
}

/** Writes every file into a fresh staging directory inside `dir`, each with `mode`, fsynced. */
export async function stageFiles(dir: string, files: readonly FileToWrite[], mode: number): Promise<StagedFiles> {
  checkNames(dir, files);
  let staging: string;
  try {
    await removeStaleStaging(dir);
    staging = await mkdtemp(path.join(dir, STAGING_PREFIX));
    await mkdir(path.join(staging, 'new'));
    await mkdir(path.join(staging, 'old'));
  } catch (err) {
    throw ioError(`cannot create a staging directory in ${dir}; is the volume mounted and writable?`, err);
  }
  const discard = (): Promise<void> => rm(staging, { recursive: true, force: true });
  try {
    await Promise.all(files.map((f) => writeDurably(path.join(staging, 'new', f.name), f.content, mode)));
    await fsyncDir(path.join(staging, 'new'));
  } catch (err) {
    await discard();
    throw ioError(`cannot write into ${dir}`, err);
  }
  return new Staged(dir, staging, files.map((f) => f.name), discard);
}

class Staged implements StagedFiles {
  readonly #dir: string;
  readonly #staging: string;
  readonly #names: readonly string[];
  readonly #discard: () => Promise<void>;
  /** Names moved into place, and whether a previous file was moved aside for each. */
  #done: Array<{ name: string; hadPrevious: boolean }> = [];

  constructor(dir: string, staging: string, names: readonly string[], discard: () => Promise<void>) {
    this.#dir = dir;
    this.#staging = staging;
    this.#names = names;
    this.#discard = discard;
  }

  async commit(): Promise<void> {
    try {
      for (const name of this.#names) {
        const target = path.join(this.#dir, name);
        const hadPrevious = await existingRegularFile(target);
        if (hadPrevious) await rename(target, path.join(this.#staging, 'old', name));
        this.#done.push({ name, hadPrevious });
        await rename(path.join(this.#staging, 'new', name), target);
      }
      await fsyncDir(this.#dir);
    } catch (err) {
      await this.rollback();
      throw err instanceof CourierError ? err : ioError(`cannot move the staged files into ${this.#dir}; nothing was changed`, err);
    }
  }

  async rollback(): Promise<void> {
    for (const { name, hadPrevious } of this.#done.reverse()) {
      const target = path.join(this.#dir, name);
      await unlink(target).catch(() => undefined);
      if (hadPrevious) await rename(path.join(this.#staging, 'old', name), target);
    }
    this.#done = [];
    await fsyncDir(this.#dir);
  }

  discard(): Promise<void> {
    return this.#discard();
  }
}
