#!/usr/bin/env node
/**
 * The npm bin `vault-courier`: `render` (offline, render-cli.ts) and `status` (the
 * cluster the kubeconfig names, status/status-cli.ts).
 */
import { runStatus, STATUS_USAGE } from './status/status-cli.ts';

const args = process.argv.slice(2);
if (args[0] === 'status') {
  try {
    process.exitCode = await runStatus(process.argv.slice(2));
  } catch (err) {
    console.error(`vault-courier status: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  }
} else if (args.includes('render')) {
  // render-cli.ts parses its own flags, which may come before the word (`-f x.yaml render`).
  await import('./render-cli.ts');
} else {
  console.error(`usage: vault-courier render -f <manifest.yaml | -> [...]   (vault-courier render -h)\n       ${STATUS_USAGE.replace('usage: ', '')}`);
  process.exitCode = args.includes('-h') || args.includes('--help') ? 0 : 2;
}
