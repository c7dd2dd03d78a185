/**
 * The Vault tokens on the state volume, read and recorded (thin I/O; the decisions are in
 * earlier-tokens.ts). The undelivered list is init's alone: the sidecar reads only the
 * delivered token and the lease manifest, whose names core defines.
 */
import { constants } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { CourierError, VAULT_TOKEN_FILE } from '@vault-courier/core';
import { stageFiles } from './atomic-write.ts';
import { parseTokenList, serializeTokenList, type EarlierTokens } from './earlier-tokens.ts';

/** Tokens logged in with and not (yet) delivered with, one a line; see earlier-tokens.ts. */
export const UNDELIVERED_TOKENS_FILE = 'undelivered-vault-tokens';

export const STATE_FILE_MODE = 0o400;

/** A file that cannot be read holds no token this run could use: the first run finds none. */
async function readIfPresent(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '');
}

export async function readEarlierTokens(stateDir: string): Promise<EarlierTokens> {
  const [delivered, undelivered] = await Promise.all([readIfPresent(path.join(stateDir, VAULT_TOKEN_FILE)), readIfPresent(path.join(stateDir, UNDELIVERED_TOKENS_FILE))]);
  return { delivered: delivered.trim() || undefined, undelivered: parseTokenList(undelivered) };
}

/** Replaces the undelivered list atomically: a kill mid-write leaves the previous list whole. */
export async function recordUndelivered(stateDir: string, tokens: readonly string[]): Promise<void> {
  const staged = await stageFiles(stateDir, [{ name: UNDELIVERED_TOKENS_FILE, content: serializeTokenList(tokens) }], STATE_FILE_MODE);
  try {
    await staged.commit();
  } finally {
    await staged.discard();
  }
}

/** Once every listed token is delivered with or revoked. Absent already is fine. */
export async function clearUndelivered(stateDir: string): Promise<void> {
  try {
    await unlink(path.join(stateDir, UNDELIVERED_TOKENS_FILE));
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return;
    throw new CourierError('io', `cannot remove ${UNDELIVERED_TOKENS_FILE} from ${stateDir} (${String((err as { code?: unknown }).code ?? err)})`, { cause: err });
  }
  const dir = await open(stateDir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
