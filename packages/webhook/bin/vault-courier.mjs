#!/usr/bin/env node
// `vault-courier render` and `status`: launches the self-contained bundle, which `npm run build`
// (part of scripts/setup.sh) writes; npm links a bin only if its file exists at install.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/vault-courier.mjs', import.meta.url);
if (!existsSync(bundle)) {
  console.error('vault-courier: the CLI is not built yet; run: npm run build');
  process.exit(1);
}
await import(bundle.href);
