/**
 * What the sidecar does at start with the lease manifest it read (or could not read).
 * Without the manifest the credentials' expiry is unknown: a pod left running might hold
 * credentials that expire in a second or that expired already, and nothing would rotate
 * it. So an unreadable manifest (missing, cut short, overwritten, of another version)
 * rotates the pod at once: POST /evict, or for a pod nothing would recreate, the expiry
 * warning, dated now. Neither needs the manifest: the eviction token is the projected
 * token file, the webhook's address is in the environment.
 * Pure: main.ts reads the file and passes what it got. Contract: docs/contract.md ("Node faults").
 */
import { parseManifest, type LeaseManifest } from '@vault-courier/core/contract/manifest';
import type { RotationMode } from './config.ts';

/** The file's text, or the error code of the read (ENOENT, EACCES, EISDIR...). */
export type ManifestRead = { readonly text: string } | { readonly errorCode: string };

export type StartDecision =
  | { readonly action: 'run'; readonly manifest: LeaseManifest }
  | {
      readonly action: 'rotate-now';
      /** What is wrong, naming the file; never the file's content. */
      readonly problem: string;
      readonly endpoint: '/evict' | '/expiry-warning';
    };

function readProblem(file: string, code: string): string {
  if (code === 'ENOENT') return `${file} is missing: the init container writes it before the sidecar starts (was the state volume emptied?)`;
  return `${file} cannot be read (${code})`;
}

export function decideStart(file: string, read: ManifestRead, mode: RotationMode): StartDecision {
  let problem: string;
  if ('errorCode' in read) problem = readProblem(file, read.errorCode);
  else {
    try {
      return { action: 'run', manifest: parseManifest(read.text) };
    } catch (err) {
      // parseManifest's messages name the field and never quote the text.
      problem = `${file}: ${(err as Error).message}`;
    }
  }
  return { action: 'rotate-now', problem, endpoint: mode.mode === 'evict' ? '/evict' : '/expiry-warning' };
}
