#!/usr/bin/env bash
# The local demo, from a fresh machine: set-up, then the real control plane, Vault,
# PostgreSQL, the webhook and the process runner, with the demo Deployment rotating.
# Usage: npm run demo            (runs until Ctrl-C)
#        npm run demo -- --once  (exits 0 after one full rotation of every replica)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$here/setup.sh" >&2
exec bash "$here/node.sh" "$here/demo.ts" "$@"
