#!/usr/bin/env bash
# `npm run cluster`: set-up, then one real node with Vault, PostgreSQL and vault-courier,
# kept until Ctrl-C. Prints `export KUBECONFIG=…` and the other lines on standard output.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$here/setup.sh" >&2
exec bash "$here/node.sh" "$here/cluster.ts" "$@"
